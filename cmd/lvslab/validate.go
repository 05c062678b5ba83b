package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/topology"
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

With -o json the verdict is data: {"valid": false, "problems": [{"file",
"line", "col", "path", "message"}, ...]} (or the lab's counts when valid).

Exit code 0 when the lab is valid, 1 when it is not.

Examples:
   lvslab validate my-lab.yaml
   lvslab validate tedu-dr
   lvslab validate my-lab.yaml -o json | jq -r '.problems[] | "\(.line): \(.message)"'`,
		Flags: outputFlags(outputText, outputJSON),
		Action: func(c *cli.Context) error {
			format, err := output(c, outputText, outputJSON)
			if err != nil {
				return err
			}
			if format == outputText {
				lab, err := loadLab(c)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%s: lab %q is valid: %d networks, %d nodes, %d services\n",
					lab.File, lab.Name, len(lab.Networks), len(lab.Nodes), len(lab.Services))
				return nil
			}
			if c.NArg() > 1 {
				return cannot("expected at most one LAB argument, got " + c.Args().Get(1) + " too")
			}
			v := validation(c.Args().First())
			if err := writeJSON(c.App.Writer, v); err != nil {
				return err
			}
			if !v.Valid {
				return failed("")
			}
			return nil
		},
	}
}

// verdict is "lvslab validate -o json".
type verdict struct {
	File     string         `json:"file"`
	Valid    bool           `json:"valid"`
	Lab      string         `json:"lab,omitempty"`
	Networks int            `json:"networks,omitempty"`
	Nodes    int            `json:"nodes,omitempty"`
	Services int            `json:"services,omitempty"`
	Problems []problemEntry `json:"problems,omitempty"`
}

type problemEntry struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func validation(arg string) verdict {
	v := verdict{File: arg}
	lab, err := labs.Load(arg)
	if err == nil {
		return verdict{File: lab.File, Valid: true, Lab: lab.Name, Networks: len(lab.Networks), Nodes: len(lab.Nodes), Services: len(lab.Services)}
	}
	var ps topology.Problems
	if !errors.As(err, &ps) {
		v.Problems = []problemEntry{{File: arg, Message: err.Error()}}
		return v
	}
	for _, p := range ps {
		v.Problems = append(v.Problems, problemEntry{File: p.File, Line: p.Line, Col: p.Col, Path: p.Path, Message: p.Msg})
	}
	if len(ps) > 0 {
		v.File = ps[0].File
	}
	return v
}
