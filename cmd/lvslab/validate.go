package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/topology"
)

const validateHelp = `Decodes the lab strictly (an unknown or misspelled field is an error) and
checks every rule: unique names, addresses and MACs, addresses inside their
networks, one director and some web nodes, known schedulers, weights and
thresholds, and the rules of each forwarding mode (NAT gateways through the
director, DR real servers on the director's LAN with the VIP on lo as /32,
DR and TUN real servers with a route back to the client that avoids the
director, ...). "lvslab up" refuses a lab that does not validate.

With -o json the verdict is data: {"file", "valid", "lab", "networks",
"nodes", "services", "problems": [{"file", "line", "col", "path",
"message"}, ...]}; the lists are names, and [] when there are none.

Exit code 0 when the lab is valid, 1 when it is not.

Examples:
   lvslab validate my-lab.yaml
   lvslab validate tedu-dr
   lvslab validate my-lab.yaml -o json | jq -r '.problems[] | "\(.line): \(.message)"'`

func validateCommand() *cli.Command {
	return command{name: "validate", args: labArgUsage, help: validateHelp, formats: textJSON,
		usage:  "check a lab file and list every problem, with file:line:col",
		flags:  []cli.Flag{labFlag()},
		action: validateAction,
	}.cli()
}

func validateAction(c *cli.Context) error {
	if outputOf(c) == outputText {
		lab, err := loadLab(c)
		if err == nil {
			fmt.Fprintf(c.App.Writer, "%s: lab %q is valid: %d networks, %d nodes, %d services\n",
				lab.File, lab.Name, len(lab.Networks), len(lab.Nodes), len(lab.Services))
		}
		return err
	}
	arg, err := oneLab(c)
	if err != nil {
		return err
	}
	v := validation(arg)
	if err := writeJSON(c.App.Writer, v); err != nil {
		return err
	}
	if !v.Valid {
		return failed("")
	}
	return nil
}

// Validity is what validate and class validate say of a file: valid, or
// its problems.
type Validity struct {
	File     string         `json:"file"`
	Valid    bool           `json:"valid"`
	Problems []problemEntry `json:"problems"`
}

// verdict is "lvslab validate -o json": the lists are names.
type verdict struct {
	Validity
	Lab      string   `json:"lab"` // its name: field ("" when it cannot be read)
	Networks []string `json:"networks"`
	Nodes    []string `json:"nodes"`
	Services []string `json:"services"`
}

type problemEntry struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

func validation(arg string) verdict {
	v := verdict{Validity: Validity{File: arg}}
	lab, err := labs.Load(arg)
	if err == nil {
		v = verdict{Validity: Validity{File: lab.File, Valid: true}, Lab: lab.Name}
		for _, nw := range lab.Networks {
			v.Networks = append(v.Networks, nw.Name)
		}
		for _, n := range lab.Nodes {
			v.Nodes = append(v.Nodes, n.Name)
		}
		for _, s := range lab.Services {
			v.Services = append(v.Services, s.Name)
		}
		return v
	}
	v.File, v.Problems = problemsOf(arg, err)
	return v
}

// problemsOf are err's problems, each at its file:line:col (an error that
// is no list of problems is one problem of file), and the file of the
// first.
func problemsOf(file string, err error) (string, []problemEntry) {
	var ps topology.Problems
	if !errors.As(err, &ps) || len(ps) == 0 {
		return file, []problemEntry{{File: file, Message: err.Error()}}
	}
	var out []problemEntry
	for _, p := range ps {
		out = append(out, problemEntry{File: p.File, Line: p.Line, Col: p.Col, Path: p.Path, Message: p.Msg})
	}
	return ps[0].File, out
}
