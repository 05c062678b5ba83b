package image

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/lvslab/lvslab/roles/catalog"
)

// FlavorRecipeRevision is RecipeRevision for the cloud and base recipes,
// which change on their own: lvslab's recipe's changes (the udev rule of its
// revision 4, say) are not theirs, so they do not rebuild those images. 3:
// the first, numbered from lvslab's revision when the flavors were made.
const FlavorRecipeRevision = 3

// recipeRevision is the revision of o.Flavor's recipe.
func (o Options) recipeRevision() int {
	if o.Flavor == FlavorLvslab {
		return RecipeRevision
	}
	return FlavorRecipeRevision
}

// flavorPackages are installed on top of the lab packages (Packages less
// the tiny initrd's busybox) by the cloud and base flavors: GRUB's BIOS
// files and tools, and D-Bus (hostnamectl, as on a distribution's disk).
// python3-cffi-backend is named because debootstrap does not resolve
// virtual packages: cloud-init's python3-cryptography depends on the
// python3-cffi-backend-api-* it provides, and without it debootstrap
// fails "configuring base packages".
var flavorPackages = map[string][]string{
	FlavorCloud: {"grub-pc-bin", "dbus", "sudo", "cloud-init", "python3-cffi-backend"},
	FlavorBase:  {"grub-pc-bin", "dbus"},
}

// partitionStart is where the root partition begins: 1 MiB, as
// partitioners align it; GRUB's core image lives in the gap before it.
const partitionStart int64 = 1 << 20

// grubModules are built into GRUB's core image, so that nothing but
// grub.cfg has to be found on the disk.
var grubModules = []string{"biosdisk", "part_msdos", "ext2", "normal", "linux", "serial", "terminal",
	"configfile", "echo", "test", "gzio", "search", "search_fs_uuid"}

// flavorCmdline is the kernel command line of a flavor's GRUB entry, as a
// distribution writes it: the serial console, the root by UUID. The base
// image names NICs eth0, eth1, ... (net.ifnames=0) as the classroom's
// disks do; the cloud image keeps the kernel's predictable names (ens3).
func flavorCmdline(flavor, uuid string) string {
	s := "root=UUID=" + uuid + " ro console=tty0 console=ttyS0,115200"
	if flavor == FlavorBase {
		s += " net.ifnames=0 biosdevname=0"
	}
	return s
}

func (o Options) flavorPackages() []string {
	var out []string
	for _, p := range Packages {
		if p != "busybox-static" {
			out = append(out, p)
		}
	}
	return append(append(out, flavorPackages[o.Flavor]...), o.ExtraPackages...)
}

// flavorBuild is the state of a cloud or base build beyond builder's.
type flavorBuild struct {
	*builder
	uuid string // the root filesystem's
	core []byte // GRUB's core image
	boot []byte // GRUB's boot.img
}

// runFlavor performs the cloud or base recipe and returns the manifest.
func (b *builder) runFlavor(ctx context.Context) (Manifest, error) {
	if b.o.Flavor == FlavorBase && b.o.RootPassword == "" {
		return Manifest{}, errors.New("a base image needs root's password (--root-password): the console login is how lvslab and students get in")
	}
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		return Manifest{}, err
	}
	f := &flavorBuild{builder: b, uuid: newUUID()}
	raw := filepath.Join(b.tmp, "disk.raw")
	disk := filepath.Join(b.out, DiskFile)
	err := runPhases(ctx, b.o.Progress, []phase{
		{b.rootfsTitle(), func() error { return b.makeRootfs(ctx) }},
		{"configure the guest as a " + b.o.Flavor + " image (" + flavorSummary(b.o.Flavor) + ")", func() error { return f.configure(ctx) }},
		{"GRUB: core image, boot menu on the serial console", func() error { return f.grub(ctx) }},
		{"remove docs, locales, caches and host keys", func() error {
			return slimWith(b.rootfs, slices.DeleteFunc(slices.Clone(slimGlobs), func(g string) bool { return g == "boot/*" }))
		}},
		{"make the ext4 root partition at 1 MiB", func() error {
			return b.cmd(ctx, Command{Name: "mkfs.ext4", Args: []string{"-q", "-F", "-L", "root", "-U", f.uuid,
				"-E", "offset=" + strconv.FormatInt(partitionStart, 10), "-d", b.rootfs, raw,
				strconv.FormatInt((b.o.DiskSize-partitionStart)/1024, 10) + "k"}})
		}},
		{"DOS partition table, GRUB in the MBR and the gap", func() error { return f.bootSector(raw) }},
		{"convert to qcow2", func() error { return b.toQcow2(ctx, raw, disk) }},
	})
	if err != nil {
		return Manifest{}, err
	}
	return f.manifest(disk), nil
}

