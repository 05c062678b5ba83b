package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/image"
)

func imageCommand() *cli.Command {
	dirFlag := &cli.StringFlag{
		Name:    "dir",
		Usage:   "image store `DIR` (default /var/lib/lvslab/images as root, else ~/.cache/lvslab/images)",
		EnvVars: []string{image.EnvDir},
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
   sudo lvslab image rm classroom`,
		Subcommands: []*cli.Command{imageBuildCommand(dirFlag), imageLsCommand(dirFlag), imageRmCommand(dirFlag)},
	}
}

// imageBuildCommand is "lvslab image build".
func imageBuildCommand(dirFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:  "build",
		Usage: "build a guest image with debootstrap (needs root and a Debian mirror)",
		Description: `Runs debootstrap, configures the guest (first-boot seed unit, ssh without
baked-in host keys, empty machine-id, slow units masked), keeps only the
kernel modules a lab needs, makes a minimal initrd and writes
DIR/NAME/{disk.qcow2,vmlinuz,initrd.img,image.json}. An existing image is kept
unless --force. A failed build leaves nothing behind. The bare debootstrap
result is cached in DIR/.debootstrap so that rebuilding takes seconds; --fresh
downloads current packages again.`,
		Flags: []cli.Flag{
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
		Action: func(c *cli.Context) error {
			_, err := image.Build(c.Context, image.Options{
				Name:          c.String("name"),
				Suite:         c.String("suite"),
				Mirror:        c.String("mirror"),
				Dir:           c.String("dir"),
				Force:         c.Bool("force") || c.Bool("fresh"),
				Fresh:         c.Bool("fresh"),
				RootPassword:  c.String("root-password"),
				ExtraPackages: c.StringSlice("package"),
				Compress:      c.Bool("compress"),
				Progress:      progress(c, os.Stderr),
			})
			return err
		},
	}
}

// imageLsCommand is "lvslab image ls".
func imageLsCommand(dirFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:    "ls",
		Aliases: []string{"list"},
		Usage:   "list the built images",
		Flags:   append([]cli.Flag{dirFlag}, outputFlags(outputText, outputJSON)...),
		Action: func(c *cli.Context) error {
			format, err := output(c, outputText, outputJSON)
			if err != nil {
				return err
			}
			images, err := image.List(c.String("dir"))
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
	}
}

// imageRmCommand is "lvslab image rm".
func imageRmCommand(dirFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Aliases:   []string{"remove"},
		Usage:     "remove a built image",
		ArgsUsage: "NAME",
		Description: `Labs made from the image use it as their disks' backing file: take them
down first ("lvslab down").`,
		Flags: []cli.Flag{dirFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("give the name of one image to remove (see \"lvslab image ls\")")
			}
			return image.Remove(c.String("dir"), c.Args().First())
		},
	}
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
