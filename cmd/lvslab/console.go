package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

const consoleHelp = `Attaches the terminal to the node's serial console through libvirt, as
"virsh console" does: a login prompt that works without any network, for a
student whose change of address cut SSH off. Ctrl-] leaves it.

Examples:
   lvslab console web1
   lvslab console lvs1 tedu-dr          # or: lvslab console lvs1 --lab tedu-dr`

func consoleCommand() *cli.Command {
	return command{name: "console", args: "NODE [LAB]", help: consoleHelp,
		usage: "attach to a node's serial console (leave it with Ctrl-])",
		flags: []cli.Flag{labFlag(), connectFlag()},
		action: func(c *cli.Context) error {
			node := c.Args().First()
			if node == "" || c.NArg() > 2 {
				return cannot("lvslab console: one NODE, then the LAB if not the default (\"lvslab status\" lists them)")
			}
			r, done, err := openLab(c, 1)
			if err != nil {
				return err
			}
			defer done()
			if err := r.acc.Console(r.ctx, node, os.Stdin, c.App.Writer); err != nil {
				return cannot(fmt.Errorf("lvslab console %s: %w", node, err))
			}
			return nil
		},
	}.cli()
}
