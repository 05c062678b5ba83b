package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
)

// Selector says which labs "down" removes: one lab by name, or All.
type Selector struct {
	Lab string
	All bool
}

// DownOptions tune Down.
type DownOptions struct {
	// Paths are lvslab's folders: the lab's folder (LabDir: key,
	// known_hosts) is removed.
	Paths paths.Root
	// Progress receives an event per removed object; nil discards them.
	Progress progress.Sink
}

// Removed is one thing Down removed, as its event said.
type Removed = progress.Removed

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
func Down(ctx context.Context, conn *host.Conn, sel Selector, opts DownOptions) (*DownReport, error) {
	if !sel.All && sel.Lab == "" {
		return nil, errors.New("down: name a lab, or select all labs")
	}
	if err := opts.Paths.Check(); err != nil {
		return nil, err
	}
	all, err := host.Discover(conn, paths.DefaultPool)
	if err != nil {
		return nil, err
	}
	var names []string
	if sel.All {
		names = host.LabNames(all)
		// Labs with only a state folder left (a crash after the folder was made).
		if entries, err := os.ReadDir(opts.Paths.LabsDir()); err == nil {
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
	sink := progress.Or(opts.Progress)
	remote, err := host.RemoteOf(conn)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, name := range names {
		inv := all[name]
		if inv == nil {
			inv = &host.Inventory{Lab: name}
		}
		removed, err := removeLab(ctx, conn, remote, inv, opts, sink)
		rep.Removed = append(rep.Removed, removed...)
		if err != nil {
			errs = append(errs, fmt.Errorf("lab %s: %w", name, err))
		}
	}
	if remote != nil && len(rep.Removed) > 0 {
		sink.Emit(progress.ImagesKept{Pool: paths.DefaultPool, Host: remote.Label(), URI: remote.URI})
	}
	return rep, errors.Join(errs...)
}

// teardown collects what removing one lab removed and what failed; its
// methods run in parallel.
type teardown struct {
	conn    *host.Conn
	remote  *host.Remote // the console logs are that host's: removed through libvirt or named
	lab     string
	sink    progress.Sink
	mu      sync.Mutex
	removed []Removed
	errs    []error
}

func (t *teardown) note(kind, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := Removed{Lab: t.lab, What: kind, Name: name}
	t.removed = append(t.removed, r)
	t.sink.Emit(r)
}

func (t *teardown) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errs = append(t.errs, err)
}

// do runs remove and notes kind/name when it removed something.
func (t *teardown) do(kind, name string, remove func() error) {
	switch err := remove(); {
	case errors.Is(err, host.ErrAbsent):
	case err != nil:
		t.fail(err)
	default:
		t.note(kind, name)
	}
}

// removeLab tears one lab down: domains first (in parallel), then their
// disks, then the networks nothing uses any more, then local files.
func removeLab(_ context.Context, conn *host.Conn, remote *host.Remote, inv *host.Inventory, opts DownOptions, sink progress.Sink) ([]Removed, error) {
	t := &teardown{conn: conn, remote: remote, lab: inv.Lab, sink: sink}
	t.objects(inv)
	dir := opts.Paths.LabDir(inv.Lab)
	if _, err := os.Stat(dir); err == nil {
		t.do("folder", dir, func() error { return os.RemoveAll(dir) })
	}
	return t.removed, errors.Join(t.errs...)
}

// objects removes the inventory's domains (in parallel), then their disks,
// then the networks, then the domains' console logs.
func (t *teardown) objects(inv *host.Inventory) {
	var wg sync.WaitGroup
	for _, d := range inv.Domains {
		wg.Go(func() { t.do("domain", d.Name, func() error { return host.RemoveDomain(t.conn, d.Name) }) })
	}
	wg.Wait()
	t.volumes(inv)
	for _, n := range inv.Networks {
		t.do("network", n.Name, func() error { return host.RemoveNetwork(t.conn, n.Name) })
	}
	t.logs(inv)
}

// volumes deletes the pool's volumes of the lab, and the disks its domains
// used if they lived in another pool (only disks lvslab named).
func (t *teardown) volumes(inv *host.Inventory) {
	seen := map[string]bool{}
	for _, v := range inv.Volumes {
		seen[v.Path] = true
		t.do("volume", v.Name, func() error { return host.DeleteVolume(t.conn, v.Pool, v.Name) })
	}
	for _, d := range inv.Domains {
		for _, path := range d.Disks {
			if _, _, ours := paths.VolumeOwner(filepath.Base(path)); seen[path] || !ours {
				continue
			}
			seen[path] = true
			t.do("volume", path, func() error { return host.DeleteVolumePath(t.conn, path) })
		}
	}
}

// logs removes the domains' console logs.
func (t *teardown) logs(inv *host.Inventory) {
	if t.remote != nil {
		t.remoteLogs(inv)
	}
	for _, d := range inv.Domains {
		if t.remote != nil {
			break
		}
		for _, log := range d.Logs {
			err := os.Remove(log)
			switch {
			case err == nil:
				t.note("file", log)
			case !errors.Is(err, fs.ErrNotExist):
				t.fail(err)
			}
		}
	}
}

// remoteLogs removes the console logs on the remote host where libvirt
// can (a log in a storage pool's folder is a volume); the others are
// named, with their host, as left: libvirt's API removes no other file,
// and lvslab reaches the host only through libvirt and the node jump.
func (t *teardown) remoteLogs(inv *host.Inventory) {
	var kept []string
	for _, d := range inv.Domains {
		for _, log := range d.Logs {
			found, err := host.DeleteVolumeAtPath(t.conn, log, "console log "+log)
			if !found {
				kept = append(kept, log)
				continue
			}
			if err != nil {
				t.fail(fmt.Errorf("console log %s on %s: %w", log, t.remote.Label(), err))
				continue
			}
			t.note("file", t.remote.Label()+":"+log)
		}
	}
	if len(kept) > 0 {
		t.sink.Emit(progress.LogsKept{Host: t.remote.Label(), Logs: kept})
	}
}
