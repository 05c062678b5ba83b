package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
)

func imageCommand() *cli.Command {
	dirFlag := &cli.StringFlag{
		Name:    "dir",
		Usage:   "image store `DIR` (default /var/lib/lvslab/images as root, else ~/.cache/lvslab/images)",
		EnvVars: []string{paths.EnvImageDir},
	}
	return &cli.Command{
		Name:  "image",
		Usage: "build, import, list and remove the guest images labs boot from",
		Description: `A lab's "image:" is the name of an image built or imported here, or the path
of your own qcow2 disk. A built image is a small Debian (` + image.DefaultSuite + `) with ipvsadm,
apache2, openssh and a kernel trimmed to what a virtio VM with IPVS needs; it
boots directly (kernel and initrd beside the disk) in seconds even without KVM.
An imported image is your disk copied into the store with what lvslab read on
it: the OS, cloud-init or not, how it boots and what manages its network.

Examples:
   sudo lvslab image build                 # build "` + image.DefaultName + `" (once; later runs reuse it)
   sudo lvslab image build --force         # build it again (seconds: debootstrap is cached)
   sudo lvslab image build --fresh         # build it again with current packages
   sudo lvslab image build --name classroom --root-password lab
   sudo lvslab image build --flavor cloud  # "debian-12-cloud": GRUB on the disk, cloud-init
   sudo lvslab image build --flavor base --root-password lab  # "debian-12-base": console login only
   lvslab image import Rocky-9-GenericCloud.latest.x86_64.qcow2 --name rocky-9
   lvslab image ls
   sudo lvslab image rm classroom
   lvslab image ls --connect qemu+ssh://root@hv1/system     # the images uploaded to a host
   lvslab image rm --connect qemu+ssh://root@hv1/system debian-12`,
		Subcommands: []*cli.Command{imageBuildCommand(dirFlag), imageImportCommand(dirFlag), imageLsCommand(dirFlag), imageRmCommand(dirFlag)},
	}
}

// imageBuildCommand is "lvslab image build".
func imageBuildCommand(dirFlag cli.Flag) *cli.Command {
	return command{name: "build",
		usage: "build a guest image with debootstrap (needs root and a Debian mirror)",
		help: `Runs debootstrap, configures the guest (first-boot seed unit, ssh without
baked-in host keys, empty machine-id, slow units masked), keeps only the
kernel modules a lab needs, makes a minimal initrd and writes
DIR/NAME/{disk.qcow2,vmlinuz,initrd.img,image.json}. An existing image is kept
unless --force. A failed build leaves nothing behind. The bare debootstrap
result is cached in DIR/.debootstrap so that rebuilding takes seconds; --fresh
downloads current packages again.

--flavor cloud and --flavor base make disks the way distributions make theirs,
from the same Debian packages: partitioned, with their own kernel and GRUB
(the VM boots from the disk, not directly), systemd-networkd, and none of
lvslab's first-boot agent. "cloud" runs cloud-init, which reads lvslab's seed;
"base" has root's --root-password and a getty on the serial console, where
lvslab logs in with the lab file's "login:" to set up its access, as a
classroom's student would. Their default names are debian-12-cloud and
debian-12-base.`,
		flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "image `NAME` (default " + image.DefaultName + ", or " + image.DefaultName + "-FLAVOR)"},
			choice(&cli.StringFlag{Name: "flavor", Value: image.FlavorLvslab, Usage: "recipe `FLAVOR`: " + strings.Join(image.Flavors, ", ")}, image.Flavors...),
			&cli.StringFlag{Name: "suite", Value: image.DefaultSuite, Usage: "Debian `SUITE`"},
			&cli.StringFlag{Name: "mirror", Usage: "Debian mirror `URL` (default: debootstrap's own)"},
			&cli.BoolFlag{Name: "force", Usage: "rebuild even if the image exists (reuses the cached debootstrap); take labs made from it down first"},
			&cli.BoolFlag{Name: "fresh", Usage: "download the packages again instead of using the cached debootstrap"},
			&cli.StringFlag{Name: "root-password", Usage: "set root's `PASSWORD` (console and SSH) for classroom use; default: key login only"},
			&cli.BoolFlag{Name: "compress", Usage: "write a compressed qcow2 (~90 MB instead of ~270 MB)"},
			&cli.StringSliceFlag{Name: "package", Usage: "extra Debian `PACKAGE` to install (repeatable)"},
			dirFlag,
		},
		action: func(c *cli.Context) error {
			_, err := image.Build(c.Context, image.Options{
				Name:          c.String("name"),
				Suite:         c.String("suite"),
				Mirror:        c.String("mirror"),
				Dir:           imageDir(c),
				Force:         c.Bool("force") || c.Bool("fresh"),
				Fresh:         c.Bool("fresh"),
				RootPassword:  c.String("root-password"),
				ExtraPackages: c.StringSlice("package"),
				Compress:      c.Bool("compress"),
				Flavor:        c.String("flavor"),
				Progress:      progressTo(c, os.Stderr),
			})
			return err
		},
	}.cli()
}

