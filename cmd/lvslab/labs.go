package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
)

func labsCommand() *cli.Command {
	return &cli.Command{
		Name:  "labs",
		Usage: "list the embedded labs (every exercise of the classroom references)",
		Description: `Each embedded lab can be given by name wherever a LAB argument is taken, or
printed with --show to start a lab file of your own.

Examples:
   lvslab labs
   lvslab labs -o json | jq -r '.[].lab'
   lvslab labs --show tedu-dr > my-dr.yaml`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "show", Usage: "print the embedded lab file `NAME`"},
		}, outputFlags(outputText, outputJSON)...),
		Action: func(c *cli.Context) error {
			format, err := output(c, outputText, outputJSON)
			if err != nil {
				return err
			}
			if name := c.String("show"); name != "" {
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
			if format == outputJSON {
				return writeJSON(c.App.Writer, list)
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "LAB\tNAME\tNODES\tDESCRIPTION")
			for _, l := range list {
				def := ""
				if l.Default {
					def = " (default)"
				}
				fmt.Fprintf(w, "%s%s\t%s\t%d\t%s\n", l.Lab, def, l.Name, l.Nodes, l.Description)
			}
			return w.Flush()
		},
	}
}

// labEntry is one line of "lvslab labs" (and one object of -o json).
type labEntry struct {
	Lab         string `json:"lab"`  // what a LAB argument takes
	Name        string `json:"name"` // the lab's name: field, which prefixes its VMs
	Nodes       int    `json:"nodes"`
	Description string `json:"description"`
	Default     bool   `json:"default"`
}

func embeddedLabs() ([]labEntry, error) {
	var out []labEntry
	for _, name := range labs.Names() {
		lab, err := labs.Load(name)
		if err != nil {
			return nil, fmt.Errorf("embedded lab %s is broken: %v", name, err)
		}
		out = append(out, labEntry{Lab: name, Name: lab.Name, Nodes: len(lab.Nodes), Description: lab.Description, Default: name == labs.Default})
	}
	return out, nil
}
