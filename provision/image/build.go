package image

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvslab/lvslab/provision/localhost"
	"github.com/lvslab/lvslab/provision/progress"
	"golang.org/x/sys/unix"
)

// tools the real build runs on the host.
var hostTools = map[string]string{
	"debootstrap": "debootstrap",
	"unshare":     "util-linux",
	"chroot":      "coreutils",
	"mkfs.ext4":   "e2fsprogs",
	"qemu-img":    "qemu-utils",
}

// Build makes the image o.Name in o.Dir and returns it. An image that is
// already built is returned as is unless o.Force. The work happens in a
// hidden folder of o.Dir that is renamed into place at the end, so a failed
// or interrupted build leaves no image behind.
func Build(ctx context.Context, opts Options) (Image, error) {
	o := opts.withDefaults()
	if err := CheckName(o.Name); err != nil {
		return Image{}, err
	}
	if o.Dir == "" {
		return Image{}, errNoStore
	}
	if err := checkFlavor(o.Flavor); err != nil {
		return Image{}, err
	}
	unlock, err := lock(o.Dir, o.Name)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	if !o.Force {
		if img, err := load(o.Dir, o.Name); err == nil {
			missing := slices.DeleteFunc(o.packages(), func(p string) bool { return slices.Contains(img.Manifest.Packages, p) })
			switch {
			case img.Kind == Imported:
				return Image{}, fmt.Errorf("image %q was imported from %s: choose another --name, or --force to replace it", o.Name, img.Manifest.Source)
			case flavorOf(img) != o.Flavor:
				return Image{}, fmt.Errorf("image %q is a %s image, not a %s one: choose another --name, or --force to replace it", o.Name, flavorOf(img), o.Flavor)
			case len(missing) > 0:
				// The recipe grew (nginx for reference 003, say): labs would
				// need packages the image lacks, and a lab VM cannot download.
				o.Progress.Emit(progress.BuildStale{Name: o.Name, Missing: missing, Recipe: img.Manifest.Recipe, Now: o.recipeRevision()})
			case img.Manifest.Recipe < o.recipeRevision():
				o.Progress.Emit(progress.BuildStale{Name: o.Name, Recipe: img.Manifest.Recipe, Now: o.recipeRevision()})
			default:
				o.Progress.Emit(progress.BuildExists{Name: o.Name, Dir: img.Dir})
				return img, nil
			}
		}
	}
	if err := checkUnused(o.Dir, o.Name); err != nil {
		return Image{}, err
	}
	if _, real := o.Runner.(ExecRunner); real {
		if err := checkHost(); err != nil {
			return Image{}, err
		}
	}
	tmp, err := os.MkdirTemp(o.Dir, "."+o.Name+".build-")
	if err != nil {
		return Image{}, err
	}
	defer removeTree(tmp)

	logPath := filepath.Join(tmp, LogFile)
	logf, err := os.Create(logPath)
	if err != nil {
		return Image{}, err
	}
	defer logf.Close()
	b := &builder{o: o, tmp: tmp, rootfs: filepath.Join(tmp, "rootfs"), out: filepath.Join(tmp, "out"), log: logf}
	start := time.Now()
	run := b.run
	if o.Flavor != FlavorLvslab {
		run = b.runFlavor
	}
	m, err := run(ctx)
	if err != nil {
		return Image{}, b.failure(err, logPath)
	}
	m.BuildSeconds = time.Since(start).Seconds()
	if err := writeManifest(b.out, m); err != nil {
		return Image{}, err
	}
	logf.Close()
	os.Rename(logPath, filepath.Join(b.out, LogFile))
	if err := replaceDir(b.out, filepath.Join(o.Dir, o.Name), tmp); err != nil {
		return Image{}, err
	}
	o.Progress.Emit(progress.BuildDone{Name: o.Name, Dir: filepath.Join(o.Dir, o.Name), DiskBytes: m.DiskBytes, Elapsed: progress.Since(start)})
	return load(o.Dir, o.Name)
}

func checkHost() error {
	return localhost.Require("building an image needs root (debootstrap and chroot): run \"sudo lvslab image build\"",
		"to build images", hostTools)
}

// replaceDir moves src to dst; an existing dst is moved into trash first, so
// that dst is never missing or half-written for long.
func replaceDir(src, dst, trash string) error {
	if _, err := os.Stat(dst); err == nil {
		if err := os.Rename(dst, filepath.Join(trash, "old")); err != nil {
			return err
		}
	}
	return os.Rename(src, dst)
}

// failure keeps the build log outside the removed folder and names it.
func (b *builder) failure(err error, logPath string) error {
	b.log.Close()
	kept := filepath.Join(os.TempDir(), "lvslab-image-"+b.o.Name+"-failed.log")
	if data, rerr := os.ReadFile(logPath); rerr == nil {
		os.WriteFile(kept, data, 0o644)
		return fmt.Errorf("build image %q: %w\n%s\n(full log: %s)", b.o.Name, err, tail(string(data), 15), kept)
	}
	return fmt.Errorf("build image %q: %w", b.o.Name, err)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}

// removeTree deletes a build folder, first detaching any mount left inside
// it by an interrupted chroot step, so that RemoveAll never walks into /proc
// or /dev of the host.
func removeTree(dir string) {
	for _, mnt := range mountsUnder(dir) {
		unix.Unmount(mnt, unix.MNT_DETACH)
	}
	if len(mountsUnder(dir)) > 0 {
		return // better a leftover folder than a damaged host
	}
	os.RemoveAll(dir)
}

// mountsUnder lists the mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mnt := unescapeMount(fields[4])
		if strings.HasPrefix(mnt, dir+"/") {
			out = append([]string{mnt}, out...)
		}
	}
	return out
}

// unescapeMount decodes the octal escapes (\040 for space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// fileSize returns a file's size, 0 when it cannot be read.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
