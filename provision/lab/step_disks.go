package lab

import (
	"fmt"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
)

// ensureVolumes makes each new node's disk, a qcow2 overlay on the image.
func ensureVolumes(r *run) error {
	var capacity uint64
	return r.eachNewNode(func(n *nodeRun) error {
		var err error
		if capacity == 0 {
			capacity = r.capacity
		}
		if capacity == 0 {
			if capacity, err = imageCapacity(r.img); err != nil {
				return err
			}
		}
		name := paths.OverlayVolume(r.lab.Name, n.node.Name)
		x, err := host.OverlayXML(name, r.img, capacity)
		if err != nil {
			return err
		}
		n.overlay, err = r.newVolume(name, x, fmt.Sprintf("disk %s (linked clone of %s)", name, r.img.Disk))
		return err
	})
}

// eachNewNode runs f on every node this run creates, once the lab's
// storage pool is found.
func (r *run) eachNewNode(f func(*nodeRun) error) error {
	if err := host.CheckPool(r.conn, paths.DefaultPool); err != nil {
		return err
	}
	for _, n := range r.nodes {
		if n.exists {
			continue
		}
		if err := f(n); err != nil {
			return err
		}
	}
	return nil
}

// newVolume creates volume name from its XML in the lab's pool, in place
// of a stale one, and records it for the undo of a failed run; what names
// it in errors. It returns the volume's path.
func (r *run) newVolume(name, xml, what string) (string, error) {
	return host.NewVolume(r.conn, paths.DefaultPool, name, xml, what, func() {
		r.made("volume "+name, func() error { return host.DeleteVolume(r.conn, paths.DefaultPool, name) })
	})
}