// imageImportCommand is "lvslab image import".
func imageImportCommand(dirFlag cli.Flag) *cli.Command {
	return command{name: "import", args: "PATH", formats: textJSON,
		usage: "copy your qcow2 or raw disk into the image store, with what lvslab reads on it",
		help: `Copies the disk into DIR/NAME/disk.qcow2 (backing files flattened) and reads
it without booting it: the partition table, then the root filesystem (ext2/3/4,
read with debugfs) for the OS (os-release), cloud-init, lvslab's own agent,
the bootloader and what manages the network (NetworkManager, systemd-networkd,
netplan, ifupdown). "lvslab image ls" shows it; -o json prints the imported
image as "lvslab image ls -o json" lists it. A lab then names the image:
"image: NAME".

How lvslab seeds a VM of it follows: cloud-init reads the NoCloud seed (the
login key, the pinned host key, mgmt0's static address matched by MAC); an
image without it is reached over the serial console with the lab file's
"login: {user: root, password: ...}". A disk with no bootloader but a kernel
in /boot boots directly from the kernel and initrd copied beside it. An XFS,
Btrfs or LVM root is not read: cloud-init is then assumed.`,
		flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "image `NAME` (default: the file's name, without .qcow2, .img or .raw)"},
			&cli.BoolFlag{Name: "force", Usage: "replace an image of that name"},
			dirFlag,
		},
		action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("give the path of one qcow2 or raw disk to import")
			}
			img, err := image.Import(c.Context, image.ImportOptions{
				Path:     c.Args().First(),
				Name:     c.String("name"),
				Dir:      imageDir(c),
				Force:    c.Bool("force"),
				Progress: progressTo(c, os.Stderr),
			})
			if err != nil || outputOf(c) != outputJSON {
				return err
			}
			return writeJSON(c.App.Writer, imageEntryOf(img))
		},
	}.cli()
}

// imageLsCommand is "lvslab image ls".
func imageLsCommand(dirFlag cli.Flag) *cli.Command {
	cmd := command{name: "ls", formats: textJSON,
		usage: "list the built images (with --connect: the images uploaded to that libvirt host)",
		help: `With --connect URI, lists the image versions "lvslab up --connect URI"
uploaded into the host's pool ` + paths.DefaultPool + ` (volumes image-NAME-VERSION.*), whether the upload
finished and what on the host still uses each (domains, overlay volumes).`,
		flags: []cli.Flag{dirFlag, connectFlag()},
		action: func(c *cli.Context) error {
			format := outputOf(c)
			if c.String("connect") != "" {
				return listPoolImages(c, format)
			}
			images, err := image.List(imageDir(c))
			if err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, imageEntries(images))
			}
			if len(images) == 0 {
				fmt.Fprintln(os.Stderr, `no image built or imported yet: run "sudo lvslab image build" (or "lvslab image import PATH")`)
				return nil
			}
			return printImages(c.App.Writer, images)
		},
	}.cli()
	cmd.Aliases = []string{"list"}
	return cmd
}

// imageRmCommand is "lvslab image rm".
func imageRmCommand(dirFlag cli.Flag) *cli.Command {
	cmd := command{name: "rm", args: "NAME",
		usage: "remove a built image (with --connect: its volumes uploaded to that libvirt host)",
		help: `Labs made from the image use it as their disks' backing file: take them
down first ("lvslab down").

With --connect URI, removes the image's volumes (image-NAME-VERSION.*) from the
host's pool ` + paths.DefaultPool + `: every version, or only --version's; it refuses while a
domain or volume of the host uses one. The next "lvslab up --connect URI"
uploads the image again.`,
		flags: []cli.Flag{dirFlag, connectFlag(),
			&cli.StringFlag{Name: "version", Usage: "with --connect: only this `VERSION` (see \"lvslab image ls --connect URI\")"}},
		action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				see := "lvslab image ls"
				if c.String("connect") != "" {
					see += " --connect URI"
				}
				return fmt.Errorf("give the name of one image to remove (see \"%s\")", see)
			}
			if c.String("connect") != "" {
				return removePoolImage(c, c.Args().First())
			}
			if c.String("version") != "" {
				return fmt.Errorf("--version is for an image uploaded to a host: add --connect URI")
			}
			return image.Remove(imageDir(c), c.Args().First())
		},
	}.cli()
	cmd.Aliases = []string{"remove"}
	return cmd
}

