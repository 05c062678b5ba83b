package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check a lab file and list every problem, with file:line:col",
		ArgsUsage: labArgUsage,
		Description: `Decodes the lab strictly (an unknown or misspelled field is an error) and
checks every rule: unique names, addresses and MACs, addresses inside their
networks, one director and some web nodes, known schedulers, weights and
thresholds, and the rules of each forwarding mode (NAT gateways through the
director, DR real servers on the director's LAN with the VIP on lo as /32, ...).

Exit code 0 when the lab is valid, 1 when it is not.

Examples:
   lvslab validate my-lab.yaml
   lvslab validate tedu-dr`,
		Action: func(c *cli.Context) error {
			lab, err := loadLab(c)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s: lab %q is valid: %d networks, %d nodes, %d services\n",
				lab.File, lab.Name, len(lab.Networks), len(lab.Nodes), len(lab.Services))
			return nil
		},
	}
}
