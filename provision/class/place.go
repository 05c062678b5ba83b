package class

import (
	"fmt"
	"strings"
)

// HostFigures is what one host's libvirt reports, as placement reads it.
type HostFigures struct {
	URI string
	// FreeMiB is the memory free for new VMs, in MiB.
	FreeMiB int64
	// Err is why the host could not be read (unreachable): nothing is
	// placed there.
	Err string
}

// Placement is where each student's copy lives: student -> host URI.
type Placement map[string]string

// Place puts every student of c without a copy yet (kept says where the
// recorded ones live; they stay there) on a host: each new copy goes to
// the host with the most room left, the first in file order on a tie, where
// room is the free memory less the copies placed there by this run, and, if
// the host gives a memory capacity, that capacity less what all the class's
// copies there take; a host's max_copies is never exceeded. Recorded copies
// count against the capacities but not against the free memory (their VMs
// already take theirs). When the class does not fit, nothing is placed and
// the error says which host lacks what.
func Place(c *Class, figures []HostFigures, kept Placement) (Placement, error) {
	need := c.CopyMemory()
	rooms, byURI := hostRooms(c, figures)
	out, err := keepPlaced(c, byURI, kept)
	if err != nil {
		return nil, err
	}
	var unplaced []string
	for _, s := range c.Students {
		if _, ok := out[s]; ok {
			continue
		}
		var best *room
		var bestFree int64
		for _, r := range rooms {
			if free, _ := r.left(need); free >= need && (best == nil || free > bestFree) {
				best, bestFree = r, free
			}
		}
		if best == nil {
			unplaced = append(unplaced, s)
			continue
		}
		best.copies++
		best.added += need
		out[s] = best.fig.URI
	}
	if len(unplaced) == 0 {
		return out, nil
	}
	var hosts []string
	for _, r := range rooms {
		_, why := r.left(need)
		hosts = append(hosts, fmt.Sprintf("  %s: %d copies placed, %s", r.fig.URI, r.copies, why))
	}
	return nil, fmt.Errorf("class %s does not fit: %d of %d copies have no host (%s), each copy needs %d MiB (%d VMs: guest memory + %d MiB per VM); nothing was created\n%s\n(add a host, raise max_copies or memory:, or give fewer students)",
		c.Name, len(unplaced), len(c.Students), summarize(unplaced), need, len(c.Lab.Nodes), c.VMOverhead, strings.Join(hosts, "\n"))
}

// room is one host as placement fills it.
type room struct {
	fig    HostFigures
	host   *Host
	copies int   // of this class, kept and new
	added  int64 // memory of the new copies, MiB
}

// hostRooms are the class's hosts in file order, with their figures (a
// host without any was not read), and by URI.
func hostRooms(c *Class, figures []HostFigures) ([]*room, map[string]*room) {
	rooms := make([]*room, 0, len(c.Hosts))
	byURI := map[string]*room{}
	for _, h := range c.Hosts {
		r := &room{fig: HostFigures{URI: h.URI, Err: "libvirt's figures were not read"}, host: c.Host(h.URI)}
		for _, f := range figures {
			if f.URI == h.URI {
				r.fig = f
			}
		}
		rooms = append(rooms, r)
		byURI[h.URI] = r
	}
	return rooms, byURI
}

// keepPlaced places the recorded copies where they live; a copy on a host
// the class file no longer lists is an error.
func keepPlaced(c *Class, byURI map[string]*room, kept Placement) (Placement, error) {
	out := Placement{}
	var orphans []string
	for _, s := range c.Students {
		uri, ok := kept[s]
		if !ok {
			continue
		}
		r := byURI[uri]
		if r == nil {
			orphans = append(orphans, fmt.Sprintf("%s (on %s)", s, uri))
			continue
		}
		r.copies++
		out[s] = uri
	}
	if len(orphans) > 0 {
		return nil, fmt.Errorf("class %s: the copies of %s live on hosts the class file no longer lists: put the host back, or \"lvslab down\" those copies there", c.Name, strings.Join(orphans, ", "))
	}
	return out, nil
}

// left is the memory (MiB) a host has left for a new copy needing need,
// and why, in words.
func (r *room) left(need int64) (int64, string) {
	if r.fig.Err != "" {
		return 0, "unreachable: " + r.fig.Err
	}
	if r.host.MaxCopies > 0 && r.copies >= r.host.MaxCopies {
		return 0, fmt.Sprintf("max_copies %d reached", r.host.MaxCopies)
	}
	free := r.fig.FreeMiB - r.added
	why := fmt.Sprintf("%d MiB free", max(free, 0))
	if r.host.Memory > 0 {
		if capLeft := int64(r.host.Memory) - int64(r.copies)*need; capLeft < free {
			free = capLeft
			why = fmt.Sprintf("%d MiB of its memory capacity %d MiB left", max(capLeft, 0), r.host.Memory)
		}
	}
	return free, why
}

// summarize names a few students, and how many more.
func summarize(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:5], ", "), len(names)-5)
}
