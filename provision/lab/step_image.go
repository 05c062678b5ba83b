package lab

import (
	"fmt"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/progress"
)

// resolveImage finds the lab's image and picks the domain type.
func resolveImage(r *run) error {
	img, err := r.opts.Images.Resolve(r.opts.Paths.Images, r.lab.Image)
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
	r.sink.Emit(progress.ImageChosen{Name: img.Name, Disk: img.Disk, DirectBoot: img.DirectBoot(), Seeding: img.Seeding(), KVM: r.domType == host.DomainKVM})
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
