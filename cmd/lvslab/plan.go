package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/render"
)

// planOptions are the plan command's options.
type planOptions struct {
	OS     string
	Format string
	Node   string
}

func planCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "print what configuring each node does: a handout, runnable scripts, or the steps as JSON",
		ArgsUsage: labArgUsage,
		Description: `Prints, node by node and in order, the steps "lvslab up" takes to configure
the lab's VMs: hostname, static addresses with DHCP off (systemd-networkd on
Debian, nmcli on RHEL), disabled NICs, the VIP aliases (eth0:0 on the
director, lo:0 /32 on DR real servers, tunl0 on TUN ones), kernel settings
(ip_forward, send_redirects, arp_ignore/arp_announce, rp_filter), packages,
the web page and port, and the ipvsadm rules. Nothing is contacted: the plan
comes from the lab file alone.

Formats:
   text     a handout: what a student types on each node, with short comments
   script   one POSIX sh script per node (set -eu); every step checks first,
            files are written whole, so running it twice changes nothing
   json     the steps as data (checks, files, commands)

Options may come before or after LAB (--format is the old name of -o).

Examples:
   lvslab plan                                # the default lab, Debian guests
   lvslab plan --os rhel tedu-dr              # the commands on RHEL/CentOS guests
   lvslab plan -o script --node lvs1 tedu-nat > lvs1.sh
   lvslab plan my-lab.yaml -o json | jq '.nodes[].steps[].name'`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "os", Value: catalog.Debian, Usage: "guest OS family: " + strings.Join(catalog.OSFamilies, " or ")},
			&cli.StringFlag{Name: "node", Aliases: []string{"n"}, Usage: "only this `NODE`"},
		}, outputFlags(render.Formats...)...),
		Action: func(c *cli.Context) error {
			format, err := output(c, render.Formats...)
			if err != nil {
				return err
			}
			opts := planOptions{OS: c.String("os"), Format: format, Node: c.String("node")}
			if !slices.Contains(catalog.OSFamilies, opts.OS) {
				return cannot(fmt.Sprintf("--os %q: use %s", opts.OS, strings.Join(catalog.OSFamilies, " or ")))
			}
			lab, err := loadLab(c)
			if err != nil {
				return err
			}
			plan := render.Plan(lab, opts.OS)
			if opts.Node != "" {
				var names []string
				var keep []render.NodePlan
				for _, n := range plan.Nodes {
					names = append(names, n.Node)
					if n.Node == opts.Node {
						keep = append(keep, n)
					}
				}
				if keep == nil {
					return failed(fmt.Sprintf("no node %q in lab %s (nodes: %s)", opts.Node, lab.Name, strings.Join(names, ", ")))
				}
				plan.Nodes = keep
			}
			out, err := plan.Render(opts.Format)
			if err != nil {
				return cannot(err)
			}
			fmt.Fprint(c.App.Writer, out)
			return nil
		},
	}
}
