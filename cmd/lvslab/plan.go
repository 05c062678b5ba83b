package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/handout"
	"github.com/lvslab/lvslab/roles/render"
)

// planFormats: the student's handout (text, markdown, html), then the
// machine's plan (script, json).
var planFormats = []string{handout.FormatText, handout.FormatMarkdown, handout.FormatHTML, render.FormatScript, render.FormatJSON}

// planOptions are the plan command's options.
type planOptions struct {
	OS      string
	Format  string
	Nodes   []string
	From    string
	Network string
	Dir     string
}

const planHelp = `The handout is the exercise as the classroom references type it, node by
node, each step with one line of why in LVS terms: the hostname, the addresses
(systemd-networkd files on lvslab's Debian image, nmcli on RHEL or with
--network networkmanager), the packages, /etc/sysctl.conf and sysctl -p, the
VIP (ifcfg-eth0:0 / ifcfg-lo:0 on RHEL), the page, the web server, the ipvsadm
rules saved for the next boot; then what the client's curl loop prints and
ipvsadm -Ln as it should look. It starts from a fresh lab ("lvslab up --bare");
--from LAB gives a stage: the same VMs going from LAB to this one (NAT, then
DR), only what changes. Nothing is contacted: it comes from the lab files.

Formats:
   text      the handout: comments start with #, every other line is typed as it stands
   markdown  the printable handout, with the topology diagram
   html      the same as one HTML page
   script    the machine's plan: one POSIX sh script a node (set -eu), which also
             undoes what another lab left; every step checks first, so running
             it twice changes nothing. One node at a time (--node), or every
             node's script as DIR/NODE.sh (--dir DIR)
   json      the machine's steps as data (checks, files, commands)

Options may come before or after LAB (--format is the old name of -o).

Examples:
   lvslab plan                                # the default lab's handout, Debian guests
   lvslab plan --os rhel tedu-dr              # the same on RHEL/CentOS guests
   lvslab plan tedu-dr --from tedu-nat        # switching the NAT lab's VMs to DR
   lvslab plan tedu-nat -o html > handout.html
   lvslab plan -o script -n lvs1 tedu-nat > lvs1.sh
   lvslab plan -o script --dir scripts tedu-nat
   lvslab plan my-lab.yaml -o json | jq '.nodes[].steps[].name'`

func planCommand() *cli.Command {
	return command{name: "plan", args: labArgUsage, help: planHelp, formats: planFormats,
		usage: "print the student's handout (what to type on each node), or the machine's scripts or steps",
		flags: []cli.Flag{labFlag(),
			choice(&cli.StringFlag{Name: "os", Value: catalog.Debian, Usage: "guest OS family: " + strings.Join(catalog.OSFamilies, " or ")}, catalog.OSFamilies...),
			nodeFlag("only this"),
			&cli.StringFlag{Name: "from", Usage: "the handout of a stage: these VMs were configured as `LAB` before; only what changes"},
			choice(&cli.StringFlag{Name: "network", Usage: "the guests' network stack: " + strings.Join(handout.Stacks, " or ") + " (default: networkd on Debian, as lvslab's image has it; networkmanager on RHEL)"}, handout.Stacks...),
			&cli.StringFlag{Name: "dir", Usage: "-o script: write each node's script to `DIR`/NODE.sh"},
		},
		action: planAction,
	}.cli()
}

// planAction prints the handout, or the machine's scripts or steps.
func planAction(c *cli.Context) error {
	opts, err := planOptionsOf(c)
	if err != nil {
		return err
	}
	format := opts.Format
	lab, err := loadLab(c)
	if err != nil {
		return err
	}
	var names []string
	for _, n := range lab.Nodes {
		names = append(names, n.Name)
	}
	for _, n := range opts.Nodes {
		if !slices.Contains(names, n) {
			return failed(fmt.Sprintf("no node %q in lab %s (nodes: %s)", n, lab.Name, strings.Join(names, ", ")))
		}
	}
	machine := format == render.FormatScript || format == render.FormatJSON
	if machine && (opts.From != "" || opts.Network != "") {
		return cannot(fmt.Sprintf("--from and --network shape the student's handout (-o text, markdown or html); -o %s is the machine's plan, which converges from any state", format))
	}
	if opts.Dir != "" && format != render.FormatScript {
		return cannot("--dir writes the scripts of -o script, one file a node")
	}
	if !machine {
		return writeHandout(c, lab.Name, opts, func() (*handout.Handout, error) {
			o := handout.Options{OS: opts.OS, Network: opts.Network}
			if opts.From != "" {
				from, err := labs.Load(opts.From)
				if err != nil {
					return nil, err
				}
				o.From = from
			}
			return handout.Build(lab, o)
		})
	}
	plan := render.Plan(lab, opts.OS)
	if len(opts.Nodes) > 0 {
		plan.Nodes = slices.DeleteFunc(plan.Nodes, func(n render.NodePlan) bool { return !slices.Contains(opts.Nodes, n.Node) })
	}
	if format == render.FormatScript {
		return writeScripts(c, plan, opts, names)
	}
	return writeJSON(c.App.Writer, plan)
}

// planOptionsOf reads plan's flags and refuses the combinations that make
// no sense whatever the lab.
func planOptionsOf(c *cli.Context) (planOptions, error) {
	opts := planOptions{OS: c.String("os"), Format: outputOf(c), Nodes: c.StringSlice("node"), From: c.String("from"), Network: c.String("network"), Dir: c.String("dir")}
	if !slices.Contains(catalog.OSFamilies, opts.OS) {
		return planOptions{}, cannot(fmt.Sprintf("--os %q: use %s", opts.OS, strings.Join(catalog.OSFamilies, " or ")))
	}
	if opts.Network != "" && !slices.Contains(handout.Stacks, opts.Network) {
		return planOptions{}, cannot(fmt.Sprintf("--network %q: use %s", opts.Network, strings.Join(handout.Stacks, " or ")))
	}
	if opts.Network == handout.Networkd && opts.OS == catalog.RHEL {
		return planOptions{}, cannot("--network networkd --os rhel: RHEL-family guests have NetworkManager; leave --network out")
	}
	return opts, nil
}

func writeHandout(c *cli.Context, lab string, opts planOptions, build func() (*handout.Handout, error)) error {
	h, err := build()
	if err != nil {
		return failed(err)
	}
	if len(opts.Nodes) > 0 {
		h.Only(opts.Nodes...)
	}
	out, err := h.Render(opts.Format)
	if err != nil {
		return cannot(err)
	}
	fmt.Fprint(c.App.Writer, out)
	return nil
}

// writeScripts: one script a stream, never several (run as one, it would
// apply every role to one VM); with --dir, a file a node.
func writeScripts(c *cli.Context, plan *render.LabPlan, opts planOptions, names []string) error {
	if opts.Dir == "" {
		if len(plan.Nodes) != 1 {
			return cannot(fmt.Sprintf("-o script writes one script a node, never several in one stream: name one with --node NODE (nodes: %s), or write them with --dir DIR (DIR/NODE.sh)", strings.Join(names, ", ")))
		}
		fmt.Fprint(c.App.Writer, plan.Nodes[0].Script(plan.Lab))
		return nil
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return failed(err)
	}
	for i := range plan.Nodes {
		n := &plan.Nodes[i]
		path := filepath.Join(opts.Dir, n.Node+".sh")
		if err := os.WriteFile(path, []byte(n.Script(plan.Lab)), 0o755); err != nil {
			return failed(err)
		}
		fmt.Fprintf(c.App.Writer, "%s: %s's script (run it on %s as root)\n", path, n.Node, n.Node)
	}
	return nil
}
