// Package image builds and stores the lab's guest images: a small Debian
// root filesystem in a qcow2 disk plus the kernel and initrd beside it, so
// that libvirt can boot clones directly (no bootloader) and quickly under
// QEMU TCG.
package image

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/topology"
)

// Defaults used when Options leave a field empty.
const (
	DefaultName  = "debian-12"
	DefaultSuite = "bookworm"
	// DefaultDiskSize leaves room for the exercises' own packages (nginx, ...);
	// unused space costs nothing in the qcow2 file.
	DefaultDiskSize int64 = 2 << 30
)

// Packages installed by debootstrap on top of the minbase variant.
var Packages = []string{
	"systemd-sysv", "udev", "openssh-server", "ipvsadm", "iproute2", "curl",
	"apache2", "nginx", "kmod", "procps", "iputils-ping", "netbase", "initramfs-tools",
	"nftables", // firewall-mark services: the marking rules (reference 003's 80+443)
	"socat",    // UDP services: the web nodes' UDP responder
	// keepalived labs; its unit starts only with a non-empty keepalived.conf,
	// which the package does not ship (ConditionFileNotEmpty).
	"keepalived",
	// lvslab's way in when the student cut mgmt0 or sshd off: udev starts
	// it when the domain's org.qemu.guest_agent.0 port appears
	// (virtio_console is kept), and libvirt reaches it with no network.
	"qemu-guest-agent",
	"linux-image-amd64",
	"busybox-static", // the tiny initrd's only program
}

// Options describe one image build.
type Options struct {
	Name   string // image name, also its folder in Dir; default "debian-12"
	Suite  string // Debian suite; default "bookworm"
	Mirror string // Debian mirror URL; empty uses debootstrap's default
	Dir    string // image store (paths.Root's Images)
	Force  bool   // rebuild even when the image exists
	// Fresh ignores (and replaces) the cached debootstrap result, to pick up
	// new package versions.
	Fresh bool
	// Progress receives the build's events (each phase as it starts and
	// ends); nil discards them.
	Progress progress.Sink
	// RootPassword sets root's password (serial console and SSH) for
	// classroom use; empty leaves root without one (key login only).
	RootPassword string
	// ExtraPackages are added to Packages.
	ExtraPackages []string
	// Compress writes a compressed qcow2 (about a third of the size; QEMU
	// decompresses the base image's clusters as guests read them).
	Compress bool
	// DiskSize is the filesystem size in bytes; default DefaultDiskSize.
	DiskSize int64
	// Runner runs the external commands; nil runs them for real. Tests
	// inject a fake.
	Runner Runner
	// Flavor is the recipe: FlavorLvslab (default), FlavorCloud or
	// FlavorBase.
	Flavor string
}

// Flavors of "lvslab image build": lvslab's own image, or a disk made the
// way distributions make theirs, for lvslab to prove it copes with them.
const (
	// FlavorLvslab is lvslab's own image: a bare filesystem booted directly
	// (kernel and initrd beside it), seeded by lvslab's first-boot agent.
	FlavorLvslab = "lvslab"
	// FlavorCloud is a "generic cloud" disk: partitioned, its own kernel and
	// GRUB on it, cloud-init, none of lvslab's agent.
	FlavorCloud = "cloud"
	// FlavorBase is a classroom base disk: partitioned, its own kernel and
	// GRUB, root's password, a getty on the serial console, no cloud-init
	// and no agent: lvslab logs in on the console to set access up.
	FlavorBase = "base"
)

// Flavors lists the flavors Build knows.
var Flavors = []string{FlavorLvslab, FlavorCloud, FlavorBase}

// checkFlavor refuses a flavor Build does not know.
func checkFlavor(flavor string) error {
	if flavor == "" || slices.Contains(Flavors, flavor) {
		return nil
	}
	return fmt.Errorf("unknown image flavor %q: use %s", flavor, strings.Join(Flavors, ", "))
}

// errNoStore is the error of an image store left unnamed.
var errNoStore = errors.New("image: no image store folder given (paths.Local().Images is lvslab's)")

// CheckName rejects names that would not make a plain folder name (the
// rule of a lab's image: value, which validate applies too).
func CheckName(name string) error { return topology.CheckImageName(name) }

func (o Options) withDefaults() Options {
	if o.Flavor == "" {
		o.Flavor = FlavorLvslab
	}
	if o.Name == "" {
		o.Name = DefaultName
		if o.Flavor != FlavorLvslab {
			o.Name += "-" + o.Flavor
		}
	}
	if o.Suite == "" {
		o.Suite = DefaultSuite
	}
	if o.DiskSize == 0 {
		o.DiskSize = DefaultDiskSize
	}
	o.Progress = progress.Or(o.Progress)
	if o.Runner == nil {
		o.Runner = ExecRunner{}
	}
	return o
}

func (o Options) packages() []string {
	if o.Flavor == FlavorCloud || o.Flavor == FlavorBase {
		return o.flavorPackages()
	}
	return append(append([]string{}, Packages...), o.ExtraPackages...)
}
