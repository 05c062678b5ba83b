package image

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/roles/catalog"
)

// Boot methods: how a VM of an image starts.
const (
	// BootDirect is lvslab's direct kernel boot: libvirt loads the kernel
	// and initrd kept beside the disk.
	BootDirect = "direct"
	// BootBIOS is the disk's own bootloader (GRUB in the MBR) from the
	// VM's BIOS.
	BootBIOS = "bios"
	// BootUEFI is the disk's own bootloader from an EFI system partition:
	// the VM needs UEFI firmware (OVMF) on the host.
	BootUEFI = "uefi"
)

// Seeding methods: how a new VM of an image gets its first-boot settings
// (login key, pinned host key, management address).
const (
	// SeedAgent: lvslab's own first-boot agent reads the "cidata" volume.
	SeedAgent = "lvslab"
	// SeedCloudInit: cloud-init reads the "cidata" volume (NoCloud).
	SeedCloudInit = "cloud-init"
	// SeedConsole: nothing in the image reads it: lvslab logs in on the
	// serial console with the lab file's login and sets access up.
	SeedConsole = "console"
)

// Detected is what lvslab read from an image's disk without booting it.
type Detected struct {
	Table  string `json:"partition_table"`          // none, mbr, gpt
	Root   string `json:"root_partition,omitempty"` // vda, vda1, ...
	RootFS string `json:"root_fs,omitempty"`        // ext4, xfs, ...
	// Readable: the root filesystem was read (ext2/3/4); else the fields
	// below it are unknown, and cloud-init is taken for granted.
	Readable   bool   `json:"readable"`
	OSID       string `json:"os_id,omitempty"`
	OSFamily   string `json:"os_family,omitempty"` // debian, rhel
	OSVersion  string `json:"os_version,omitempty"`
	OSName     string `json:"os_name,omitempty"`
	CloudInit  bool   `json:"cloud_init"`
	Agent      bool   `json:"lvslab_agent,omitempty"`
	Boot       string `json:"boot"`
	Bootloader string `json:"bootloader,omitempty"`
	Network    string `json:"network,omitempty"`
	// Kernel and Initrd are paths in the guest, for direct kernel boot of
	// a disk with no bootloader.
	Kernel string `json:"kernel,omitempty"`
	Initrd string `json:"initrd,omitempty"`
	// Notes say what could not be read, and why.
	Notes []string `json:"notes"`
}

// Seeding is how a new VM of the image gets its first-boot settings.
func (d Detected) Seeding() string {
	switch {
	case d.Agent:
		return SeedAgent
	case d.CloudInit || !d.Readable:
		return SeedCloudInit
	}
	return SeedConsole
}

// OS is the OS's name for messages: "Debian GNU/Linux 12 (bookworm)",
// else its id and version, else "unknown".
func (d Detected) OS() string {
	switch {
	case d.OSName != "":
		return d.OSName
	case d.OSID != "":
		return strings.TrimSpace(d.OSID + " " + d.OSVersion)
	}
	return "unknown"
}

// Detect reads a raw disk: its partition table, then the root filesystem
// (the first ext2/3/4 with an os-release) with debugfs: the OS, whether
// cloud-init or lvslab's agent is installed, the bootloader and what
// manages the network.
func Detect(ctx context.Context, raw string) (Detected, error) {
	f, err := os.Open(raw)
	if err != nil {
		return Detected{}, err
	}
	defer f.Close()
	t, err := ReadPartitionTable(f)
	if err != nil {
		return Detected{}, err
	}
	d := Detected{Table: t.Kind}
	candidates := t.Partitions
	if t.Kind == TableNone {
		candidates = []Partition{{Index: 0}}
	}
	var x *extFS
	for _, p := range candidates {
		fs := fsType(f, p.Start)
		switch {
		case strings.HasPrefix(fs, "ext"):
			fx := openExtFS(ctx, raw, p.Start)
			if !fx.Exists("/etc/os-release") && !fx.Exists("/usr/lib/os-release") {
				continue
			}
			x, d.Root, d.RootFS = fx, partName(p), fs
		case fs == "xfs" || fs == "btrfs" || fs == "LVM2" || p.Type == mbrLVM || p.Type == gptLVM:
			if fs == "" {
				fs = "LVM2"
			}
			d.Notes = append(d.Notes, fmt.Sprintf("%s holds %s, which lvslab does not read (ext2/3/4 only)", partName(p), fs))
			if d.RootFS == "" {
				d.Root, d.RootFS = partName(p), fs
			}
		}
		if x != nil {
			break
		}
	}
	if x != nil {
		d.Readable = true
		d.readRoot(x)
	} else {
		d.Notes = append(d.Notes, "no readable root filesystem: OS, cloud-init and network owner unknown (cloud-init is assumed)")
	}
	d.Boot, d.Bootloader = bootMethod(t, x, d.Kernel != "")
	return d, nil
}

