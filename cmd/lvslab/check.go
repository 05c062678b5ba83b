package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/check"
)

const checkHelp = `For labs a student configures by hand ("lvslab up --bare", then the handout
of "lvslab plan"). Read-only: on each node, in one command, every fact of the
lab file's desired state is read back and judged: the address of each NIC,
the NICs kept down, the gateway, the hostname, each kernel setting (now, and
in the sysctl files that bring it back at boot), the VIP aliases and their
prefix and whether they come back at boot, the web server running and enabled
with its page, the ipvsadm services and real servers (forwarding -m/-g/-i,
weight, scheduler, persistence), and whether the rules come back after a
reboot. What comes back at boot is read in whatever correct form was used:
ifcfg-lo:0 / ifcfg-eth0:0, nmcli (NetworkManager), systemd-networkd, ifupdown,
netplan or an enabled unit for a VIP; /etc/sysctl.conf or sysctl.d (in
systemd-sysctl's order) for a setting; ipvsadm-save into the distribution's
file with its ipvsadm service (RHEL's ipvsadm.service, Debian's init with
AUTO="true") or any enabled unit that runs ipvsadm-restore, for the rules.
Every FAIL says what is wrong, why it matters in LVS, and which step of
"lvslab plan LAB --node NODE --os OS" fixes it on that node's OS. Then the
end-to-end proof of "lvslab verify" runs (not with --node: it needs the
whole lab).

The VMs are found by the lab's name: checking another stage's lab file of
the same name ("check tedu-dr" on the VMs of "up tedu-nat") checks that stage.

Exit codes: 0 every fact and check passed, 1 one failed, 2 check could not run
(a node could not be read and nothing failed).

Examples:
   lvslab check                         # the default lab, every node, then verify
   lvslab check tedu-dr --node web1     # one real server, after a student's edits
   lvslab check tedu-nat -o json --junit check.xml
   lvslab check --quick                 # a student's "check my work", in seconds`

func checkCommand() *cli.Command {
	return command{name: "check", args: labArgUsage, help: checkHelp, formats: textJSON,
		usage: "read a hand-configured lab back: each node's facts as PASS/FAIL with a hint, then verify's proof",
		flags: append(verifyFlags("verify"),
			nodeFlag("check only this"),
			&cli.BoolFlag{Name: "quick", Usage: "\"check my work\": every node fact, then a short proof (the scheduler's promise over two rounds of the weights; no counters, lanes or plumbing, which the node facts judge)"}),
		action: onReading(func(c *cli.Context, r *reading) error {
			lab := r.lab
			vopts := r.opts
			if c.Bool("quick") && !c.IsSet("requests") {
				vopts.Requests = 0 // the quick proof's own, from the weights
			}
			rep, err := check.Run(r.ctx, lab, r.dial(), check.Options{Nodes: c.StringSlice("node"), Verify: vopts, Quick: c.Bool("quick")})
			if err != nil {
				return cannot(fmt.Errorf("lvslab check: %w", err))
			}
			if path := c.String("junit"); path != "" {
				if err := check.WriteJUnit(path, rep, "lvslab check "+lab.Name); err != nil {
					return cannot("lvslab check: writing " + path + ": " + err.Error())
				}
			}
			if err := check.Write(c.App.Writer, rep, r.format); err != nil {
				return cannot(fmt.Errorf("lvslab check: %w", err))
			}
			if code := check.ExitCode(rep); code != 0 {
				return exit("", code)
			}
			return nil
		}),
	}.cli()
}
