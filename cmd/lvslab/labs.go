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
   lvslab labs --show tedu-dr > my-dr.yaml`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "show", Usage: "print the embedded lab file `NAME`"},
		},
		Action: func(c *cli.Context) error {
			if name := c.String("show"); name != "" {
				data, err := labs.Get(name)
				if err != nil {
					return cli.Exit(err.Error(), 1)
				}
				_, err = c.App.Writer.Write(data)
				return err
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "LAB\tNAME\tNODES\tDESCRIPTION")
			for _, name := range labs.Names() {
				lab, err := labs.Load(name)
				if err != nil {
					return cli.Exit(fmt.Sprintf("embedded lab %s is broken: %v", name, err), 2)
				}
				def := ""
				if name == labs.Default {
					def = " (default)"
				}
				fmt.Fprintf(w, "%s%s\t%s\t%d\t%s\n", name, def, lab.Name, len(lab.Nodes), lab.Description)
			}
			return w.Flush()
		},
	}
}
