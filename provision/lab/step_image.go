package lab

import (
	"fmt"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
)

// resolveImage finds the lab's image and picks the domain type.
func resolveImage(r *run) error {
	img, err := r.opts.Images.Resolve(r.opts.ImageDir, r.lab.Image)
	if err != nil {
		return err
	}
	if err := checkConsoleLogin(r, img); err != nil {
		return err
	}
	r.img = img
	if r.domType, err = host.DomainTypeFor(r.conn, r.opts.Accel); err != nil {
		return err
	}
	boot := "its own bootloader"
	if img.DirectBoot() {
		boot = "direct kernel boot"
	}
	accel := "TCG emulation"
	if r.domType == host.DomainKVM {
		accel = "KVM"
	}
	fmt.Fprintf(r.out, "  image %s (%s), %s, seeded by %s, %s\n", img.Name, img.Disk, boot, img.Seeding(), accel)
	return nil
}

// checkConsoleLogin: an image that reads no seed is set up over its serial
// console, logged in as root with the lab file's password.
func checkConsoleLogin(r *run, img image.Image) error {
	if img.Seeding() != image.SeedConsole {
		return nil
	}
	why := fmt.Sprintf("image %s has neither cloud-init nor lvslab's agent: lvslab sets its VMs up over their serial console, logged in", img.Name)
	switch {
	case r.lab.Login.Password == "":
		return r.lab.Problem("login.password", "%s as root with this password, which the lab file lacks (login: {user: root, password: ...})", why)
	case r.lab.Login.User != "root":
		return r.lab.Problem("login.user", "%s as root: the set-up writes /etc (login: {user: root, password: ...})", why)
	}
	return nil
}
