package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/topology"
)

// Kind tells where a lab's disk comes from.
type Kind string

const (
	// Built is an image made by Build: direct kernel boot applies.
	Built Kind = "built"
	// UserDisk is a qcow2 (or raw) file given by path: it boots through its
	// own bootloader, so Kernel and Initrd are empty.
	UserDisk Kind = "disk"
	// Imported is a disk imported into the store ("lvslab image import"),
	// with what lvslab detected on it in its manifest.
	Imported Kind = "imported"
)

// Image is a resolved lab image.
type Image struct {
	Kind     Kind
	Name     string // image name, or the file's base name for a UserDisk
	Dir      string // image folder (Built only)
	Disk     string // absolute path of the disk to clone
	Format   string // "qcow2" or "raw"
	Kernel   string // direct kernel boot: path of vmlinuz (Built only)
	Initrd   string // direct kernel boot: path of initrd.img (Built only)
	Cmdline  string // direct kernel boot: kernel command line (Built only)
	Manifest *Manifest
}

// DirectBoot tells whether the image boots with libvirt's <kernel>/<initrd>.
func (i Image) DirectBoot() bool { return i.Kernel != "" }

// Boot is how the image starts: BootDirect, BootBIOS or BootUEFI. A disk
// given by path is taken to carry a BIOS bootloader.
func (i Image) Boot() string {
	switch {
	case i.DirectBoot():
		return BootDirect
	case i.Manifest != nil && i.Manifest.Detected != nil && i.Manifest.Detected.Boot != "":
		return i.Manifest.Detected.Boot
	}
	return BootBIOS
}

// OS names the image's OS: as detected on its disk, else lvslab's own
// image's Debian suite, else "unknown" (a disk given by path).
func (i Image) OS() string {
	switch {
	case i.Manifest != nil && i.Manifest.Detected != nil:
		return i.Manifest.Detected.OS()
	case i.Manifest != nil:
		return "Debian " + i.Manifest.Suite
	}
	return "unknown"
}

// Network is what manages the image's network: as detected on its disk,
// systemd-networkd on lvslab's own image, "" when unknown.
func (i Image) Network() string {
	switch {
	case i.Manifest != nil && i.Manifest.Detected != nil:
		return i.Manifest.Detected.Network
	case i.Kind == Built:
		return catalog.OwnerNetworkd
	}
	return ""
}

// Seeding is how a new VM of the image gets its first-boot settings:
// SeedAgent for lvslab's own images, else what was detected on the disk;
// a disk given by path is taken to run cloud-init.
func (i Image) Seeding() string {
	switch {
	case i.Manifest != nil && i.Manifest.Detected != nil:
		return i.Manifest.Detected.Seeding()
	case i.Kind == Built:
		return SeedAgent
	}
	return SeedCloudInit
}

// ErrNotBuilt is wrapped by the errors of Resolve and Remove for an image
// name that has no built image.
var ErrNotBuilt = errors.New("image not built")

// IsPath tells whether a lab's image: value names a file rather than a built
// image.
func IsPath(nameOrPath string) bool { return topology.ImageIsPath(nameOrPath) }

// Resolve turns a lab's image: value into the files to boot. A value with a
// slash or a disk file suffix is a path to the user's own disk; anything else
// is the name of an image built in dir (paths.Root's Images).
func Resolve(dir, nameOrPath string) (Image, error) {
	if nameOrPath == "" {
		nameOrPath = DefaultName
	}
	if IsPath(nameOrPath) {
		return resolveDisk(nameOrPath)
	}
	if err := CheckName(nameOrPath); err != nil {
		return Image{}, err
	}
	if dir == "" {
		return Image{}, errNoStore
	}
	return load(dir, nameOrPath)
}

func resolveDisk(path string) (Image, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Image{}, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return Image{}, fmt.Errorf("image disk %s: %w (give the path of an existing qcow2 file, or the name of an image built with \"lvslab image build\")", path, err)
	}
	if st.IsDir() {
		return Image{}, fmt.Errorf("image disk %s is a folder, not a disk file", path)
	}
	format, err := diskFormat(abs)
	if err != nil {
		return Image{}, err
	}
	return Image{Kind: UserDisk, Name: filepath.Base(abs), Disk: abs, Format: format}, nil
}

// diskFormat reads the qcow2 magic; anything else is taken as raw.
func diskFormat(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := f.Read(magic); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if string(magic) == "QFI\xfb" {
		return "qcow2", nil
	}
	return "raw", nil
}

func load(dir, name string) (Image, error) {
	idir := filepath.Join(dir, name)
	m, err := readManifest(idir)
	if errors.Is(err, fs.ErrNotExist) {
		return Image{}, fmt.Errorf("%w: no image %q in %s: build it with \"lvslab image build --name %s\" or import a disk with \"lvslab image import PATH --name %s\" (set %s or --dir if your images live elsewhere)", ErrNotBuilt, name, dir, name, name, paths.EnvImageDir)
	}
	if err != nil {
		return Image{}, err
	}
	img := Image{Kind: Built, Name: name, Dir: idir, Disk: filepath.Join(idir, DiskFile), Format: "qcow2", Manifest: &m}
	if m.Source != "" {
		img.Kind = Imported
	}
	files := []string{img.Disk}
	if m.Cmdline != "" {
		img.Kernel, img.Initrd, img.Cmdline = filepath.Join(idir, KernelFile), filepath.Join(idir, InitrdFile), m.Cmdline
		files = append(files, img.Kernel, img.Initrd)
	}
	for _, p := range files {
		if _, err := os.Stat(p); err != nil {
			again := fmt.Sprintf("rebuild it with \"lvslab image build --name %s --force\"", name)
			if img.Kind == Imported {
				again = fmt.Sprintf("import it again with \"lvslab image import %s --name %s --force\"", m.Source, name)
			}
			return Image{}, fmt.Errorf("image %q is incomplete (%v): %s", name, err, again)
		}
	}
	return img, nil
}

// List returns the built and imported images in dir, sorted by name. A
// missing store is an empty list.
func List(dir string) ([]Image, error) {
	if dir == "" {
		return nil, errNoStore
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, e := range entries {
		// Hidden entries are builds in progress and locks.
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		img, err := load(dir, e.Name())
		if err != nil {
			continue
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a built image. Linked clones need their backing disk:
// Remove refuses while a running VM holds it open, but a stopped lab made
// from the image breaks, so take labs down first.
func Remove(dir, name string) error {
	if dir == "" {
		return errNoStore
	}
	if err := CheckName(name); err != nil {
		return err
	}
	idir := filepath.Join(dir, name)
	if _, err := os.Stat(idir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: no image %q in %s (see \"lvslab image ls\")", ErrNotBuilt, name, dir)
	}
	unlock, err := lock(dir, name)
	if err != nil {
		return err
	}
	defer unlock()
	if err := checkUnused(dir, name); err != nil {
		return err
	}
	// Rename first so that a half-deleted image never looks valid.
	trash, err := os.MkdirTemp(dir, ".rm-"+name+"-")
	if err != nil {
		return err
	}
	if err := os.Rename(idir, filepath.Join(trash, name)); err != nil {
		os.Remove(trash)
		return err
	}
	return os.RemoveAll(trash)
}
