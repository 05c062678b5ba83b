package image

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// keepModules lists the kernel module paths (prefixes under kernel/) a lab VM
// needs: virtio devices, the root and seed filesystems (the seed is a
// virtio disk too), and the whole IPv4/IPv6/netfilter stack (IPVS,
// conntrack, NAT, ipip, iptables/nftables). Everything else (most of 400 MB
// of drivers) is dropped; their dependencies are kept by modulesToKeep. No
// ATA, SCSI or cdrom driver: udev would load them for the i440fx's IDE
// controller at every boot and probe its empty buses (about 3 s of a TCG
// boot, on the way to the NICs' events).
var keepModules = []string{
	"kernel/drivers/virtio/",
	"kernel/drivers/block/virtio_blk",
	"kernel/drivers/net/virtio_net", "kernel/drivers/net/net_failover", "kernel/net/core/failover",
	"kernel/drivers/net/dummy", "kernel/drivers/net/tun", "kernel/drivers/net/veth",
	"kernel/drivers/net/ethernet/intel/e1000/",
	"kernel/drivers/char/virtio_console", "kernel/drivers/char/hw_random/virtio-rng",
	"kernel/drivers/acpi/button", "kernel/drivers/input/evdev",
	"kernel/fs/ext4/", "kernel/fs/jbd2/", "kernel/fs/mbcache", "kernel/fs/isofs/", "kernel/fs/fat/",
	"kernel/fs/nls/nls_ascii", "kernel/fs/nls/nls_cp437", "kernel/fs/nls/nls_utf8",
	"kernel/lib/crc", "kernel/lib/libcrc32c",
	"kernel/crypto/crc32", "kernel/arch/x86/crypto/crc32",
	"kernel/net/ipv4/", "kernel/net/ipv6/", "kernel/net/netfilter/", "kernel/net/sched/",
	"kernel/net/packet/", "kernel/net/8021q/",
}

// readModulesDep reads modules.dep: each module path with the modules it
// depends on.
func readModulesDep(modulesDep string) (map[string][]string, error) {
	f, err := os.Open(modulesDep)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if mod, rest, ok := strings.Cut(sc.Text(), ":"); ok {
			deps[mod] = strings.Fields(rest)
		}
	}
	return deps, sc.Err()
}

// modulesToKeep reads modules.dep (lines "path: dep dep ...") and returns the
// modules matching keep together with everything they depend on.
func modulesToKeep(modulesDep string, keep []string) (map[string]bool, error) {
	deps, err := readModulesDep(modulesDep)
	if err != nil {
		return nil, err
	}
	if len(deps) == 0 {
		return nil, fmt.Errorf("%s lists no module", modulesDep)
	}
	out := map[string]bool{}
	var add func(string)
	add = func(m string) {
		if out[m] {
			return
		}
		out[m] = true
		for _, d := range deps[m] {
			add(d)
		}
	}
	for mod := range deps {
		for _, k := range keep {
			if strings.HasPrefix(mod, k) {
				add(mod)
				break
			}
		}
	}
	return out, nil
}

// pruneModules deletes every module of modDir (/lib/modules/VERSION) that
// modulesToKeep does not keep, and returns how many were kept and removed.
// depmod must run afterwards.
func pruneModules(modDir string) (kept, removed int, err error) {
	keep, err := modulesToKeep(filepath.Join(modDir, "modules.dep"), keepModules)
	if err != nil {
		return 0, 0, err
	}
	root := filepath.Join(modDir, "kernel")
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(modDir, path)
		if keep[rel] {
			kept++
			return nil
		}
		removed++
		return os.Remove(path)
	})
	if err != nil {
		return kept, removed, err
	}
	return kept, removed, removeEmptyDirs(root)
}

// removeEmptyDirs removes the folders left empty under root (not root).
func removeEmptyDirs(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && path != root {
			dirs = append(dirs, path)
		}
		return err
	})
	if err != nil {
		return err
	}
	// Deepest first, so that parents empty out after their children.
	for i := len(dirs) - 1; i >= 0; i-- {
		if entries, err := os.ReadDir(dirs[i]); err == nil && len(entries) == 0 {
			os.Remove(dirs[i])
		}
	}
	return nil
}
