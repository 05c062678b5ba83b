package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/verify"
)

func drillCommand() *cli.Command {
	step := func(name, usage, desc string) *cli.Command {
		flags := verifyFlags("verify")
		if name == verify.DrillHeal {
			flags = append(flags, &cli.BoolFlag{Name: "quiesce", Usage: "set the real server's weight to 0 instead of deleting it (ipvsadm -e ... -w 0)"})
		}
		if name == verify.DrillFail {
			flags = append(flags,
				choice(&cli.StringFlag{Name: "how", Usage: "how a keepalived router fails: `HOW` is stop (keepalived stopped cleanly; the default), kill (SIGKILL) or nic-down (its lab NIC down; the default with --download)"}, verify.Hows...),
				&cli.BoolFlag{Name: "download", Usage: "with a keepalived router: a rate-limited download through the VIP across the failure (survives with connection sync, breaks without)"},
				choice(&cli.StringFlag{Name: "sync", Usage: "with a keepalived router: first rewrite both routers' keepalived.conf with connection sync `on|off` and reload (lvslab up restores the lab's)"}, "on", "off"))
		}
		return command{name: name, args: "NODE [LAB]", usage: usage, help: desc, formats: textJSON, flags: flags,
			action: func(c *cli.Context) error { return runDrill(c, name) },
		}.cli()
	}
	return &cli.Command{
		Name:  "drill",
		Usage: "the failure drill: fail, heal and restore a web node, each step verified",
		Description: `LVS has no health check: when a web server dies the director keeps sending
it its share, and clients see "connection refused" for exactly that share
until someone removes the real server with ipvsadm -d. The drill walks
through it on a running lab, one step per command, and runs verify after each
step with the verdict that step must give:

   lvslab drill fail web1 tedu-dr         # stop web1's web server: its share is refused
   lvslab drill heal web1 tedu-dr         # ipvsadm -d: no failure, web1 gets nothing
   lvslab drill restore web1 -l tedu-dr   # start it, put it back with its lab weight (LAB or --lab)

Under keepalived the drill fails a router or a health-checked real server,
with a client loop sending a request through the VIP every 100 ms, and
reports the gap it saw against its target:

   lvslab drill fail lvs1 --how kill --lab tedu-keepalived-dr   # VIP moves to lvs2 (target ~4 s)
   lvslab drill restore lvs1 --lab tedu-keepalived-dr          # preemption back (none with nopreempt)
   lvslab drill fail lvs1 --download --sync on --lab tedu-keepalived-dr   # a download across it survives
   lvslab drill fail lvs1 --download --sync off --lab tedu-keepalived-dr  # the negative control breaks
   lvslab drill fail web1 --lab tedu-keepalived-dr             # time until keepalived takes web1 out

With --download the master's lab NIC goes down unless --how says otherwise:
a clean stop removes the master's IPVS rules a moment before its VIP, and
the master itself may reset the download then, with sync or without.

Every step reads the live system first (no saved state), so steps can be
repeated. The drill changes the running IPVS table only; "lvslab up" puts
the lab's rules back too.

Exit codes: 0 the step's verdict holds, 1 it does not, 2 the drill could not run.`,
		Subcommands: []*cli.Command{
			step(verify.DrillFail, "stop the node's web server (apache2, httpd or nginx) and show its share refused",
				"Stops the web node's web server, then verifies: the failed requests must be the node's expected share (±1), all attributed to it by the director's counters, while every other server answers."),
			step(verify.DrillHeal, "take the node out of IPVS (ipvsadm -d, or weight 0 with --quiesce) and show a clean service",
				"Deletes the node from every service it serves (ipvsadm -d), or quiesces it with weight 0 (--quiesce), then verifies: no failed request, and the node gets none."),
			step(verify.DrillRestore, "start the node's web server and put it back with its lab weight",
				"Starts the web server and adds the real server back (or restores its lab weight), then verifies: a clean run where the node serves again."),
		},
	}
}

func runDrill(c *cli.Context, step string) error {
	if c.NArg() < 1 || c.NArg() > 2 {
		return cannot(fmt.Sprintf("lvslab drill %s: expected NODE [LAB]", step))
	}
	node := c.Args().Get(0)
	labArg, err := labOf(c, 1)
	if err != nil {
		return err
	}
	opts, format, err := verifyOptions(c)
	if err != nil {
		return err
	}
	ctx, stop := commandContext(c)
	defer stop()
	lab, acc, closeAll, err := labAccess(c, labArg)
	if err != nil {
		return err
	}
	defer closeAll()
	// Progress goes to stderr as it happens; the report repeats the actions.
	rep, err := verify.Drill(ctx, lab, acc.Dialer(ctx), step, node, verify.DrillOptions{Verify: opts, Quiesce: c.Bool("quiesce"), How: c.String("how"), Download: c.Bool("download"), Sync: c.String("sync")}, progressText(c, c.App.ErrWriter))
	title := "lvslab drill " + step + " " + node
	if path := c.String("junit"); path != "" {
		if jerr := writeDrillJUnit(path, rep, err, title); jerr != nil {
			return cannot("lvslab drill: writing " + path + ": " + jerr.Error())
		}
	}
	if err != nil {
		return exit(fmt.Errorf("lvslab drill %s: %w", step, err), verify.ExitCode(nil, err))
	}
	if format == report.OutputJSON {
		if err := writeJSON(c.App.Writer, rep); err != nil {
			return cannot(err)
		}
	} else if err := verify.WriteDrillText(c.App.Writer, rep); err != nil {
		return cannot(err)
	}
	if code := rep.ExitCode(); code != 0 {
		return exit("", code)
	}
	return nil
}

func writeDrillJUnit(path string, rep *verify.DrillReport, runErr error, title string) error {
	data, err := verify.DrillJUnit(rep, runErr, title)
	return report.WriteFile(path, data, err)
}
