package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/lab"
)

// connectFlag is --connect, shared by up, down and status.
func connectFlag() cli.Flag {
	return &cli.StringFlag{
		Name:        "connect",
		Aliases:     []string{"c"},
		Usage:       "libvirt connection `URI` (like virsh: $LIBVIRT_DEFAULT_URI, else qemu:///system)",
		DefaultText: "$LIBVIRT_DEFAULT_URI or qemu:///system",
	}
}

// upHelp is up's description: its stages, then what it does around them.
func upHelp() string {
	return "Brings a lab up through libvirt, in order:\n" + stageList(lab.Stages()) + `
Every object carries an lvslab tag, so "lvslab down" finds it without the lab
file. Running "up" again reuses what exists: stopped VMs are started, and the
same lab in another mode (tedu-nat -> tedu-dr) keeps its VMs. A VM whose NICs
differ from the lab file is an error: run "lvslab down" first.

--dry-run only reads: libvirt's objects, the lab's state folder, and each
running node's state over SSH (the survey configure starts with); it prints
per node what up would create, start and change (the files it would write
and the commands it would run), what it would remove (the VMs and networks
of nodes and networks the file no longer has; -o json's "remove", [] when
none), and changes nothing; -o json gives it as data.

If anything fails, what this run created is removed again (--retain keeps it).
The lab's SSH key and known_hosts live in $LVSLAB_HOME/labs/<lab> (default
/var/lib/lvslab/labs/<lab> for root); each VM's serial console is logged to
/var/log/lvslab/<lab>-<node>.log.

Classroom: "--bare" makes the VMs as a classroom hands out fresh clones: their
NICs attached, lvslab's management access, the packages installed, and
nothing of the exercise (no lab address, the image's hostname, no sysctls,
pages, VIPs or ipvsadm rules); students configure them from "lvslab plan" over
"lvslab ssh", and "lvslab check" tells them what is still wrong. A VM made
bare stays so until a plain "up" configures it. "--node NODE" (-n) configures
only that node (the others are left as they are): a student who fell behind.

Copies: "--as NAME" brings the lab file up under another lab name, with every
address of the file: one copy per student on one host, each on lab networks
of its own (isolated segments, unless the file gives a network "host:") and
reached by lvslab over its own management network. "lvslab ls" lists them;
"lvslab verify NAME", "status NAME" and "down NAME" work on a copy by name.

` + sandboxNeed + `

Examples:
   lvslab up                                     # the default lab, tedu-nat
   lvslab up tedu-nat --as alice                 # a copy for alice, same addresses
   lvslab up tedu-dr --as alice                  # switch alice's copy to DR in place
   lvslab up tedu-dr                             # switch the running tedu lab to DR
   lvslab up my-lab.yaml --accel tcg --timeout 10m
   lvslab up --connect qemu:///session my-lab.yaml
   lvslab up tedu-nat --bare                     # fresh clones for students to configure
   lvslab up tedu-nat --node web1                # configure web1 alone
   lvslab up tedu-nat --retain                   # keep a failed lab to debug it
   lvslab up my-wrr.yaml --dry-run               # what would change (ipvsadm -E ... -s wrr)
   lvslab up tedu-dr --dry-run -o json           # the same as data
   lvslab up --progress json 2>up.jsonl          # progress as JSON events, one a line`
}

func upCommand() *cli.Command {
	return command{name: "up", args: labArgUsage, help: upHelp(), formats: textJSON,
		usage:  "create (or resume) the lab's VMs and networks, then configure every node over SSH",
		flags:  upFlags(),
		action: runUp,
	}.cli()
}

