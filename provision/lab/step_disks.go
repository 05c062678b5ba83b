package lab

import (
	"fmt"

	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/console"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
)

// ensureVolumes makes each new node's disk, a qcow2 overlay on the image.
type ensureVolumes struct{}

func (ensureVolumes) name() string { return "disks" }

func (ensureVolumes) doc() string {
	return `per new node a qcow2 linked clone of the image (instant, small)`
}

func (ensureVolumes) run(r *run) error {
	var capacity uint64
	return r.eachNewNode(func(pool *libvirt.StoragePool, n *nodeRun) error {
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
		vol, err := r.newVolume(pool, name, x, fmt.Sprintf("disk %s (linked clone of %s)", name, r.img.Disk))
		if err != nil {
			return err
		}
		n.overlay, err = vol.GetPath()
		vol.Free()
		return err
	})
}

// eachNewNode runs f on every node this run creates, with the lab's storage
// pool.
func (r *run) eachNewNode(f func(*libvirt.StoragePool, *nodeRun) error) error {
	pool, err := r.conn.LookupStoragePoolByName(r.opts.Pool)
	if err != nil {
		return fmt.Errorf("storage pool %s: %w", r.opts.Pool, err)
	}
	defer pool.Free()
	for _, n := range r.nodes {
		if n.exists {
			continue
		}
		if err := f(pool, n); err != nil {
			return err
		}
	}
	return nil
}

// newVolume creates volume name from its XML in pool, in place of a stale
// one, and records it for the undo of a failed run; what names it in errors.
func (r *run) newVolume(pool *libvirt.StoragePool, name, xml, what string) (*libvirt.StorageVol, error) {
	if err := dropStaleVolume(pool, name); err != nil {
		return nil, err
	}
	vol, err := console.Call("create volume "+name, func() (*libvirt.StorageVol, error) { return pool.StorageVolCreateXML(xml, 0) })
	if err != nil {
		return nil, fmt.Errorf("create %s in pool %s: %w", what, r.opts.Pool, err)
	}
	r.made("volume "+name, func() error { return host.DeleteVolume(r.conn, r.opts.Pool, name) })
	return vol, nil
}

// dropStaleVolume deletes a volume left by a run that crashed before it
// defined the node's domain: no domain uses it.
func dropStaleVolume(pool *libvirt.StoragePool, name string) error {
	if err := host.DeletePoolVolume(pool, name); err != nil {
		return fmt.Errorf("stale volume: %w", err)
	}
	return nil
}
