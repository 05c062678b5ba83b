package image

import (
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/lvslab/lvslab/templates"
)

// initrdModules are loaded by the tiny initrd, after their dependencies:
// what it takes to mount an ext4 root on a virtio disk. crc32c is a soft
// dependency of ext4 that modules.dep does not list. isofs is for the seed:
// loaded here it spares the seed unit a slow modprobe.
var initrdModules = []string{
	"kernel/fs/isofs/isofs.ko",
	"kernel/crypto/crc32c_generic.ko",
	"kernel/drivers/virtio/virtio_pci.ko",
	"kernel/drivers/block/virtio_blk.ko",
	"kernel/fs/ext4/ext4.ko",
}

// moduleOrder expands roots with their dependencies from modules.dep,
// dependencies first, each module once.
func moduleOrder(modulesDep string, roots []string) ([]string, error) {
	deps, err := readModulesDep(modulesDep)
	if err != nil {
		return nil, err
	}
	var order []string
	seen := map[string]bool{}
	var visit func(string) error
	visit = func(m string) error {
		if seen[m] {
			return nil
		}
		seen[m] = true
		d, ok := deps[m]
		if !ok {
			return fmt.Errorf("kernel module %s is not in %s", m, modulesDep)
		}
		for _, dep := range d {
			if err := visit(dep); err != nil {
				return err
			}
		}
		order = append(order, m)
		return nil
	}
	for _, r := range roots {
		if err := visit(r); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// writeInitrd writes the tiny initrd (a gzipped newc cpio): busybox-static
// from the guest, the init script and the modules that mount the root.
func writeInitrd(w io.Writer, rootfs, kver string) error {
	modDir := filepath.Join(rootfs, "lib/modules", kver)
	mods, err := moduleOrder(filepath.Join(modDir, "modules.dep"), initrdModules)
	if err != nil {
		return err
	}
	busybox, err := os.ReadFile(filepath.Join(rootfs, "usr/bin/busybox"))
	if err != nil {
		busybox, err = os.ReadFile(filepath.Join(rootfs, "bin/busybox"))
	}
	if err != nil {
		return fmt.Errorf("busybox for the initrd: %w (is busybox-static installed?)", err)
	}
	initScript, err := fs.ReadFile(templates.Image, "image/initrd-init")
	if err != nil {
		return err
	}
	gz := gzip.NewWriter(w)
	c := &cpioWriter{w: gz}
	for _, d := range []string{"bin", "dev", "proc", "sys", "root", "lib", "lib/modules"} {
		c.dir(d)
	}
	c.node("dev/console", 0o020600, 5, 1) // the kernel opens it before init runs
	c.file("bin/busybox", 0o755, busybox)
	c.file("init", 0o755, initScript)
	var names []string
	for _, m := range mods {
		data, err := os.ReadFile(filepath.Join(modDir, m))
		if err != nil {
			return err
		}
		c.file("lib/modules/"+path.Base(m), 0o644, data)
		names = append(names, path.Base(m))
	}
	c.file("modules.order", 0o644, []byte(strings.Join(names, "\n")+"\n"))
	c.trailer()
	if c.err != nil {
		return c.err
	}
	return gz.Close()
}

// cpioWriter writes the "newc" cpio format the kernel unpacks.
type cpioWriter struct {
	w   io.Writer
	ino int
	n   int64
	err error
}

func (c *cpioWriter) dir(name string)                      { c.entry(name, 0o040755, 0, 0, nil) }
func (c *cpioWriter) file(name string, perm int, b []byte) { c.entry(name, 0o100000|perm, 0, 0, b) }
func (c *cpioWriter) node(name string, mode, major, minor int) {
	c.entry(name, mode, major, minor, nil)
}
func (c *cpioWriter) trailer() { c.entry("TRAILER!!!", 0, 0, 0, nil) }

func (c *cpioWriter) entry(name string, mode, rmajor, rminor int, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := 1
	if mode&0o040000 != 0 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmajor, rminor, len(name)+1, 0)
	c.write([]byte(hdr + name + "\x00"))
	c.pad()
	c.write(data)
	c.pad()
}

func (c *cpioWriter) write(b []byte) {
	if c.err == nil {
		var n int
		n, c.err = c.w.Write(b)
		c.n += int64(n)
	}
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}
