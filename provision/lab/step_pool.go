package lab

import (
	"fmt"

	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/console"
	"github.com/lvslab/lvslab/provision/host"
)

// ensurePool makes the shared storage pool if it is missing and starts it.
type ensurePool struct{}

func (ensurePool) name() string { return "pool" }

func (ensurePool) doc() string {
	return `the storage pool "lvslab" of every lab's disks, made once`
}

func (ensurePool) run(r *run) error {
	pool, err := r.conn.LookupStoragePoolByName(r.opts.Pool)
	if err == nil {
		defer pool.Free()
		active, err := pool.IsActive()
		if err != nil {
			return err
		}
		if !active {
			if err := console.Libvirt("start storage pool "+r.opts.Pool, func() error { return pool.Create(0) }); err != nil {
				return fmt.Errorf("start storage pool %s: %w", r.opts.Pool, err)
			}
		}
		r.reused = append(r.reused, "pool "+r.opts.Pool)
		return nil
	}
	if !host.IsNotFound(err) {
		return fmt.Errorf("storage pool %s: %w", r.opts.Pool, err)
	}
	x, err := host.PoolXML(r.opts.Pool, r.opts.PoolDir)
	if err != nil {
		return err
	}
	pool, err = console.Call("define storage pool "+r.opts.Pool, func() (*libvirt.StoragePool, error) { return r.conn.StoragePoolDefineXML(x, 0) })
	if err != nil {
		if again, lerr := r.conn.LookupStoragePoolByName(r.opts.Pool); lerr == nil {
			again.Free() // another "up" made it meanwhile: share it
			return ensurePool{}.run(r)
		}
		return fmt.Errorf("define storage pool %s (%s): %w", r.opts.Pool, r.opts.PoolDir, err)
	}
	defer pool.Free()
	name := r.opts.Pool
	r.made("pool "+name, func() error { return host.RemovePool(r.conn, name) })
	if err := console.Libvirt("build storage pool "+name, func() error { return pool.Build(0) }); err != nil {
		return fmt.Errorf("make the folder %s of storage pool %s: %w", r.opts.PoolDir, name, err)
	}
	if err := console.Libvirt("start storage pool "+name, func() error { return pool.Create(0) }); err != nil {
		return fmt.Errorf("start storage pool %s: %w", name, err)
	}
	if err := console.Libvirt("storage pool "+name+": autostart on", func() error { return pool.SetAutostart(true) }); err != nil {
		return fmt.Errorf("storage pool %s: autostart: %w", name, err)
	}
	return nil
}
