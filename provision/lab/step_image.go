package lab

import (
	"fmt"

	"github.com/lvslab/lvslab/provision/host"
)

// resolveImage finds the lab's image and picks the domain type.
func resolveImage(r *run) error {
	img, err := r.opts.Images.Resolve(r.opts.Paths.Images, r.lab.Image)
	if err != nil {
		return err
	}
	r.img = img
	if r.domType, err = host.DomainTypeFor(r.conn, r.opts.Accel); err != nil {
		return err
	}
	boot := "its own bootloader (cloud-init reads the seed)"
	if img.DirectBoot() {
		boot = "direct kernel boot"
	}
	accel := "TCG emulation"
	if r.domType == host.DomainKVM {
		accel = "KVM"
	}
	fmt.Fprintf(r.out, "  image %s (%s), %s, %s\n", img.Name, img.Disk, boot, accel)
	return nil
}
