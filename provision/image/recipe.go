package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// builder holds the state of one build in its temporary folder.
type builder struct {
	o      Options
	tmp    string // hidden work folder in the store
	rootfs string // debootstrap target
	out    string // becomes <Dir>/<name>
	log    *os.File
	kver   string
}

// chrootEnv keeps the guest's tools from seeing the build host's locale and
// from asking questions.
var chrootEnv = []string{"LC_ALL=C", "DEBIAN_FRONTEND=noninteractive", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}

func (b *builder) cmd(ctx context.Context, c Command) error {
	fmt.Fprintf(b.log, "+ %s\n", c)
	return b.o.Runner.Run(ctx, c, b.log)
}

func (b *builder) chroot(ctx context.Context, stdin string, args ...string) error {
	return b.cmd(ctx, Command{Name: "chroot", Args: append([]string{b.rootfs}, args...), Env: chrootEnv, Stdin: stdin})
}

// debootstrapCommand runs debootstrap in a private mount namespace: the /proc
// and /sys it mounts in the target vanish with it even if it is killed.
func (b *builder) debootstrapCommand() Command {
	args := []string{"--mount", "--propagation", "private", "--", "debootstrap",
		"--variant=minbase", "--include=" + strings.Join(b.o.packages(), ","),
		b.o.Suite, b.rootfs}
	if b.o.Mirror != "" {
		args = append(args, b.o.Mirror)
	}
	return Command{Name: "unshare", Args: args, Env: []string{"LC_ALL=C"}}
}

// cacheDir is where the bare debootstrap result is kept, keyed by what
// debootstrap was asked for, so that rebuilding (--force, another root
// password) skips the slow download.
func (b *builder) cacheDir() string {
	key := sha256.Sum256([]byte(b.o.Suite + "\n" + b.o.Mirror + "\n" + strings.Join(b.o.packages(), ",")))
	return filepath.Join(b.o.Dir, ".debootstrap", b.o.Suite+"-"+hex.EncodeToString(key[:6]))
}

func (b *builder) rootfsTitle() string {
	if _, err := os.Stat(b.cacheDir()); err == nil && !b.o.Fresh {
		return "copy the cached debootstrap of " + b.o.Suite + " (--fresh downloads it again)"
	}
	return "debootstrap " + b.o.Suite + " (downloads ~100 MB, the longest step)"
}

// makeRootfs fills b.rootfs from the cache or with debootstrap (then caches
// it). cp -a keeps owners and the file capabilities of ping.
func (b *builder) makeRootfs(ctx context.Context) error {
	cache := b.cacheDir()
	if _, err := os.Stat(cache); err == nil && !b.o.Fresh {
		return b.cmd(ctx, Command{Name: "cp", Args: []string{"-a", cache, b.rootfs}})
	}
	if err := b.cmd(ctx, b.debootstrapCommand()); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
		return err
	}
	tmp := cache + ".new"
	removeTree(tmp)
	if err := b.cmd(ctx, Command{Name: "cp", Args: []string{"-a", b.rootfs, tmp}}); err != nil {
		removeTree(tmp)
		return err
	}
	// One cache per suite is enough: drop those of older package lists.
	olds, _ := filepath.Glob(filepath.Join(filepath.Dir(cache), b.o.Suite+"-*"))
	for _, old := range olds {
		if old != tmp {
			removeTree(old)
		}
	}
	return os.Rename(tmp, cache)
}

// run performs the recipe and returns the manifest of the new image.
func (b *builder) run(ctx context.Context) (Manifest, error) {
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		return Manifest{}, err
	}
	raw := filepath.Join(b.tmp, "disk.raw")
	disk := filepath.Join(b.out, DiskFile)
	err := runPhases(ctx, b.o.Progress, []phase{
		{b.rootfsTitle(), func() error { return b.makeRootfs(ctx) }},
		{"configure the guest (seed unit, ssh, masked units)", func() error { return b.configure(ctx) }},
		{"keep only the kernel modules a lab VM needs", func() error { return b.trimModules(ctx) }},
		{"make a tiny initrd (busybox, virtio and ext4 modules)", func() error { return b.initrd(ctx) }},
		{"remove docs, locales and caches", func() error { return slim(b.rootfs) }},
		{"make the ext4 filesystem", func() error {
			return b.cmd(ctx, Command{Name: "mkfs.ext4", Args: []string{"-q", "-F", "-L", "lvslab-root",
				"-d", b.rootfs, raw, strconv.FormatInt(b.o.DiskSize/1024, 10) + "k"}})
		}},
		{"convert to qcow2", func() error { return b.toQcow2(ctx, raw, disk) }},
	})
	if err != nil {
		return Manifest{}, err
	}
	return Manifest{
		Name:          b.o.Name,
		Suite:         b.o.Suite,
		Created:       time.Now().UTC().Round(time.Second),
		KernelVersion: b.kver,
		Cmdline:       Cmdline,
		Packages:      b.o.packages(),
		DiskBytes:     fileSize(disk),
		VirtualBytes:  b.o.DiskSize,
		KernelBytes:   fileSize(filepath.Join(b.out, KernelFile)),
		InitrdBytes:   fileSize(filepath.Join(b.out, InitrdFile)),
		RootPassword:  b.o.RootPassword != "",
		Compressed:    b.o.Compress,
		Recipe:        RecipeRevision,
	}, nil
}

