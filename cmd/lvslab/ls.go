package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/lab"
)

const lsHelp = `Lists every lab lvslab made on this libvirt connection, found by its tags:
its name, the lab file it was brought up from (a copy made with "up --as"
names its source), how many of its VMs run, and its management subnet (where
lvslab's SSH goes). Nothing is read from lab files. With -o json each lab's
"nodes" and "running" are lists of node names.

Examples:
   lvslab ls
   lvslab ls -o json`

func lsCommand() *cli.Command {
	return command{name: "ls", help: lsHelp, formats: textJSON,
		usage:  "list every lab on this libvirt: name, source lab, nodes running, management subnet",
		flags:  []cli.Flag{connectFlag()},
		action: lsAction,
	}.cli()
}

func lsAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return cannot("lvslab ls takes no argument (\"lvslab status LAB\" shows one lab)")
	}
	var labs []lab.LabSummary
	err := withConn(c, func(conn *host.Conn) (err error) {
		labs, err = lab.List(conn, "")
		return err
	})
	switch {
	case err != nil:
		return err
	case outputOf(c) == outputJSON:
		return writeJSON(c.App.Writer, labs)
	}
	if len(labs) == 0 {
		fmt.Fprintln(c.App.Writer, "no lvslab lab found (\"lvslab up\" makes one)")
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAB\tSOURCE\tRUNNING\tMGMT")
	for _, l := range labs {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\n", l.Lab, dash(l.Source), len(l.Running), len(l.Nodes), dash(l.Mgmt))
	}
	return tw.Flush()
}