func upFlags() []cli.Flag {
	return []cli.Flag{
		labFlag(),
		connectFlag(),
		accelFlag("`MODE` of the VMs: kvm, tcg (QEMU emulation, slow) or auto (KVM when libvirt offers it)"),
		&cli.BoolFlag{Name: "retain", Usage: "on failure, keep what this run created (to debug it; \"lvslab down\" removes it)"},
		&cli.BoolFlag{Name: "vms-only", Usage: "bring the VMs up and stop at SSH: configure nothing over SSH"},
		&cli.BoolFlag{Name: "bare", Usage: "VMs as a classroom hands them out: NICs, management access, packages, nothing of the exercise (students configure it; \"lvslab check\" reads it back)"},
		nodeFlag("configure only this"),
		&cli.DurationFlag{Name: "timeout", Usage: "how long to wait for SSH on the nodes", DefaultText: "5m under TCG, 2m under KVM"},
		&cli.BoolFlag{Name: "dry-run", Usage: "say what up would create, start and change on each node (surveyed over SSH), changing nothing"},
		asFlag("bring up"),
		&cli.StringFlag{Name: "mgmt-pool", Usage: "`CIDR` a new lab's management /24 is taken from ($" + host.EnvMgmtPool + ")", DefaultText: host.DefaultMgmtPool},
	}
}

// accelFlag is --accel MODE of up and class up.
func accelFlag(usage string) cli.Flag {
	return choice(&cli.StringFlag{Name: "accel", Value: host.AccelAuto, Usage: usage}, host.AccelKVM, host.AccelTCG, host.AccelAuto)
}

// runUp is "lvslab up": --dry-run surveys and prints, otherwise lab.Up.
func runUp(c *cli.Context) error {
	format := outputOf(c)
	if format != outputText && !c.Bool("dry-run") {
		return cannot("-o json goes with --dry-run (up itself prints progress)")
	}
	labFile, err := loadLab(c)
	if err != nil {
		return err
	}
	if err := applyAs(c, labFile); err != nil {
		return err
	}
	ctx, stop := commandContext(c)
	defer stop()
	conn, err := host.Connect(c.String("connect"))
	if err != nil {
		return err
	}
	defer conn.Close()
	opts := lab.Options{
		Paths: folders(c), Accel: c.String("accel"), Retain: c.Bool("retain"), Timeout: c.Duration("timeout"),
		VMsOnly: c.Bool("vms-only"), MgmtPool: c.String("mgmt-pool"), Progress: progressTo(c, c.App.Writer),
		Bare: c.Bool("bare"), Nodes: c.StringSlice("node"),
	}
	for _, n := range opts.Nodes {
		if labFile.Node(n) == nil {
			return cannot(fmt.Sprintf("--node %s: no such node in lab %s", n, labFile.Name))
		}
	}
	if opts.Bare && len(opts.Nodes) > 0 {
		return cannot("--bare configures nothing, --node configures one node: choose one")
	}
	if c.Bool("dry-run") {
		plan, err := lab.DryRun(ctx, conn, labFile, opts)
		if err != nil {
			return err
		}
		if format == outputJSON {
			return writeJSON(c.App.Writer, plan)
		}
		lab.WritePlan(c.App.Writer, plan)
		return nil
	}
	res, err := lab.Up(ctx, conn, labFile, opts)
	if err != nil {
		return err
	}
	printEndpoints(c.App.Writer, res)
	if opts.Bare {
		arg, _ := labOf(c, 0)
		fmt.Fprintf(c.App.Writer, "bare: nothing of the exercise is configured; the handout is \"lvslab plan %s\", \"lvslab ssh NODE\" logs in, \"lvslab check %s\" reads it back\n", arg, arg)
	}
	return nil
}

// stageList is the steps of up for its --help, one per line, in order.
func stageList(stages []lab.Stage) string {
	var b strings.Builder
	for _, s := range stages {
		lines := strings.Split(s.Doc, "\n")
		fmt.Fprintf(&b, "   %-10s %s\n", s.Name, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "   %-10s %s\n", "", l)
		}
	}
	return b.String()
}

func printEndpoints(w io.Writer, res *lab.Result) {
	accel := "TCG"
	if res.DomainType == host.DomainKVM {
		accel = "KVM"
	}
	fmt.Fprintf(w, "lab %s is up (%s): every node answered SSH within %s, %s in all\n",
		res.Lab, accel, res.SSHReady.Round(100*time.Millisecond), res.Elapsed.Round(100*time.Millisecond))
	for _, ep := range res.Nodes {
		host := ep.Addr
		if h, _, err := net.SplitHostPort(ep.Addr); err == nil {
			host = h
		}
		fmt.Fprintf(w, "   %-10s ssh -i %s -o UserKnownHostsFile=%s %s@%s\n", ep.Node, ep.KeyFile, ep.KnownHostsFile, ep.User, host)
	}
}
