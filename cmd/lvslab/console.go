package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func consoleCommand() *cli.Command {
	return &cli.Command{
		Name:      "console",
		Usage:     "attach to a node's serial console (leave it with Ctrl-])",
		ArgsUsage: "NODE",
		Description: `Attaches the terminal to the node's serial console through libvirt, as
"virsh console" does: a login prompt that works without any network, for a
student whose change of address cut SSH off. Ctrl-] leaves it.

Examples:
   lvslab console web1
   lvslab console lvs1 --lab tedu-dr`,
		Flags: []cli.Flag{connectFlag(), labFlag()},
		Action: func(c *cli.Context) error {
			node := c.Args().First()
			if node == "" || c.NArg() > 1 {
				return cannot("lvslab console: one NODE (\"lvslab status\" lists them)")
			}
			r, done, err := openLab(c)
			if err != nil {
				return err
			}
			defer done()
			if err := r.acc.Console(r.ctx, node, os.Stdin, c.App.Writer); err != nil {
				return cannot(fmt.Errorf("lvslab console %s: %w", node, err))
			}
			return nil
		},
	}
}
