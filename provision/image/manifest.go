package image

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// File names inside an image folder.
const (
	DiskFile     = "disk.qcow2"
	KernelFile   = "vmlinuz"
	InitrdFile   = "initrd.img"
	ManifestFile = "image.json"
	LogFile      = "build.log"
)

// Cmdline is the kernel command line for direct kernel boot of the image.
// quiet: printing boot messages on the emulated serial port is slow under
// TCG. fsck.mode=skip: the clone of a fresh image needs no check.
const Cmdline = "root=/dev/vda rw rootfstype=ext4 net.ifnames=0 biosdevname=0 console=ttyS0,115200 " +
	"quiet loglevel=3 no_timer_check fsck.mode=skip mitigations=off audit=0 systemd.show_status=auto"

// Manifest describes a built image; it is image.json in the image folder.
type Manifest struct {
	Name          string    `json:"name"`
	Suite         string    `json:"suite"`
	Created       time.Time `json:"created"`
	KernelVersion string    `json:"kernel_version"`
	Cmdline       string    `json:"cmdline"`
	Packages      []string  `json:"packages"`
	DiskBytes     int64     `json:"disk_bytes"`    // size of disk.qcow2 on the host
	VirtualBytes  int64     `json:"virtual_bytes"` // size the guest sees
	KernelBytes   int64     `json:"kernel_bytes"`
	InitrdBytes   int64     `json:"initrd_bytes"`
	BuildSeconds  float64   `json:"build_seconds"`
	RootPassword  bool      `json:"root_password"` // a root password is set
	Compressed    bool      `json:"compressed"`    // disk.qcow2 is compressed
	// Recipe is the RecipeRevision the image was built by.
	Recipe int `json:"recipe,omitempty"`
	// Flavor is the recipe of a built image: "" for lvslab's own, else
	// FlavorCloud or FlavorBase.
	Flavor string `json:"flavor,omitempty"`
	// Source is the file an imported image came from ("lvslab image import").
	Source string `json:"source,omitempty"`
	// Detected is what lvslab read from the disk of an imported image or a
	// built cloud or base image.
	Detected *Detected `json:"detected,omitempty"`
}

// RecipeRevision counts the changes of the recipe that an image built
// before them lacks, beyond packages (which Build compares by name): an
// image of an older revision is rebuilt. 2: sshd without PAM or re-exec,
// root's password "*". 3: no ATA, SCSI or cdrom driver. 4: the udev rule
// that starts the QEMU guest agent. 5: keepalived disabled.
const RecipeRevision = 5

func writeManifest(dir string, m Manifest) error {
	m.emptyLists()
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ManifestFile), append(data, '\n'), 0o644)
}

func readManifest(dir string) (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("%s is damaged (%v): remove the image and build it again", filepath.Join(dir, ManifestFile), err)
	}
	m.emptyLists()
	return m, nil
}

// emptyLists makes m's missing lists empty ones: JSON shows a list as []
// when it has nothing (an imported image's packages), never as null.
func (m *Manifest) emptyLists() {
	if m.Packages == nil {
		m.Packages = []string{}
	}
	if m.Detected != nil && m.Detected.Notes == nil {
		d := *m.Detected
		d.Notes = []string{}
		m.Detected = &d
	}
}