// printImages is the table of "lvslab image ls": where each image comes
// from, what runs in it, how it boots and how a new VM of it is seeded.
func printImages(out io.Writer, images []image.Image) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tKIND\tOS\tBOOT\tSEEDED BY\tNETWORK\tDISK\tCREATED")
	for _, img := range images {
		m := img.Manifest
		kind := "lvslab"
		switch {
		case img.Kind == image.Imported:
			kind = "imported"
		case m.Flavor != "":
			kind = m.Flavor
		}
		boot := image.BootText(img.Boot(), "")
		if d := m.Detected; d != nil && !img.DirectBoot() {
			boot = image.BootText(img.Boot(), d.Bootloader)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%.0f MB\t%s\n", img.Name, kind, img.OS(), boot, img.Seeding(), dash(img.Network()),
			float64(m.DiskBytes)/1e6, m.Created.Local().Format("2006-01-02 15:04"))
	}
	return w.Flush()
}

// imageEntry is one image in "lvslab image ls -o json".
type imageEntry struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Dir     string `json:"dir"`
	Disk    string `json:"disk"`
	Boot    string `json:"boot"`
	Seeding string `json:"seeding"`
	*image.Manifest
}

func imageEntries(images []image.Image) []imageEntry {
	out := []imageEntry{}
	for _, img := range images {
		out = append(out, imageEntryOf(img))
	}
	return out
}

func imageEntryOf(img image.Image) imageEntry {
	return imageEntry{Name: img.Name, Kind: string(img.Kind), Dir: img.Dir, Disk: img.Disk, Boot: img.Boot(),
		Seeding: img.Seeding(), Manifest: img.Manifest}
}

// listPoolImages is "lvslab image ls --connect URI": the image versions in
// the host's pool.
func listPoolImages(c *cli.Context, format string) error {
	var images []host.PoolImage
	err := withConn(c, func(conn *host.Conn) (err error) {
		images, err = host.PoolImages(conn, paths.DefaultPool)
		return err
	})
	switch {
	case err != nil:
		return err
	case format == outputJSON:
		return writeJSON(c.App.Writer, images)
	}
	if len(images) == 0 {
		fmt.Fprintf(os.Stderr, "no image uploaded to pool %s at %s: \"lvslab up --connect URI\" uploads the lab's\n", paths.DefaultPool, c.String("connect"))
		return nil
	}
	w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tVERSION\tVOLUMES\tSIZE\tUPLOAD\tUSED BY")
	for _, img := range images {
		state := "complete"
		if !img.Complete {
			state = "incomplete (up uploads it again)"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%.0f MB\t%s\t%s\n", img.Name, img.Version, len(img.Volumes), float64(img.Bytes)/1e6, state, dash(usedBy(img.UsedBy)))
	}
	return w.Flush()
}

// usedBy summarises what uses an image: "4 domains, 4 volumes".
func usedBy(users []string) string {
	count := map[string]int{}
	for _, u := range users {
		kind, _, _ := strings.Cut(u, " ")
		count[kind]++
	}
	var parts []string
	for _, kind := range []string{"domain", "volume"} {
		if n := count[kind]; n == 1 {
			parts = append(parts, "1 "+kind)
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d %ss", n, kind))
		}
	}
	return strings.Join(parts, ", ")
}

// removePoolImage is "lvslab image rm --connect URI NAME".
func removePoolImage(c *cli.Context, name string) error {
	return withConn(c, func(conn *host.Conn) error {
		removed, err := host.RemovePoolImage(conn, paths.DefaultPool, name, c.String("version"))
		for _, img := range removed {
			fmt.Fprintf(c.App.Writer, "removed image %s version %s (%d volumes) from pool %s at %s\n", img.Name, img.Version, len(img.Volumes), paths.DefaultPool, c.String("connect"))
		}
		return err
	})
}

// imageDir is the image store: --dir (or $LVSLAB_IMAGE_DIR), else lvslab's.
func imageDir(c *cli.Context) string { return cmp.Or(c.String("dir"), folders(c).Images) }
