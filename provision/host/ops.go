package host

import (
	"errors"
	"fmt"
	"sort"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/progress"
)

// The operations up, dry-run and down ask of libvirt, each by name: the
// lab lifecycle (provision/lab) holds no libvirt handle.

// LookupNetwork reads network name and its tag; tagged is false for a
// network lvslab did not make. One that does not exist is an error
// IsNotFound knows; every other error says "network NAME: ...".
func LookupNetwork(conn *Conn, name string) (info NetworkInfo, tagged bool, err error) {
	return lookup("network", name, conn.LookupNetworkByName, InspectNetwork)
}

// StartNetwork starts network name unless active says it runs.
func StartNetwork(conn *Conn, name string, active bool) error {
	if active {
		return nil
	}
	return withFound("network "+name, func() (*libvirt.Network, error) { return conn.LookupNetworkByName(name) }, func(n *libvirt.Network) error {
		if err := progress.Libvirt("start network "+name, n.Create); err != nil {
			return fmt.Errorf("start network %s: %w", name, err)
		}
		return nil
	})
}

// DefineNetwork defines network name from its XML (what names it in
// errors), with autostart off, and starts it. made runs right after the
// definition, before anything else can fail: the caller's undo.
func DefineNetwork(conn *Conn, name, xml, what string, made func()) error {
	n, err := progress.Call("define network "+name, func() (*libvirt.Network, error) { return conn.NetworkDefineXML(xml) })
	if err != nil {
		return fmt.Errorf("define %s: %w", what, err)
	}
	defer n.Free()
	made()
	if err := progress.Libvirt("network "+name+": autostart off", func() error { return n.SetAutostart(false) }); err != nil {
		return fmt.Errorf("network %s: %w", name, err)
	}
	if err := progress.Libvirt("start network "+name, n.Create); err != nil {
		return fmt.Errorf("start %s: %w", what, err)
	}
	return nil
}

