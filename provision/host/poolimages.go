package host

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
)

// PoolImage is one version of an image as a host's pool holds it: the
// volumes image-NAME-VERSION.* that up uploaded there.
type PoolImage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Volumes are the image's volumes (disk, kernel, initrd, the mark).
	Volumes []string `json:"volumes"`
	Bytes   uint64   `json:"bytes"` // their allocation on the host
	// Complete says the upload finished (the .ready mark): up uploads an
	// incomplete image again.
	Complete bool `json:"complete"`
	// UsedBy names the domains and volumes of the host that need it: the
	// VMs boot its kernel, their overlays are backed by its disk.
	UsedBy []string `json:"used_by"`
	paths  []string
}

// imageSuffixes end the names of an image's volumes (image.Part suffixes
// and the mark written after the last).
var imageSuffixes = []string{".qcow2", ".img", ".vmlinuz", ".initrd", ReadyMark}

// parseImageVolume reads "image-NAME-VERSION.SUFFIX".
func parseImageVolume(vol string) (name, version string, ok bool) {
	stem, found := strings.CutPrefix(vol, "image-")
	if !found {
		return "", "", false
	}
	for _, s := range imageSuffixes {
		if base, cut := strings.CutSuffix(stem, s); cut {
			name, version, ok = cutLast(base, "-")
			if !ok || name == "" || version == "" {
				return "", "", false
			}
			return name, version, true
		}
	}
	return "", "", false
}

// PoolImages lists the image versions pool on conn holds, by name and
// version, with what uses each. A host without the pool holds none.
func PoolImages(conn *libvirt.Connect, poolName string) ([]PoolImage, error) {
	if poolName == "" {
		poolName = paths.DefaultPool
	}
	pool, err := conn.LookupStoragePoolByName(poolName)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage pool %s on %s: %w", poolName, hostOf(conn), err)
	}
	defer pool.Free()
	_ = pool.Refresh(0)
	vols, err := pool.ListAllStorageVolumes(0)
	if err != nil {
		return nil, fmt.Errorf("volumes of pool %s on %s: %w", poolName, hostOf(conn), err)
	}
	byKey := map[string]*PoolImage{}
	backing := map[string][]string{} // path -> the volumes backed by it
	for _, v := range vols {
		name, _ := v.GetName()
		path, _ := v.GetPath()
		if n, version, ok := parseImageVolume(name); ok {
			img := byKey[n+"\x00"+version]
			if img == nil {
				img = &PoolImage{Name: n, Version: version}
				byKey[n+"\x00"+version] = img
			}
			img.Volumes = append(img.Volumes, name)
			img.paths = append(img.paths, path)
			img.Complete = img.Complete || strings.HasSuffix(name, ReadyMark)
			if info, err := v.GetInfo(); err == nil {
				img.Bytes += info.Allocation
			}
		} else if x, err := v.GetXMLDesc(0); err == nil {
			var sv libvirtxml.StorageVolume
			if sv.Unmarshal(x) == nil && sv.BackingStore != nil && sv.BackingStore.Path != "" {
				backing[sv.BackingStore.Path] = append(backing[sv.BackingStore.Path], "volume "+name)
			}
		}
		v.Free()
	}
	users, err := domainFiles(conn)
	if err != nil {
		return nil, err
	}
	out := make([]PoolImage, 0, len(byKey))
	for _, img := range byKey {
		for _, p := range img.paths {
			img.UsedBy = append(img.UsedBy, backing[p]...)
			img.UsedBy = append(img.UsedBy, users[p]...)
		}
		sort.Strings(img.Volumes)
		sort.Strings(img.UsedBy)
		img.UsedBy = slices.Compact(img.UsedBy)
		out = append(out, *img)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// domainFiles maps every file a domain of conn boots from (disks, kernel,
// initrd) to "domain NAME".
func domainFiles(conn *libvirt.Connect) (map[string][]string, error) {
	doms, err := conn.ListAllDomains(0)
	if err != nil {
		return nil, fmt.Errorf("domains on %s: %w", hostOf(conn), err)
	}
	users := map[string][]string{}
	for _, d := range doms {
		name, _ := d.GetName()
		x, err := d.GetXMLDesc(0)
		d.Free()
		var dom libvirtxml.Domain
		if err != nil || dom.Unmarshal(x) != nil {
			continue
		}
		var files []string
		if dom.OS != nil {
			files = append(files, dom.OS.Kernel, dom.OS.Initrd)
		}
		if dom.Devices != nil {
			for _, disk := range dom.Devices.Disks {
				if disk.Source != nil && disk.Source.File != nil {
					files = append(files, disk.Source.File.File)
				}
			}
		}
		for _, f := range files {
			if f != "" {
				users[f] = append(users[f], "domain "+name)
			}
		}
	}
	return users, nil
}

// RemovePoolImage deletes image name's volumes from pool on conn: every
// version, or only version when it is given. It refuses while a domain or
// a volume of the host needs one of them, and returns what it removed.
func RemovePoolImage(conn *libvirt.Connect, poolName, name, version string) ([]PoolImage, error) {
	if poolName == "" {
		poolName = paths.DefaultPool
	}
	if err := image.CheckName(name); err != nil {
		return nil, err
	}
	all, err := PoolImages(conn, poolName)
	if err != nil {
		return nil, err
	}
	host := hostOf(conn)
	var doomed []PoolImage
	for _, img := range all {
		if img.Name == name && (version == "" || img.Version == version) {
			doomed = append(doomed, img)
		}
	}
	if len(doomed) == 0 {
		what := fmt.Sprintf("%q", name)
		if version != "" {
			what += " version " + version
		}
		return nil, fmt.Errorf("%w: no image %s in pool %s on %s (see \"lvslab image ls --connect '%s'\")", image.ErrNotBuilt, what, poolName, host, uriOf(conn))
	}
	for _, img := range doomed {
		if len(img.UsedBy) > 0 {
			return nil, fmt.Errorf("image %q (version %s) is in use on %s by %s: take their labs down first (\"lvslab down --connect '%s'\")",
				name, img.Version, host, strings.Join(img.UsedBy, ", "), uriOf(conn))
		}
	}
	pool, err := conn.LookupStoragePoolByName(poolName)
	if err != nil {
		return nil, fmt.Errorf("storage pool %s on %s: %w", poolName, host, err)
	}
	defer pool.Free()
	for _, img := range doomed {
		// The mark first: a half-removed image is an unfinished upload,
		// which up makes again, never a broken one it would boot.
		vols := slices.Clone(img.Volumes)
		sort.SliceStable(vols, func(i, j int) bool { return strings.HasSuffix(vols[i], ReadyMark) })
		for _, v := range vols {
			if err := DeletePoolVolume(pool, v); err != nil {
				return nil, fmt.Errorf("remove image %q from %s: %w", name, host, err)
			}
		}
	}
	return doomed, nil
}

// hostOf names conn's host in messages: the hypervisor's user@host, else
// the URI.
func hostOf(conn *libvirt.Connect) string {
	if r, err := RemoteOf(conn); err == nil && r != nil {
		return r.Label()
	}
	return uriOf(conn)
}

// ReadyMark ends the name of the empty volume written after an image's
// last part: without it the parts are a broken upload, made again.
const ReadyMark = ".ready"
