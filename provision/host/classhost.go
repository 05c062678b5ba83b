package host

import (
	"fmt"

	"libvirt.org/go/libvirt"
)

// ClassCopies are the copies of class on conn's host, as their domains'
// tags mark them (up writes the mark as it defines each domain, see
// Options.Class): lab name -> student.
func ClassCopies(conn *libvirt.Connect, class string) (map[string]string, error) {
	out := map[string]string{}
	if class == "" {
		return out, nil
	}
	domains, err := ListDomains(conn)
	if err != nil {
		return nil, err
	}
	for _, d := range domains {
		if d.Tag.Class == class {
			out[d.Tag.Name] = d.Tag.Student
		}
	}
	return out, nil
}

// FreeMemory is the memory of conn's host free for new VMs, in MiB: what
// libvirt's node memory statistics call free plus the page cache and
// buffers the kernel gives back on demand; where the driver has no such
// statistics, virNodeGetFreeMemory's figure.
func FreeMemory(conn *libvirt.Connect) (int64, error) {
	if st, err := conn.GetMemoryStats(libvirt.NODE_MEMORY_STATS_ALL_CELLS, 0); err == nil && st.FreeSet {
		kib := st.Free
		if st.BuffersSet {
			kib += st.Buffers
		}
		if st.CachedSet {
			kib += st.Cached
		}
		return int64(kib / 1024), nil
	}
	b, err := conn.GetFreeMemory()
	if err != nil {
		return 0, fmt.Errorf("free memory of %s: %w", uriOf(conn), err)
	}
	return int64(b >> 20), nil
}
