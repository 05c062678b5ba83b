package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/verify"
)

func ipvsCommand() *cli.Command {
	view := func(name, usage string) *cli.Command {
		return command{name: name, args: labArgUsage, usage: usage, formats: textJSON,
			flags: []cli.Flag{labFlag(), connectFlag(), asFlag("look at")},
			action: onReading(func(c *cli.Context, r *reading) error {
				ob, err := verify.Observe(r.ctx, r.lab, r.dial(), name)
				if err != nil {
					return show(c, r.format, nil, nil, 0, err)
				}
				return show(c, r.format, ob, ob.WriteText, 0, nil)
			}),
		}.cli()
	}
	return &cli.Command{
		Name:  "ipvs",
		Usage: "look at the director's IPVS table as ipvsadm shows it, or do the save/restore exercise",
		Description: `Runs ipvsadm's observation commands on the running lab's director and shows
what they print (text) or what it says, parsed (--output json):

   lvslab ipvs stats tedu-nat      # ipvsadm -Ln --stats: connections, packets, bytes
   lvslab ipvs rate tedu-nat       # ipvsadm -Ln --rate: the same per second
   lvslab ipvs conns tedu-nat      # ipvsadm -Lnc: the connection table
   lvslab ipvs zero tedu-nat       # ipvsadm -Z, then the zeroed counters
   lvslab ipvs save-restore tedu-nat

save-restore is reference 004's exercise: ipvsadm-save the table to a file,
clear it, restore it from the file, each step checked against the lab's
rules, then verify proves the restored table serves.

Exit codes: 0 shown (save-restore: every step and verify held), 1 a step
did not hold, 2 could not run.`,
		Subcommands: []*cli.Command{
			view(verify.ViewStats, "the counters: ipvsadm -Ln --stats"),
			view(verify.ViewRate, "the rates: ipvsadm -Ln --rate"),
			view(verify.ViewConns, "the connection table: ipvsadm -Lnc"),
			view(verify.ViewZero, "zero the counters: ipvsadm -Z"),
			command{name: "save-restore", args: labArgUsage, formats: textJSON,
				usage: "save the table to a file, clear it, restore it, each step checked, then verify",
				flags: verifyFlags("verify"),
				action: onReading(func(c *cli.Context, r *reading) error {
					rep, err := verify.SaveRestore(r.ctx, r.lab, r.dial(), r.opts)
					if err != nil {
						return show(c, r.format, nil, nil, 0, err)
					}
					return show(c, r.format, rep, rep.WriteText, rep.ExitCode(), nil)
				}),
			}.cli(),
		},
	}
}

// show prints a result as text or JSON; code is the exit code.
func show(c *cli.Context, format string, data any, text func(io.Writer) error, code int, err error) error {
	if err != nil {
		return exit(fmt.Errorf("lvslab ipvs %s: %w", c.Command.Name, err), verify.ExitCode(nil, err))
	}
	if format == report.OutputJSON {
		err = writeJSON(c.App.Writer, data)
	} else {
		err = text(c.App.Writer)
	}
	if err != nil {
		return cannot(err)
	}
	if code != 0 {
		return exit("", code)
	}
	return nil
}