func flavorSummary(flavor string) string {
	if flavor == FlavorCloud {
		return "cloud-init, systemd-networkd, no lvslab agent"
	}
	return "root password, serial getty, systemd-networkd, no cloud-init, no lvslab agent"
}

// toQcow2 converts the raw disk and removes it.
func (b *builder) toQcow2(ctx context.Context, raw, disk string) error {
	args := []string{"convert", "-O", "qcow2", raw, disk}
	if b.o.Compress {
		args = []string{"convert", "-c", "-O", "qcow2", raw, disk}
	}
	if err := b.cmd(ctx, Command{Name: "qemu-img", Args: args}); err != nil {
		return err
	}
	return os.Remove(raw)
}

// configure writes the flavor's files and sets its units and root's
// password, as a distribution's image build does; nothing of lvslab's
// agent or its boot-time tuning.
func (f *flavorBuild) configure(ctx context.Context) error {
	kver, err := kernelVersion(f.rootfs)
	if err != nil {
		return err
	}
	f.kver = kver
	if _, err := os.Stat(filepath.Join(f.rootfs, "boot", "initrd.img-"+kver)); err != nil {
		return fmt.Errorf("no initrd for kernel %s in the guest's /boot (initramfs-tools should make it): %w", kver, err)
	}
	if err := writeGuestFiles(f.rootfs, f.files()); err != nil {
		return err
	}
	enable := []string{"systemd-networkd.service", "ssh.service"}
	if f.o.Flavor == FlavorBase {
		enable = append(enable, "serial-getty@ttyS0.service")
	}
	// Both web servers would take port 80 at boot; the labs start theirs.
	if err := f.units(ctx, enable, nil, disableUnits); err != nil {
		return err
	}
	if f.o.RootPassword != "" {
		return f.chpasswd(ctx)
	}
	return nil
}

