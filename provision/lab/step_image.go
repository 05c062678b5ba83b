package lab

import (
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/progress"
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
	r.sink.Emit(progress.ImageChosen{Name: img.Name, Disk: img.Disk, DirectBoot: img.DirectBoot(), KVM: r.domType == host.DomainKVM})
	return nil
}
