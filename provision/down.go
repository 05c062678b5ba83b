package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"libvirt.org/go/libvirt"
)

// Selector says which labs "down" removes: one lab by name, or All.
type Selector struct {
	Lab string
	All bool
}

// DownOptions tune Down.
type DownOptions struct {
	// Home is lvslab's state folder ("" means Home()); the lab's folder
	// labs/<lab> (keys, known_hosts) is removed.
	Home string
	// Pool is the storage pool of the lab disks ("" means DefaultPool).
	Pool string
	// Out receives one line per removed object; nil discards them.
	Out io.Writer
}

// Removed is one thing Down removed.
type Removed struct {
	Lab  string
	Kind string // domain, volume, network, file
	Name string
}

// DownReport lists what Down removed.
type DownReport struct {
	Labs    []string
	Removed []Removed
}

// Down removes everything of the selected labs, found by lvslab's tag in
// libvirt and by the names of its disks (the lab file is not read, so it
// works after a crash): it destroys and undefines the domains, deletes the
// volumes (overlays and seeds), destroys and undefines the networks, and
// removes the console logs and the lab's state folder (keys, known_hosts).
// Pieces already gone are not errors; a lab with nothing left is fine.
func Down(ctx context.Context, conn *libvirt.Connect, sel Selector, opts DownOptions) (*DownReport, error) {
	if !sel.All && sel.Lab == "" {
		return nil, errors.New("down: name a lab, or select all labs")
	}
	all, err := Discover(conn, opts.Pool)
	if err != nil {
		return nil, err
	}
	var names []string
	if sel.All {
		names = labNames(all)
		// Labs with only a state folder left (a crash after the folder was made).
		if entries, err := os.ReadDir(filepath.Join(homeOr(opts.Home), "labs")); err == nil {
			for _, e := range entries {
				if e.IsDir() && all[e.Name()] == nil {
					names = append(names, e.Name())
				}
			}
		}
	} else {
		names = []string{sel.Lab}
	}
	rep := &DownReport{Labs: names}
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	var errs []error
	for _, name := range names {
		inv := all[name]
		if inv == nil {
			inv = &Inventory{Lab: name}
		}
		removed, err := removeLab(ctx, conn, inv, opts, out)
		rep.Removed = append(rep.Removed, removed...)
		if err != nil {
			errs = append(errs, fmt.Errorf("lab %s: %w", name, err))
		}
	}
	return rep, errors.Join(errs...)
}

func homeOr(h string) string {
	if h == "" {
		return Home()
	}
	return h
}

// removeLab tears one lab down: domains first (in parallel), then their
// disks, then the networks nothing uses any more, then local files.
func removeLab(ctx context.Context, conn *libvirt.Connect, inv *Inventory, opts DownOptions, out io.Writer) ([]Removed, error) {
	var (
		mu      sync.Mutex
		removed []Removed
		errs    []error
	)
	note := func(kind, name string) {
		mu.Lock()
		defer mu.Unlock()
		removed = append(removed, Removed{Lab: inv.Lab, Kind: kind, Name: name})
		fmt.Fprintf(out, "removed %s %s\n", kind, name)
	}
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}

	var wg sync.WaitGroup
	for _, d := range inv.Domains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := removeDomain(conn, d.Name); err != nil {
				fail(err)
				return
			}
			note("domain", d.Name)
		}()
	}
	wg.Wait()

	// Disks: the pool's volumes of the lab, and the disks its domains used
	// (if they lived in another pool).
	seen := map[string]bool{}
	for _, v := range inv.Volumes {
		seen[v.Path] = true
		if err := deleteVolume(conn, v.Pool, v.Name); err != nil {
			fail(err)
			continue
		}
		note("volume", v.Name)
	}
	for _, d := range inv.Domains {
		for _, path := range d.Disks {
			if seen[path] {
				continue
			}
			if _, _, ok := volumeOwner(filepath.Base(path)); !ok {
				continue // not a disk lvslab named: never delete it
			}
			seen[path] = true
			vol, err := conn.LookupStorageVolByPath(path)
			if err != nil {
				continue
			}
			err = vol.Delete(0)
			vol.Free()
			if err != nil && !isNotFound(err) {
				fail(fmt.Errorf("delete volume %s: %w", path, err))
				continue
			}
			note("volume", path)
		}
	}

	for _, n := range inv.Networks {
		if err := removeNetwork(conn, n.Name); err != nil {
			fail(err)
			continue
		}
		note("network", n.Name)
	}

	for _, d := range inv.Domains {
		for _, log := range d.Logs {
			if removeFile(log, fail) {
				note("file", log)
			}
		}
	}
	dir := StateDir(opts.Home, inv.Lab)
	if _, err := os.Stat(dir); err == nil {
		if err := os.RemoveAll(dir); err != nil {
			fail(err)
		} else {
			note("folder", dir)
		}
	}
	return removed, errors.Join(errs...)
}

// removeDomain stops (hard) and undefines a domain; a missing one is fine.
func removeDomain(conn *libvirt.Connect, name string) error {
	d, err := conn.LookupDomainByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("domain %s: %w", name, err)
	}
	defer d.Free()
	if err := d.Destroy(); err != nil && !notRunning(err) && !isNotFound(err) {
		return fmt.Errorf("destroy domain %s: %w", name, err)
	}
	flags := libvirt.DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
		libvirt.DOMAIN_UNDEFINE_NVRAM | libvirt.DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
	if err := d.UndefineFlags(flags); err != nil && !isNotFound(err) {
		if libvirtCode(err) == libvirt.ERR_NO_SUPPORT || libvirtCode(err) == libvirt.ERR_INVALID_ARG {
			err = d.Undefine()
		}
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("undefine domain %s: %w", name, err)
		}
	}
	return nil
}

// removeNetwork stops and undefines a network; a missing one is fine.
func removeNetwork(conn *libvirt.Connect, name string) error {
	n, err := conn.LookupNetworkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("network %s: %w", name, err)
	}
	defer n.Free()
	if err := n.Destroy(); err != nil && !notRunning(err) && !isNotFound(err) {
		return fmt.Errorf("stop network %s: %w", name, err)
	}
	if err := n.Undefine(); err != nil && !isNotFound(err) {
		return fmt.Errorf("undefine network %s: %w", name, err)
	}
	return nil
}

// deleteVolume deletes a pool's volume; a missing one is fine.
func deleteVolume(conn *libvirt.Connect, poolName, name string) error {
	pool, err := conn.LookupStoragePoolByName(poolName)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage pool %s: %w", poolName, err)
	}
	defer pool.Free()
	vol, err := pool.LookupStorageVolByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	defer vol.Free()
	if err := vol.Delete(0); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete volume %s: %w", name, err)
	}
	return nil
}

// removeFile removes a local file, telling whether it existed.
func removeFile(path string, fail func(error)) bool {
	err := os.Remove(path)
	switch {
	case err == nil:
		return true
	case errors.Is(err, fs.ErrNotExist):
		return false
	default:
		fail(err)
		return false
	}
}
