package lab

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
)

// consoleLog is the serial console log of a node's VM.
func (r *run) consoleLog(node string) string { return r.opts.Paths.ConsoleLog(r.lab.Name, node) }

// stageImage copies the image into the pool of a remote hypervisor, once
// per version: the disk the overlays are backed by and the kernel and
// initrd the domains boot must be files of that host.
func stageImage(r *run) error {
	if r.remote == nil {
		return nil
	}
	var err error
	if r.capacity, err = imageCapacity(r.img); err != nil {
		return err
	}
	staged, uploaded, err := host.StageImage(r.conn, r.remote, paths.DefaultPool, r.img, r.opts.Volumes, r.sink)
	if err != nil {
		return err
	}
	if uploaded == 0 {
		r.reused = append(r.reused, "image volumes "+image.VolumeBase(r.img.Name, staged.Version)+".*")
	}
	r.img = staged.Image
	return nil
}

// imageCapacity is the size the guest sees of the image disk: from the
// manifest of a built image, else the qcow2 header or the raw file's size.
func imageCapacity(img image.Image) (uint64, error) {
	if img.Manifest != nil && img.Manifest.VirtualBytes > 0 {
		return uint64(img.Manifest.VirtualBytes), nil
	}
	f, err := os.Open(img.Disk)
	if err != nil {
		return 0, fmt.Errorf("image disk: %w", err)
	}
	defer f.Close()
	if img.Format == "qcow2" {
		hdr := make([]byte, 32)
		if _, err := f.ReadAt(hdr, 0); err != nil {
			return 0, fmt.Errorf("read qcow2 header of %s: %w", img.Disk, err)
		}
		if string(hdr[:4]) != "QFI\xfb" {
			return 0, fmt.Errorf("%s is not a qcow2 file", img.Disk)
		}
		return binary.BigEndian.Uint64(hdr[24:32]), nil
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return uint64(st.Size()), nil
}
