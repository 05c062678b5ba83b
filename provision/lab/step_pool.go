package lab

import (
	"github.com/lvslab/lvslab/provision/host"
)

// ensurePool makes the shared storage pool if it is missing and starts it.
type ensurePool struct{}

func (ensurePool) name() string { return "pool" }

func (ensurePool) doc() string {
	return `the storage pool "lvslab" of every lab's disks, made once`
}

func (ensurePool) run(r *run) error {
	name := r.opts.Pool
	made, err := host.EnsurePool(r.conn, name, r.opts.PoolDir)
	if made {
		r.made("pool "+name, func() error { return host.RemovePool(r.conn, name) })
	} else if err == nil {
		r.reused = append(r.reused, "pool "+name)
	}
	return err
}
