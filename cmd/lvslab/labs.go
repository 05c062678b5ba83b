package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
)

const labsHelp = `Each embedded lab can be given by name wherever a LAB is taken, or printed
with --show to start a lab file of your own. With -o json each entry's
"embedded" is the name a LAB takes, "lab" the lab's name (its name: field,
which names its VMs, as everywhere else) and "nodes" its nodes.

Examples:
   lvslab labs
   lvslab labs -o json | jq -r '.[].embedded'
   lvslab labs --show tedu-dr > my-dr.yaml`

func labsCommand() *cli.Command {
	return command{name: "labs", help: labsHelp, formats: textJSON,
		usage: "list the embedded labs (every exercise of the classroom references)",
		flags: []cli.Flag{
			&cli.StringFlag{Name: "show", Usage: "print the embedded lab file `NAME`"},
		},
		action: labsAction,
	}.cli()
}

func labsAction(c *cli.Context) error {
	if name := c.String("show"); name != "" {
		if outputOf(c) == outputJSON {
			return cannot("--show prints the lab file itself (YAML): leave -o json out")
		}
		data, err := labs.Get(name)
		if err != nil {
			return failed(err)
		}
		_, err = c.App.Writer.Write(data)
		return err
	}
	list, err := embeddedLabs()
	if err != nil {
		return cannot(err)
	}
	if outputOf(c) == outputJSON {
		return writeJSON(c.App.Writer, list)
	}
	w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "LAB\tNAME\tNODES\tDESCRIPTION")
	for _, l := range list {
		def := ""
		if l.Default {
			def = " (default)"
		}
		fmt.Fprintf(w, "%s%s\t%s\t%d\t%s\n", l.Embedded, def, l.Lab, len(l.Nodes), l.Description)
	}
	return w.Flush()
}

// labEntry is one line of "lvslab labs" (and one object of -o json).
type labEntry struct {
	Embedded    string   `json:"embedded"` // what a LAB argument takes
	Lab         string   `json:"lab"`      // the lab's name: field, which prefixes its VMs
	Nodes       []string `json:"nodes"`
	Description string   `json:"description"`
	Default     bool     `json:"default"`
}

func embeddedLabs() ([]labEntry, error) {
	var out []labEntry
	for _, name := range labs.Names() {
		lab, err := labs.Load(name)
		if err != nil {
			return nil, fmt.Errorf("embedded lab %s is broken: %v", name, err)
		}
		e := labEntry{Embedded: name, Lab: lab.Name, Description: lab.Description, Default: name == labs.Default}
		for _, n := range lab.Nodes {
			e.Nodes = append(e.Nodes, n.Name)
		}
		out = append(out, e)
	}
	return out, nil
}
