package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/lab"
	"github.com/lvslab/lvslab/topology"
)

const downHelp = `Finds the lab's objects by lvslab's tag in libvirt, not by reading the lab
file, so it also cleans up after a crash or an edited file. It stops and
undefines the VMs, deletes their disks and seeds, stops and undefines the
networks, and removes the console logs and the lab's folder (SSH key,
known_hosts). Every removed thing is listed; pieces already gone are fine.
Other labs, and anything without lvslab's tag, are never touched. The shared
storage pool "lvslab" stays.

LAB (the argument, or --lab) is a lab file or an embedded lab (its name:
field names the lab), or directly a lab's name as "lvslab ls" shows it.

Examples:
   lvslab down                  # the default lab (tedu-nat, lab name tedu)
   lvslab down tedu             # by lab name
   lvslab down my-lab.yaml
   lvslab down -l twonic-dr
   lvslab down --all            # every lvslab lab of this libvirt`

func downCommand() *cli.Command {
	return command{name: "down", args: "[LAB | --all]", help: downHelp,
		usage: "remove everything of a lab: VMs, disks, networks, keys and console logs",
		flags: []cli.Flag{labFlag(), connectFlag(), oldNameFlag(),
			&cli.BoolFlag{Name: "all", Usage: "remove every lab lvslab made on this libvirt"},
		},
		action: func(c *cli.Context) error {
			sel, err := labSelector(c, true)
			if err != nil {
				return err
			}
			var rep *lab.DownReport
			err = withConn(c, func(conn *host.Conn) (err error) {
				rep, err = lab.Down(context.WithoutCancel(c.Context), conn, sel, lab.DownOptions{Paths: folders(c), Progress: progressTo(c, c.App.Writer)})
				return err
			})
			if err != nil {
				return err
			}
			switch {
			case len(rep.Labs) == 0:
				fmt.Fprintln(c.App.Writer, "no lvslab lab found")
			case len(rep.Removed) == 0:
				fmt.Fprintf(c.App.Writer, "nothing of lab %s was left\n", strings.Join(rep.Labs, ", "))
			default:
				fmt.Fprintf(c.App.Writer, "lab %s removed (%d objects)\n", strings.Join(rep.Labs, ", "), len(rep.Removed))
			}
			return nil
		},
	}.cli()
}

// oldNameFlag is --name, the old spelling of --lab on down and status.
func oldNameFlag() cli.Flag {
	return &cli.StringFlag{Name: "name", Hidden: true, Usage: "old name of --lab"}
}

// labSelector reads [LAB | --all] (LAB given as the argument or --lab, or
// the old --name): a lab file or embedded lab gives its name; an argument
// that is neither is taken as a lab name.
func labSelector(c *cli.Context, allowAll bool) (lab.Selector, error) {
	arg, err := labOf(c, 0)
	if err != nil {
		return lab.Selector{}, err
	}
	name, all := c.String("name"), allowAll && c.Bool("all")
	given := 0
	for _, set := range []bool{arg != "", name != "", all} {
		if set {
			given++
		}
	}
	if given > 1 || c.NArg() > 1 {
		return lab.Selector{}, cannot("give one of LAB (or --lab LAB) and --all")
	}
	switch {
	case all:
		return lab.Selector{All: true}, nil
	case name != "":
		return lab.Selector{Lab: name}, nil
	}
	labFile, err := labs.Load(arg)
	if err == nil {
		return lab.Selector{Lab: labFile.Name}, nil
	}
	if topology.IsLabName(arg) {
		return lab.Selector{Lab: arg}, nil
	}
	return lab.Selector{}, failed(err)
}
