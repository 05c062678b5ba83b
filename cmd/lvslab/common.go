package main

import (
	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/topology"
)

const labArgUsage = "[LAB]"

// loadLab loads the command's LAB argument; a bad lab is exit code 1, with
// every problem listed.
func loadLab(c *cli.Context) (*topology.Lab, error) {
	if c.NArg() > 1 {
		return nil, cli.Exit("expected at most one LAB argument, got "+c.Args().Get(1)+" too", 2)
	}
	lab, err := labs.Load(c.Args().First())
	if err != nil {
		return nil, cli.Exit(err.Error(), 1)
	}
	return lab, nil
}