// files are the flavor's own: the root filesystem by UUID, a hostname,
// an empty machine-id (each clone makes its own) and, for the base image,
// host keys made at boot when none is there (cloud-init makes them on the
// cloud image, whose renderer is named).
func (f *flavorBuild) files() []guestFile {
	files := []guestFile{
		{"/etc/fstab", 0o644, "UUID=" + f.uuid + " / ext4 errors=remount-ro 0 1\n"},
		{"/etc/hostname", 0o644, "debian\n"},
		{"/etc/hosts", 0o644, "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
		{"/etc/machine-id", 0o444, ""},
		{"/etc/resolv.conf", 0o644, ""},
	}
	switch f.o.Flavor {
	case FlavorBase:
		// Debian's own pre-check (sshd -t) fails without host keys: the
		// list is reset, the keys made, then the check.
		files = append(files, guestFile{"/etc/systemd/system/ssh.service.d/host-keys.conf", 0o644,
			"# No host key is baked into the image: make them at the first boot.\n[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n"})
	case FlavorCloud:
		// cloud-init writes the guest's network with systemd-networkd, the
		// one manager installed, whatever order its distribution lists.
		files = append(files, guestFile{"/etc/cloud/cloud.cfg.d/10-networkd.cfg", 0o644,
			"# The image's network manager is systemd-networkd.\nsystem_info:\n  network:\n    renderers: [networkd]\n"})
	}
	return files
}

// grub makes GRUB's core image with the guest's own grub-mkimage (its
// modules built in, the prefix on the first partition), copies the modules
// into /boot/grub as grub-install does, and writes the boot menu.
func (f *flavorBuild) grub(ctx context.Context) error {
	const core = "/tmp/lvslab-grub-core.img"
	args := append([]string{"grub-mkimage", "-O", "i386-pc", "-d", "/usr/lib/grub/i386-pc", "-o", core,
		"-p", "(hd0,msdos1)/boot/grub"}, grubModules...)
	if err := f.chroot(ctx, "", args...); err != nil {
		return err
	}
	var err error
	if f.core, err = os.ReadFile(filepath.Join(f.rootfs, core)); err != nil {
		return fmt.Errorf("GRUB's core image: %w", err)
	}
	os.Remove(filepath.Join(f.rootfs, core))
	if f.boot, err = os.ReadFile(filepath.Join(f.rootfs, "usr/lib/grub/i386-pc/boot.img")); err != nil {
		return fmt.Errorf("GRUB's boot.img (package grub-pc-bin): %w", err)
	}
	if err := os.MkdirAll(filepath.Join(f.rootfs, "boot/grub"), 0o755); err != nil {
		return err
	}
	if err := f.cmd(ctx, Command{Name: "cp", Args: []string{"-a", filepath.Join(f.rootfs, "usr/lib/grub/i386-pc"), filepath.Join(f.rootfs, "boot/grub/i386-pc")}}); err != nil {
		return err
	}
	return writeGuestFiles(f.rootfs, []guestFile{{"/boot/grub/grub.cfg", 0o644, grubConfig(f.o.Flavor, f.uuid, f.kver)}})
}

// grubConfig is the boot menu: on the serial console (where a classroom's
// student and lvslab's console login meet the VM), one entry, no wait.
func grubConfig(flavor, uuid, kver string) string {
	return fmt.Sprintf(`# The %s image's boot menu, written when lvslab built it.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
set default=0
menuentry "Debian GNU/Linux, kernel %s" {
	linux /boot/vmlinuz-%s %s
	initrd /boot/initrd.img-%s
}
`, flavor, kver, kver, flavorCmdline(flavor, uuid), kver)
}

// bootSector writes the DOS partition table and GRUB into the raw disk.
func (f *flavorBuild) bootSector(raw string) error {
	d, err := os.OpenFile(raw, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	var id [4]byte
	_, _ = rand.Read(id[:])
	if err := writeMBR(d, partitionStart, f.o.DiskSize, binary.LittleEndian.Uint32(id[:])); err != nil {
		return err
	}
	if err := embedGRUB(d, f.boot, f.core, partitionStart); err != nil {
		return err
	}
	return d.Close()
}

// manifest records the image and what the recipe put on it.
func (f *flavorBuild) manifest(disk string) Manifest {
	rel, _ := os.ReadFile(filepath.Join(f.rootfs, "etc/os-release"))
	v := osReleaseValues(string(rel))
	family, _ := catalog.OSFamily(string(rel))
	return Manifest{
		Name: f.o.Name, Suite: f.o.Suite, Flavor: f.o.Flavor, Created: time.Now().UTC().Round(time.Second),
		KernelVersion: f.kver, Packages: f.o.packages(), DiskBytes: fileSize(disk), VirtualBytes: f.o.DiskSize,
		RootPassword: f.o.RootPassword != "", Compressed: f.o.Compress, Recipe: FlavorRecipeRevision,
		Detected: &Detected{
			Table: TableMBR, Root: "vda1", RootFS: "ext4", Readable: true,
			OSID: v["ID"], OSFamily: family, OSVersion: v["VERSION_ID"], OSName: v["PRETTY_NAME"],
			CloudInit: f.o.Flavor == FlavorCloud, Boot: BootBIOS, Bootloader: "grub", Network: catalog.OwnerNetworkd,
			Kernel: "/boot/vmlinuz-" + f.kver, Initrd: "/boot/initrd.img-" + f.kver,
		},
	}
}

// newUUID is a random (version 4) UUID.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// flavorOf is the flavor an image was built as.
func flavorOf(img Image) string {
	if img.Manifest == nil || img.Manifest.Flavor == "" {
		return FlavorLvslab
	}
	return img.Manifest.Flavor
}
