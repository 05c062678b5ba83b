package host

import (
	"errors"
	"fmt"

	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/progress"
)

// ErrAbsent says there was nothing to remove.
var ErrAbsent = errors.New("absent")

// libvirtObject is any libvirt handle: each must be freed.
type libvirtObject interface{ Free() error }

// withFound looks an object up with find, runs fn on it and frees it. A
// missing object is no error: fn does not run.
func withFound[T libvirtObject](what string, find func() (T, error), fn func(T) error) error {
	obj, err := progress.Call("look up "+what, find)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer obj.Free()
	return fn(obj)
}

// stopAndUndefine stops an object (one that does not run is fine) and
// undefines it (one already gone is fine).
func stopAndUndefine(what string, stop, undefine func() error) error {
	if err := progress.Libvirt("stop "+what, stop); err != nil && !NotRunning(err) && !IsNotFound(err) {
		return fmt.Errorf("stop %s: %w", what, err)
	}
	if err := progress.Libvirt("undefine "+what, undefine); err != nil && !IsNotFound(err) {
		return fmt.Errorf("undefine %s: %w", what, err)
	}
	return nil
}

// RemoveDomain stops (hard) and undefines a domain; a missing one is fine.
func RemoveDomain(conn *libvirt.Connect, name string) error {
	what := "domain " + name
	return withFound(what, func() (*libvirt.Domain, error) { return conn.LookupDomainByName(name) }, func(d *libvirt.Domain) error {
		return stopAndUndefine(what, d.Destroy, func() error {
			flags := libvirt.DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
				libvirt.DOMAIN_UNDEFINE_NVRAM | libvirt.DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
			err := d.UndefineFlags(flags)
			if code := LibvirtCode(err); code == libvirt.ERR_NO_SUPPORT || code == libvirt.ERR_INVALID_ARG {
				err = d.Undefine()
			}
			return err
		})
	})
}

// RemoveNetwork stops and undefines a network; a missing one is fine.
func RemoveNetwork(conn *libvirt.Connect, name string) error {
	what := "network " + name
	return withFound(what, func() (*libvirt.Network, error) { return conn.LookupNetworkByName(name) }, func(n *libvirt.Network) error {
		return stopAndUndefine(what, n.Destroy, n.Undefine)
	})
}

// RemovePool stops and undefines a storage pool, and removes its folder if
// it is empty; a missing one is fine.
func RemovePool(conn *libvirt.Connect, name string) error {
	what := "storage pool " + name
	return withFound(what, func() (*libvirt.StoragePool, error) { return conn.LookupStoragePoolByName(name) }, func(p *libvirt.StoragePool) error {
		return stopAndUndefine(what, p.Destroy, func() error {
			_ = p.Delete(0) // the folder, if empty
			return p.Undefine()
		})
	})
}

// DeleteVolume deletes a pool's volume; a missing one is fine.
func DeleteVolume(conn *libvirt.Connect, poolName, name string) error {
	return withFound("storage pool "+poolName, func() (*libvirt.StoragePool, error) { return conn.LookupStoragePoolByName(poolName) }, func(p *libvirt.StoragePool) error {
		return DeletePoolVolume(p, name)
	})
}

// DeletePoolVolume deletes the volume name of pool; a missing one is fine.
func DeletePoolVolume(pool *libvirt.StoragePool, name string) error {
	return withFound("volume "+name, func() (*libvirt.StorageVol, error) { return pool.LookupStorageVolByName(name) }, deleteVol(name))
}

// DeleteVolumePath deletes the volume at path; one libvirt does not know
// there is ErrAbsent.
func DeleteVolumePath(conn *libvirt.Connect, path string) error {
	find := func() (*libvirt.StorageVol, error) {
		v, err := conn.LookupStorageVolByPath(path)
		if err != nil {
			return nil, ErrAbsent
		}
		return v, nil
	}
	return withFound("volume "+path, find, deleteVol(path))
}

func deleteVol(what string) func(*libvirt.StorageVol) error {
	return func(v *libvirt.StorageVol) error {
		if err := progress.Libvirt("delete volume "+what, func() error { return v.Delete(0) }); err != nil && !IsNotFound(err) {
			return fmt.Errorf("delete volume %s: %w", what, err)
		}
		return nil
	}
}
