package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/lvslab/lvslab/provision/progress"
)

// ImportOptions describe one "lvslab image import".
type ImportOptions struct {
	Path  string // the disk: qcow2 or raw
	Name  string // image name; default ImportName(Path)
	Dir   string // image store (paths.Root's Images)
	Force bool   // replace an image of that name
	// Progress receives the import's events (each phase, then ImportDone);
	// nil drops them.
	Progress progress.Sink
	// Runner runs qemu-img; nil runs it for real.
	Runner Runner
}

var notNameChars = regexp.MustCompile(`[^a-z0-9._-]+`)

// ImportName is the image name a disk file gets by default: its base name
// without the disk suffix, in the characters a name allows
// ("Rocky-9-GenericCloud.latest.x86_64.qcow2" -> "rocky-9-genericcloud.latest.x86_64").
func ImportName(path string) string {
	base := strings.ToLower(filepath.Base(path))
	for _, ext := range []string{".qcow2", ".img", ".raw"} {
		base = strings.TrimSuffix(base, ext)
	}
	base = strings.Trim(notNameChars.ReplaceAllString(base, "-"), "-._")
	if len(base) > 63 {
		base = strings.TrimRight(base[:63], "-._")
	}
	if base == "" {
		base = "imported"
	}
	return base
}

// Import copies a disk into the store as image o.Name (a self-contained
// qcow2, backing files flattened) with what Detect reads on it, so that
// labs name it like a built image. A disk with no bootloader but a kernel
// in /boot gets the kernel and initrd beside it, for direct kernel boot.
// The work happens in a hidden folder that is renamed into place.
func Import(ctx context.Context, opts ImportOptions) (Image, error) {
	o, src, err := opts.withDefaults()
	if err != nil {
		return Image{}, err
	}
	unlock, err := lock(o.Dir, o.Name)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	if old, err := load(o.Dir, o.Name); err == nil && !o.Force {
		return Image{}, fmt.Errorf("image %q exists already (%s): --force replaces it, or choose another --name", o.Name, old.Dir)
	}
	if err := checkUnused(o.Dir, o.Name); err != nil {
		return Image{}, err
	}
	tmp, err := os.MkdirTemp(o.Dir, "."+o.Name+".import-")
	if err != nil {
		return Image{}, err
	}
	defer removeTree(tmp)
	out, raw := filepath.Join(tmp, "out"), filepath.Join(tmp, "disk.raw")
	if err := os.Mkdir(out, 0o755); err != nil {
		return Image{}, err
	}
	start := time.Now()
	m := Manifest{Name: o.Name, Source: src, Created: start.UTC().Round(time.Second)}
	err = runPhases(ctx, o.Progress, []phase{
		{"read " + filepath.Base(src) + " (qemu-img, into a sparse raw file)", func() error {
			return o.qemuImg(ctx, "convert", "-O", "raw", src, raw)
		}},
		{"detect the OS, cloud-init, bootloader and network owner", func() error { return detectInto(ctx, &m, raw, out) }},
		{"write " + DiskFile, func() error { return o.qemuImg(ctx, "convert", "-O", "qcow2", raw, filepath.Join(out, DiskFile)) }},
	})
	if err != nil {
		return Image{}, fmt.Errorf("import %s: %w", src, err)
	}
	m.VirtualBytes, m.DiskBytes = fileSize(raw), fileSize(filepath.Join(out, DiskFile))
	m.BuildSeconds = time.Since(start).Seconds()
	if err := writeManifest(out, m); err != nil {
		return Image{}, err
	}
	if err := replaceDir(out, filepath.Join(o.Dir, o.Name), tmp); err != nil {
		return Image{}, err
	}
	d := m.Detected
	o.Progress.Emit(progress.ImportDone{Name: o.Name, Dir: filepath.Join(o.Dir, o.Name), OS: d.OS(), Boot: BootText(d.Boot, d.Bootloader),
		Seeding: d.Seeding(), Network: d.Network, Elapsed: progress.Since(start)})
	return load(o.Dir, o.Name)
}

func (o ImportOptions) withDefaults() (ImportOptions, string, error) {
	src, err := filepath.Abs(o.Path)
	if err != nil {
		return o, "", err
	}
	st, err := os.Stat(src)
	if err != nil {
		return o, "", fmt.Errorf("image disk %s: %w (give the path of a qcow2 or raw disk file)", o.Path, err)
	}
	if !st.Mode().IsRegular() {
		return o, "", fmt.Errorf("image disk %s is not a regular file", o.Path)
	}
	if o.Name == "" {
		o.Name = ImportName(src)
	}
	if err := CheckName(o.Name); err != nil {
		return o, "", err
	}
	if o.Dir == "" {
		return o, "", errNoStore
	}
	o.Progress = progress.Or(o.Progress)
	if o.Runner == nil {
		o.Runner = ExecRunner{}
	}
	return o, src, nil
}

// qemuImg runs qemu-img; its output comes back with a failure only.
func (o ImportOptions) qemuImg(ctx context.Context, args ...string) error {
	var out bytes.Buffer
	if err := o.Runner.Run(ctx, Command{Name: "qemu-img", Args: args}, &out); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// detectInto reads the raw disk into m.Detected and, for a disk that only
// boots with lvslab's help, copies its kernel and initrd into dir.
func detectInto(ctx context.Context, m *Manifest, raw, dir string) error {
	d, err := Detect(ctx, raw)
	if err != nil {
		return err
	}
	m.Detected = &d
	switch d.Boot {
	case "":
		return errors.New("no bootloader (no GRUB in the MBR, no EFI system partition) and no kernel in /boot: lvslab cannot boot it")
	case BootDirect:
		return extractKernel(ctx, m, raw, dir)
	}
	return nil
}

// extractKernel copies the root filesystem's kernel and initrd beside the
// disk and sets the command line that boots them from it.
func extractKernel(ctx context.Context, m *Manifest, raw, dir string) error {
	f, err := os.Open(raw)
	if err != nil {
		return err
	}
	t, err := ReadPartitionTable(f)
	f.Close()
	if err != nil {
		return err
	}
	var offset int64
	for _, p := range t.Partitions {
		if partName(p) == m.Detected.Root {
			offset = p.Start
		}
	}
	x := openExtFS(ctx, raw, offset)
	if err := x.Dump(m.Detected.Kernel, filepath.Join(dir, KernelFile)); err != nil {
		return fmt.Errorf("copy the kernel %s: %w", m.Detected.Kernel, err)
	}
	if err := x.Dump(m.Detected.Initrd, filepath.Join(dir, InitrdFile)); err != nil {
		return fmt.Errorf("copy the initrd %s: %w", m.Detected.Initrd, err)
	}
	m.KernelBytes, m.InitrdBytes = fileSize(filepath.Join(dir, KernelFile)), fileSize(filepath.Join(dir, InitrdFile))
	m.Cmdline = "root=/dev/" + m.Detected.Root + " rw console=ttyS0,115200"
	return nil
}

// BootText says how an image boots, for people: "direct kernel boot",
// "its own bootloader (grub, BIOS)".
func BootText(boot, loader string) string {
	switch boot {
	case BootDirect:
		return "direct kernel boot"
	case BootBIOS, BootUEFI:
		if loader == "" {
			return "its own bootloader (" + strings.ToUpper(boot) + ")"
		}
		return "its own bootloader (" + loader + ", " + strings.ToUpper(boot) + ")"
	}
	return "no way to boot"
}
