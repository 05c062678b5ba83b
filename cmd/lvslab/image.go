package main

import (
	"cmp"
	"fmt"
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
		Usage: "build, list and remove the guest images labs boot from",
		Description: `A lab's "image:" is either the name of an image built here or the path of
your own qcow2 disk. A built image is a small Debian (` + image.DefaultSuite + `) with ipvsadm,
apache2, openssh and a kernel trimmed to what a virtio VM with IPVS needs; it
boots directly (kernel and initrd beside the disk) in seconds even without KVM.

Examples:
   sudo lvslab image build                 # build "` + image.DefaultName + `" (once; later runs reuse it)
   sudo lvslab image build --force         # build it again (seconds: debootstrap is cached)
   sudo lvslab image build --fresh         # build it again with current packages
   sudo lvslab image build --name classroom --root-password lab
   lvslab image ls
   sudo lvslab image rm classroom
   lvslab image ls --connect qemu+ssh://root@hv1/system     # the images uploaded to a host
   lvslab image rm --connect qemu+ssh://root@hv1/system debian-12`,
		Subcommands: []*cli.Command{imageBuildCommand(dirFlag), imageLsCommand(dirFlag), imageRmCommand(dirFlag)},
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
downloads current packages again.`,
		flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Value: image.DefaultName, Usage: "image `NAME`"},
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
				Progress:      progressTo(c, os.Stderr),
			})
			return err
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
				fmt.Fprintln(os.Stderr, `no image built yet: run "sudo lvslab image build"`)
				return nil
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSUITE\tKERNEL\tDISK\tCREATED\tPATH")
			for _, img := range images {
				m := img.Manifest
				fmt.Fprintf(w, "%s\t%s\t%s\t%.0f MB\t%s\t%s\n", img.Name, m.Suite, m.KernelVersion,
					float64(m.DiskBytes)/1e6, m.Created.Local().Format("2006-01-02 15:04"), img.Dir)
			}
			return w.Flush()
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

// imageEntry is one built image in "lvslab image ls -o json".
type imageEntry struct {
	Name string `json:"name"`
	Dir  string `json:"dir"`
	Disk string `json:"disk"`
	*image.Manifest
}

func imageEntries(images []image.Image) []imageEntry {
	out := []imageEntry{}
	for _, img := range images {
		out = append(out, imageEntry{Name: img.Name, Dir: img.Dir, Disk: img.Disk, Manifest: img.Manifest})
	}
	return out
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
