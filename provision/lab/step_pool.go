package lab

import (
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
)

// ensurePool makes the shared storage pool if it is missing and starts it.
func ensurePool(r *run) error {
	name := paths.DefaultPool
	made, err := host.EnsurePool(r.conn, name, r.opts.Paths.Pool)
	if made {
		r.made("pool "+name, func() error { return host.RemovePool(r.conn, name) })
	} else if err == nil {
		r.reused = append(r.reused, "pool "+name)
	}
	return err
}