func partName(p Partition) string {
	if p.Index == 0 {
		return "vda"
	}
	return fmt.Sprintf("vda%d", p.Index)
}

// readRoot fills what the root filesystem tells.
func (d *Detected) readRoot(x *extFS) {
	rel, err := x.ReadFile("/etc/os-release")
	if err != nil {
		rel, err = x.ReadFile("/usr/lib/os-release")
	}
	if err == nil {
		v := osReleaseValues(string(rel))
		d.OSID, d.OSVersion, d.OSName = v["ID"], v["VERSION_ID"], v["PRETTY_NAME"]
		if fam, err := catalog.OSFamily(string(rel)); err == nil {
			d.OSFamily = fam
		} else {
			d.Notes = append(d.Notes, err.Error())
		}
	}
	d.CloudInit = x.Exists("/usr/bin/cloud-init") && !x.Exists("/etc/cloud/cloud-init.disabled")
	d.Agent = x.Exists("/usr/local/sbin/lvslab-seed")
	d.Network = fsNetworkOwner(x)
	d.Kernel, d.Initrd = findKernel(x)
}

// osReleaseValues reads KEY=value lines, unquoted.
func osReleaseValues(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && !strings.HasPrefix(k, "#") {
			out[k] = strings.Trim(v, `"'`)
		}
	}
	return out
}

// wantsDirs are where "systemctl enable" links units.
var wantsDirs = []string{"multi-user.target.wants", "network-online.target.wants", "sysinit.target.wants", "network.target.wants"}

// fsNetworkOwner tells what will manage the network, from the units enabled
// and the configuration present (see catalog.OwnerProbe for a running guest).
func fsNetworkOwner(x *extFS) string {
	enabled := func(unit string) bool {
		for _, w := range wantsDirs {
			if x.Exists(path.Join("/etc/systemd/system", w, unit)) {
				return true
			}
		}
		return false
	}
	netplan, _ := x.ReadDir("/etc/netplan")
	netplan = slices.DeleteFunc(netplan, func(n string) bool { return !strings.HasSuffix(n, ".yaml") })
	switch {
	case enabled("NetworkManager.service"):
		return catalog.OwnerNetworkManager
	case len(netplan) > 0:
		return catalog.OwnerNetplan
	case enabled("systemd-networkd.service"):
		return catalog.OwnerNetworkd
	case x.Exists("/sbin/ifup") && x.Exists("/etc/network/interfaces"):
		return catalog.OwnerIfupdown
	}
	return catalog.OwnerNone
}

// findKernel finds the newest kernel in /boot and its initrd (Debian's
// initrd.img-V, RHEL's initramfs-V.img), as paths in the guest.
func findKernel(x *extFS) (kernel, initrd string) {
	names, err := x.ReadDir("/boot")
	if err != nil {
		return "", ""
	}
	slices.SortFunc(names, naturalCompare)
	for i := len(names) - 1; i >= 0; i-- {
		v, ok := strings.CutPrefix(names[i], "vmlinuz-")
		if !ok || strings.Contains(v, "rescue") {
			continue
		}
		for _, ird := range []string{"initrd.img-" + v, "initramfs-" + v + ".img", "initrd-" + v} {
			if slices.Contains(names, ird) {
				return "/boot/" + names[i], "/boot/" + ird
			}
		}
	}
	return "", ""
}

// bootMethod tells how a VM starts from the disk: GRUB in the MBR (BIOS),
// else an EFI system partition (UEFI), else a kernel in /boot that lvslab
// boots directly; "" when none.
func bootMethod(t PartitionTable, x *extFS, kernel bool) (method, loader string) {
	if x != nil {
		switch {
		case x.Exists("/boot/grub2/grub.cfg") || x.Exists("/boot/grub2/grubenv"):
			loader = "grub2"
		case x.Exists("/boot/grub/grub.cfg"):
			loader = "grub"
		case x.Exists("/boot/loader/entries") || x.Exists("/efi/loader"):
			loader = "systemd-boot"
		}
	}
	switch {
	case t.GRUB || (t.BootCode && t.Kind != TableNone):
		if loader == "" {
			loader = "grub"
		}
		return BootBIOS, loader
	case len(t.Find(gptESP)) > 0 || len(t.Find(mbrEFI)) > 0:
		if loader == "" {
			loader = "EFI"
		}
		return BootUEFI, loader
	case kernel:
		return BootDirect, ""
	}
	return "", loader
}

// naturalCompare orders names with their numbers as numbers:
// vmlinuz-5.14.0-70 before vmlinuz-5.14.0-427.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