func (b *builder) configure(ctx context.Context) error {
	kver, err := kernelVersion(b.rootfs)
	if err != nil {
		return err
	}
	b.kver = kver
	files, err := guestFiles(b.o, noReexecWorks(b.rootfs))
	if err != nil {
		return err
	}
	if err := writeGuestFiles(b.rootfs, files); err != nil {
		return err
	}
	if err := b.units(ctx, enableUnits, maskUnits, disableUnits); err != nil {
		return err
	}
	if b.o.RootPassword != "" {
		return b.chpasswd(ctx)
	}
	// No password ("*"), rather than "passwd --lock" ("!"): sshd without
	// PAM refuses a locked account even its keys (see sshdFast).
	return b.chroot(ctx, "", "usermod", "--password", "*", "root")
}

// units enables, masks and disables units in the guest ("systemctl VERB
// UNIT..." for each list that is not empty).
func (b *builder) units(ctx context.Context, enable, mask, disable []string) error {
	for _, v := range []struct {
		verb  string
		units []string
	}{{"enable", enable}, {"mask", mask}, {"disable", disable}} {
		if len(v.units) == 0 {
			continue
		}
		if err := b.chroot(ctx, "", append([]string{"systemctl", v.verb}, v.units...)...); err != nil {
			return err
		}
	}
	return nil
}

// chpasswd gives root its password (Options.RootPassword) in the guest;
// the password goes on chpasswd's input, never on a command line or in
// the build log.
func (b *builder) chpasswd(ctx context.Context) error {
	return b.chroot(ctx, "root:"+b.o.RootPassword+"\n", "chpasswd")
}

// noReexecWorks tells whether the sshd in rootfs takes -r (no re-exec per
// connection): OpenSSH before 9.8, as dpkg's status records it. Unknown
// means no.
func noReexecWorks(rootfs string) bool {
	data, err := os.ReadFile(filepath.Join(rootfs, "var/lib/dpkg/status"))
	if err != nil {
		return false
	}
	for _, stanza := range strings.Split(string(data), "\n\n") {
		if !strings.Contains("\n"+stanza+"\n", "\nPackage: openssh-server\n") {
			continue
		}
		for _, line := range strings.Split(stanza, "\n") {
			if v, ok := strings.CutPrefix(line, "Version: "); ok {
				return opensshBefore(v, 9, 8)
			}
		}
	}
	return false
}

// opensshBefore tells whether a Debian version of OpenSSH ("1:9.2p1-2+deb12u3")
// is older than major.minor.
func opensshBefore(version string, major, minor int) bool {
	if _, v, ok := strings.Cut(version, ":"); ok {
		version = v
	}
	maj, rest, ok := strings.Cut(version, ".")
	if !ok {
		return false
	}
	// The minor version is the digits before "p1-2+deb12u3".
	mi := rest[:len(rest)-len(strings.TrimLeft(rest, "0123456789"))]
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(mi)
	if err1 != nil || err2 != nil {
		return false
	}
	return a < major || (a == major && b < minor)
}

func (b *builder) trimModules(ctx context.Context) error {
	kept, removed, err := pruneModules(filepath.Join(b.rootfs, "lib/modules", b.kver))
	if err != nil {
		return err
	}
	fmt.Fprintf(b.log, "kernel modules: kept %d, removed %d\n", kept, removed)
	return b.chroot(ctx, "", "depmod", "-a", b.kver)
}

// initrd writes lvslab's tiny initrd (see templates/image/initrd-init) and
// copies it and the kernel out for direct kernel boot.
func (b *builder) initrd(ctx context.Context) error {
	if err := copyFile(filepath.Join(b.rootfs, "boot", "vmlinuz-"+b.kver), filepath.Join(b.out, KernelFile), 0o644); err != nil {
		return fmt.Errorf("copy kernel: %w", err)
	}
	f, err := os.Create(filepath.Join(b.out, InitrdFile))
	if err != nil {
		return err
	}
	if err := writeInitrd(f, b.rootfs, b.kver); err != nil {
		f.Close()
		return fmt.Errorf("make the initrd: %w", err)
	}
	return f.Close()
}