// SyncDHCPHosts makes the DHCP host entries of network name (its
// definition def) want: a lab brought up in another mode may have moved
// the nodes. A network without <dhcp> is left alone: libvirt cannot add
// one to a defined network, and it only matters for cloud images, which
// read the seed anyway.
func SyncDHCPHosts(conn *Conn, name string, def *libvirtxml.Network, want []libvirtxml.NetworkDHCPHost, active bool) error {
	var have []libvirtxml.NetworkDHCPHost
	hasDHCP := false
	for _, ip := range def.IPs {
		if ip.DHCP != nil && (ip.Family == "" || ip.Family == "ipv4") {
			have = append(have, ip.DHCP.Hosts...)
			hasDHCP = true
		}
	}
	key := func(h libvirtxml.NetworkDHCPHost) string { return h.MAC + " " + h.IP + " " + h.Name }
	if sameHosts(want, have, key) || !hasDHCP {
		return nil
	}
	flags := libvirt.NETWORK_UPDATE_AFFECT_CONFIG
	if active {
		flags |= libvirt.NETWORK_UPDATE_AFFECT_LIVE
	}
	entry := func(h libvirtxml.NetworkDHCPHost) string {
		return fmt.Sprintf("<host mac='%s' name='%s' ip='%s'/>", h.MAC, h.Name, h.IP)
	}
	wanted, present := map[string]bool{}, map[string]bool{}
	for _, h := range want {
		wanted[key(h)] = true
	}
	return withFound("network "+name, func() (*libvirt.Network, error) { return conn.LookupNetworkByName(name) }, func(n *libvirt.Network) error {
		for _, h := range have {
			present[key(h)] = true
			if !wanted[key(h)] {
				if err := progress.Libvirt("network: delete DHCP host "+entry(h), func() error {
					return n.Update(libvirt.NETWORK_UPDATE_COMMAND_DELETE, libvirt.NETWORK_SECTION_IP_DHCP_HOST, -1, entry(h), flags)
				}); err != nil {
					return err
				}
			}
		}
		for _, h := range want {
			if !present[key(h)] {
				if err := progress.Libvirt("network: add DHCP host "+entry(h), func() error {
					return n.Update(libvirt.NETWORK_UPDATE_COMMAND_ADD_LAST, libvirt.NETWORK_SECTION_IP_DHCP_HOST, -1, entry(h), flags)
				}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// LookupDomain reads domain name and its tag; tagged is false for a
// domain lvslab did not make. One that does not exist is an error
// IsNotFound knows; every other error says "domain NAME: ...".
func LookupDomain(conn *Conn, name string) (info DomainInfo, tagged bool, err error) {
	return lookup("domain", name, conn.LookupDomainByName, InspectDomain)
}

// lookup finds the libvirt object name of kind (network, domain) and reads
// it: a missing one is the error IsNotFound knows, every other error says
// "KIND NAME: ...".
func lookup[O interface{ Free() error }, I any](kind, name string, find func(string) (O, error), inspect func(O) (I, bool, error)) (info I, tagged bool, err error) {
	o, err := find(name)
	if err != nil {
		if IsNotFound(err) {
			return info, false, err
		}
		return info, false, fmt.Errorf("%s %s: %w", kind, name, err)
	}
	defer o.Free()
	if info, tagged, err = inspect(o); err != nil {
		var zero I
		return zero, false, fmt.Errorf("%s %s: %w", kind, name, err)
	}
	return info, tagged, nil
}

// DefineDomain defines domain name from its XML.
func DefineDomain(conn *Conn, name, xml string) error {
	d, err := progress.Call("define domain "+name, func() (*libvirt.Domain, error) { return conn.DomainDefineXML(xml) })
	if err != nil {
		return fmt.Errorf("define domain %s: %w", name, err)
	}
	return d.Free()
}

// ErrStart wraps the error of starting a domain (not of finding it).
var ErrStart = errors.New("start")

// StartDomain starts domain name unless it runs (or is blocked): a paused
// one is resumed, a suspended one woken, any other booted. Looking it up
// fails as "domain NAME: ..."; the start itself as ErrStart wrapping
// libvirt's error (errors.Is(err, ErrStart); its message is libvirt's).
func StartDomain(conn *Conn, name string) error {
	d, err := conn.LookupDomainByName(name)
	if err != nil {
		return fmt.Errorf("domain %s: %w", name, err)
	}
	defer d.Free()
	state, _, err := d.GetState()
	if err != nil {
		return fmt.Errorf("domain %s: %w", name, err)
	}
	switch state {
	case libvirt.DOMAIN_RUNNING, libvirt.DOMAIN_BLOCKED:
		return nil
	case libvirt.DOMAIN_PAUSED:
		err = progress.Libvirt("resume domain "+name, d.Resume)
	case libvirt.DOMAIN_PMSUSPENDED:
		err = progress.Libvirt("wake domain "+name, func() error { return d.PMWakeup(0) })
	default:
		err = progress.Libvirt("start domain "+name, d.Create)
	}
	if err != nil {
		return &startError{err: err}
	}
	return nil
}

// startError is StartDomain's own failure: libvirt's error, as ErrStart.
type startError struct{ err error }

func (e *startError) Error() string        { return e.err.Error() }
func (e *startError) Unwrap() error        { return e.err }
func (e *startError) Is(target error) bool { return target == ErrStart }

// PoolState says whether storage pool name exists and runs.
func PoolState(conn *Conn, name string) (exists, active bool) {
	pool, err := conn.LookupStoragePoolByName(name)
	if err != nil {
		return false, false
	}
	defer pool.Free()
	active, _ = pool.IsActive()
	return true, active
}

// EnsurePool makes storage pool name, a folder dir, when it is missing:
// defined, built, started, autostarted; one that exists is started when
// it does not run. made says this call defined it (a failed up removes
// it), also when a later stage failed; another up that defines it at the
// same time is shared.
func EnsurePool(conn *Conn, name, dir string) (made bool, err error) {
	pool, err := conn.LookupStoragePoolByName(name)
	if err == nil {
		defer pool.Free()
		active, err := pool.IsActive()
		if err != nil {
			return false, err
		}
		if !active {
			if err := progress.Libvirt("start storage pool "+name, func() error { return pool.Create(0) }); err != nil {
				return false, fmt.Errorf("start storage pool %s: %w", name, err)
			}
		}
		return false, nil
	}
	if !IsNotFound(err) {
		return false, fmt.Errorf("storage pool %s: %w", name, err)
	}
	x, err := PoolXML(name, dir)
	if err != nil {
		return false, err
	}
	pool, err = progress.Call("define storage pool "+name, func() (*libvirt.StoragePool, error) { return conn.StoragePoolDefineXML(x, 0) })
	if err != nil {
		if again, lerr := conn.LookupStoragePoolByName(name); lerr == nil {
			again.Free() // another "up" made it meanwhile: share it
			return EnsurePool(conn, name, dir)
		}
		return false, fmt.Errorf("define storage pool %s (%s): %w", name, dir, err)
	}
	defer pool.Free()
	if err := progress.Libvirt("build storage pool "+name, func() error { return pool.Build(0) }); err != nil {
		return true, fmt.Errorf("make the folder %s of storage pool %s: %w", dir, name, err)
	}
	if err := progress.Libvirt("start storage pool "+name, func() error { return pool.Create(0) }); err != nil {
		return true, fmt.Errorf("start storage pool %s: %w", name, err)
	}
	if err := progress.Libvirt("storage pool "+name+": autostart on", func() error { return pool.SetAutostart(true) }); err != nil {
		return true, fmt.Errorf("storage pool %s: autostart: %w", name, err)
	}
	return true, nil
}

// withPool runs fn on storage pool name; a missing pool is an error.
func withPool(conn *Conn, name string, fn func(*libvirt.StoragePool) error) error {
	pool, err := conn.LookupStoragePoolByName(name)
	if err != nil {
		return fmt.Errorf("storage pool %s: %w", name, err)
	}
	defer pool.Free()
	return fn(pool)
}

// CheckPool says whether storage pool name can be found: "storage pool
// NAME: ..." when not.
func CheckPool(conn *Conn, name string) error {
	return withPool(conn, name, func(*libvirt.StoragePool) error { return nil })
}

// NewVolume creates volume name in pool poolName from its XML (what names
// it in errors), in place of a stale one left by a run that crashed before
// it defined the node's domain (no domain uses it). made runs as soon as
// it exists (the caller's undo). It returns the volume's path.
func NewVolume(conn *Conn, poolName, name, xml, what string, made func()) (string, error) {
	var path string
	err := withPool(conn, poolName, func(pool *libvirt.StoragePool) error {
		if err := DeletePoolVolume(pool, name); err != nil {
			return fmt.Errorf("stale volume: %w", err)
		}
		vol, err := progress.Call("create volume "+name, func() (*libvirt.StorageVol, error) { return pool.StorageVolCreateXML(xml, 0) })
		if err != nil {
			return fmt.Errorf("create %s in pool %s: %w", what, poolName, err)
		}
		defer vol.Free()
		made()
		path, err = vol.GetPath()
		return err
	})
	return path, err
}

// WriteVolume writes data into volume name of pool poolName with w.
func WriteVolume(conn *Conn, poolName, name string, data []byte, w VolumeWriter) error {
	return withPool(conn, poolName, func(pool *libvirt.StoragePool) error {
		vol, err := pool.LookupStorageVolByName(name)
		if err != nil {
			return err
		}
		defer vol.Free()
		return progress.Libvirt(fmt.Sprintf("upload %d bytes to volume %s", len(data), name), func() error { return w.WriteBytes(conn, vol, data) })
	})
}

// DeleteVolumeAtPath deletes the volume at path; found is false when no
// pool of libvirt holds it (then nothing is done).
func DeleteVolumeAtPath(conn *Conn, path, what string) (found bool, err error) {
	vol, err := conn.LookupStorageVolByPath(path)
	if err != nil {
		return false, nil
	}
	defer vol.Free()
	return true, progress.Libvirt("delete "+what, func() error { return vol.Delete(0) })
}

func sameHosts(a, b []libvirtxml.NetworkDHCPHost, key func(libvirtxml.NetworkDHCPHost) string) bool {
	if len(a) != len(b) {
		return false
	}
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i], kb[i] = key(a[i]), key(b[i])
	}
	sort.Strings(ka)
	sort.Strings(kb)
	for i := range ka {
		if ka[i] != kb[i] {
			return false
		}
	}
	return true
}
