package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/sandbox"
)

// sandboxNeed is the one statement of when a sandbox is needed, in every
// help that speaks of it and in the README.
const sandboxNeed = `A lab needs a libvirtd. A workstation's own (qemu:///system) needs no
sandbox: lvslab uses it directly. On a shared or bare machine (a server, a
CI runner), lab networks must not touch the host's networking: there, run
"sudo lvslab sandbox start" once; as root, lvslab's libvirt commands then
run inside that sandbox until "lvslab sandbox stop".`

func sandboxCommand() *cli.Command {
	return &cli.Command{
		Name:      "sandbox",
		Usage:     "a private network namespace with its own libvirtd: started to stay, or around one command",
		ArgsUsage: "start|shell|status|stop | -- COMMAND [ARG...]",
		Description: sandboxNeed + `

"lvslab sandbox start" creates a network namespace (lvslab-sb) and a private
mount namespace, starts virtlogd and libvirtd in there with private state,
sockets and configuration, records them in $LVSLAB_HOME/sandbox.json
(/var/lib/lvslab for root) and returns, leaving them running. While it runs,
every command that takes --connect (up, down, status, ls, verify, check, ssh,
exec, console, drill, ipvs, ssh-config), run as root without --connect or
$LIBVIRT_DEFAULT_URI, runs inside it. Lab networks and VMs exist only in the
sandbox; built images (/var/lib/lvslab/images) stay shared with the host.

"lvslab sandbox -- COMMAND" runs COMMAND inside the running sandbox; with
none running, it makes a one-shot sandbox around COMMAND, which is removed
with everything in it when COMMAND exits (--hypervisors and a --name other
than the running sandbox's always make a one-shot one). COMMAND sees
LVSLAB_SANDBOX=<namespace>; its exit code is returned.

When KVM cannot run guests here, /dev/kvm is hidden so libvirt uses QEMU TCG
without re-probing on every call (--mask-kvm=always|never to force).

With --hypervisors N, the one-shot sandbox simulates N remote libvirt hosts:
namespaces NAME-hv1..N, each joined to COMMAND's "teacher" namespace by a
veth pair (10.253.I.2), with private libvirt folders, its own pool folder on
disk, virtlogd, libvirtd and an sshd that lets root in with a key the sandbox
makes and forwards TCP. The teacher namespace has no libvirtd: COMMAND reaches
the hosts only through their URIs, listed space-separated in
$LVSLAB_HYPERVISORS (qemu+ssh://root@10.253.I.2/system?keyfile=...&known_hosts=...).

Examples:
   sudo lvslab sandbox start                # a sandbox that stays
   sudo lvslab up && sudo lvslab verify     # the default lab, in it
   sudo lvslab sandbox shell                # a shell in it (virsh, ip, lvslab)
   sudo lvslab sandbox -- virsh net-list --all
   sudo lvslab sandbox stop                 # its labs, daemons and namespace gone
   sudo lvslab sandbox --hypervisors 2 -- sh -c 'for u in $LVSLAB_HYPERVISORS; do virsh -c "$u" hostname; done'`,
		Flags: append(sandboxFlags("the one-shot sandbox's network namespace `NAME` (default lvslab-sb-PID)"),
			&cli.IntFlag{Name: "hypervisors", Usage: "simulate `N` remote hosts (libvirtd and sshd each); COMMAND runs in a teacher namespace without libvirtd and finds their URIs in $" + sandbox.EnvHypervisors}),
		Subcommands: []*cli.Command{sandboxStartCommand(), sandboxShellCommand(), sandboxStatusCommand(), sandboxStopCommand()},
		Action:      runSandbox,
	}
}

// sandboxFlags are the flags of a sandbox being made: --mask-kvm, --name.
func sandboxFlags(nameUsage string) []cli.Flag {
	return []cli.Flag{
		choice(&cli.StringFlag{Name: "mask-kvm", Value: string(sandbox.MaskAuto), Usage: "hide /dev/kvm from libvirt: auto, always or never"},
			string(sandbox.MaskAuto), string(sandbox.MaskAlways), string(sandbox.MaskNever)),
		&cli.StringFlag{Name: "name", Usage: nameUsage},
	}
}

// sandboxOptions are the options of a sandbox made by c's flags.
func sandboxOptions(c *cli.Context) sandbox.Options {
	return sandbox.Options{
		Name:        c.String("name"),
		MaskKVM:     sandbox.KVMMask(c.String("mask-kvm")),
		Hypervisors: c.Int("hypervisors"),
		Log:         c.App.ErrWriter,
	}
}

// runSandbox is "lvslab sandbox -- COMMAND": in the running sandbox, else
// in a one-shot one.
func runSandbox(c *cli.Context) error {
	argv := c.Args().Slice()
	if len(argv) == 0 {
		return cannot("lvslab sandbox: say what to do: start, shell, status, stop, or -- COMMAND (\"lvslab sandbox --help\")")
	}
	st, err := runningSandbox(c)
	if err != nil {
		return err
	}
	if st != nil && c.Int("hypervisors") == 0 && (c.String("name") == "" || c.String("name") == st.Name) {
		return enterSandbox(st, argv)
	}
	return oneShotSandbox(c, argv)
}

// oneShotSandbox runs argv in a sandbox of its own, removed when it exits.
func oneShotSandbox(c *cli.Context, argv []string) error {
	code, err := sandbox.Run(c.Context, sandboxOptions(c), argv)
	if err != nil {
		return exit("lvslab sandbox: "+err.Error(), report.ExitSandbox)
	}
	if code != 0 {
		return exit("", code)
	}
	return nil
}

// runningSandbox is the sandbox "lvslab sandbox start" left running, or
// nil.
func runningSandbox(c *cli.Context) (*sandbox.State, error) {
	st, err := sandbox.Load(folders(c).Home)
	if err != nil {
		return nil, cannot("lvslab sandbox: " + err.Error())
	}
	if st == nil || !st.Running() {
		return nil, nil
	}
	return st, nil
}

// enterSandbox replaces lvslab with argv inside the running sandbox.
func enterSandbox(st *sandbox.State, argv []string) error {
	err := sandbox.Exec(st, argv)
	return exit(fmt.Sprintf("lvslab sandbox: cannot run %s in sandbox %s: %v", argv[0], st.Name, err), report.ExitSandbox)
}

func sandboxStartCommand() *cli.Command {
	return command{
		name:  "start",
		usage: "start a sandbox that stays: lvslab's libvirt commands then run in it",
		help: `Creates the network namespace (lvslab-sb unless --name) with its own
virtlogd and libvirtd, records them in $LVSLAB_HOME/sandbox.json and returns.
A second start while one runs is refused; what is left of a sandbox whose
daemons died (a reboot, a killed libvirtd) is removed first.

Examples:
   sudo lvslab sandbox start
   sudo lvslab sandbox start --mask-kvm always   # guests under QEMU TCG`,
		flags: sandboxFlags("network namespace `NAME`"),
		action: func(c *cli.Context) error {
			o := sandboxOptions(c)
			if o.Name == "" {
				o.Name = sandbox.DefaultName
			}
			// Ctrl-C while it starts removes what it made.
			ctx, stop := commandContext(c)
			defer stop()
			st, err := sandbox.Start(ctx, o, folders(c).Home)
			if err != nil {
				return cannot("lvslab sandbox start: " + err.Error())
			}
			st.Describe(c.App.Writer)
			fmt.Fprintln(c.App.Writer, `As root, lvslab's libvirt commands (up, status, ssh, verify, down, ...) now run in it;`+
				` "lvslab sandbox shell" opens a shell there, "lvslab sandbox stop" removes it with its labs.`)
			return nil
		},
	}.cli()
}

func sandboxShellCommand() *cli.Command {
	return command{
		name:  "shell",
		usage: "a shell inside the running sandbox (else in a one-shot sandbox)",
		help: `Runs $SHELL (else /bin/sh) inside the sandbox "lvslab sandbox start" left
running: leaving the shell leaves the sandbox running. With none running, the
shell gets a one-shot sandbox, removed with everything in it when it exits.

Examples:
   sudo lvslab sandbox shell`,
		action: func(c *cli.Context) error {
			shell := os.Getenv("SHELL")
			if shell == "" {
				shell = "/bin/sh"
			}
			st, err := runningSandbox(c)
			if err != nil {
				return err
			}
			if st == nil {
				fmt.Fprintln(c.App.ErrWriter, `lvslab sandbox: no sandbox runs ("lvslab sandbox start" starts one that stays): this shell's sandbox goes when it exits`)
				return oneShotSandbox(c, []string{shell})
			}
			fmt.Fprintf(c.App.ErrWriter, "lvslab sandbox: a shell in sandbox %s (leaving it leaves the sandbox running)\n", st.Name)
			return enterSandbox(st, []string{shell})
		},
	}.cli()
}

func sandboxStatusCommand() *cli.Command {
	return command{
		name:  "status",
		usage: "whether a sandbox runs, since when, and its daemons: exit 0 when it runs whole",
		help: `Reads $LVSLAB_HOME/sandbox.json and checks each daemon the sandbox started
by its pid and start time. Exit 0 when all run, 1 when none is recorded or a
daemon is gone ("lvslab sandbox stop" removes what is left).

Examples:
   lvslab sandbox status
   lvslab sandbox status >/dev/null || sudo lvslab sandbox start`,
		action: func(c *cli.Context) error {
			st, err := sandbox.Load(folders(c).Home)
			if err != nil {
				return cannot("lvslab sandbox status: " + err.Error())
			}
			if st == nil {
				return failed(noSandbox() + ` ("lvslab sandbox start" starts one)`)
			}
			st.Describe(c.App.Writer)
			if gone := st.Gone(); len(gone) > 0 {
				return failed(fmt.Sprintf(`sandbox %s: %s is gone ("lvslab sandbox stop" removes what is left, then "lvslab sandbox start")`, st.Name, gone[0].Name))
			}
			return nil
		},
	}.cli()
}

func sandboxStopCommand() *cli.Command {
	return command{
		name:  "stop",
		usage: "remove the running sandbox: its labs, its daemons, its namespace",
		help: `Runs "lvslab down --all" inside the sandbox, stops the virtlogd and libvirtd
it started (by their recorded pid, only while that pid is still the process it
started), then whatever is left in its network namespace, the namespace and
the record. With no sandbox recorded it says so and exits 0.

Examples:
   sudo lvslab sandbox stop`,
		action: func(c *cli.Context) error {
			self, err := os.Executable()
			if err != nil {
				return cannot(err)
			}
			ctx, stop := commandContext(c)
			defer stop()
			st, err := sandbox.Stop(ctx, folders(c).Home, sandbox.StopOptions{
				Down: []string{self, "down", "--all"}, Log: progressText(c, c.App.ErrWriter),
			})
			switch {
			case err != nil:
				return cannot("lvslab sandbox stop: " + err.Error())
			case st == nil:
				fmt.Fprintln(c.App.Writer, noSandbox())
			default:
				fmt.Fprintf(c.App.Writer, "sandbox %s stopped: its labs, daemons and network namespace are gone\n", st.Name)
			}
			return nil
		},
	}.cli()
}

// noSandbox says that no sandbox is recorded; a sandbox is root's, so
// another user is told to ask as root.
func noSandbox() string {
	if os.Geteuid() != 0 {
		return "no sandbox of yours runs here (a sandbox is root's: ask with sudo)"
	}
	return "no sandbox runs here"
}

// enterRunningSandbox runs this lvslab command inside the sandbox "lvslab
// sandbox start" left running, by replacing the process, when the command
// talks to libvirt and nothing chose another one (runsInSandbox); it
// returns when the command is to run here.
func enterRunningSandbox(args []string) {
	if os.Geteuid() != 0 || !runsInSandbox(newApp(), args, os.Getenv) {
		return
	}
	st, err := sandbox.Load(paths.Local().Home)
	if err != nil || st == nil || !st.Running() {
		return
	}
	self, err := os.Executable()
	if err == nil {
		err = sandbox.Exec(st, append([]string{self}, args[1:]...))
	}
	fmt.Fprintf(os.Stderr, "lvslab: cannot run in sandbox %s: %v\n", st.Name, err)
	os.Exit(report.ExitSandbox)
}

// runsInSandbox tells whether the command line args runs in a running
// sandbox: a command that takes --connect, run outside any sandbox, with
// neither --connect nor $LIBVIRT_DEFAULT_URI, and not asking for help or
// completion.
func runsInSandbox(app *cli.App, args []string, getenv func(string) string) bool {
	if getenv(sandbox.EnvName) != "" || getenv("LIBVIRT_DEFAULT_URI") != "" {
		return false
	}
	leaf := leafCommand(app, args)
	if leaf == nil || lookupFlag(leaf.Flags, "--connect") == nil {
		return false
	}
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if a == completionFlag || a == "-h" || a == "--help" {
			return false
		}
		if f := lookupFlag(leaf.Flags, a); strings.HasPrefix(a, "-") && f != nil && slices.Contains(f.Names(), "connect") {
			return false
		}
	}
	return true
}

// sandboxInnerCommand is what "lvslab sandbox" re-runs inside the new
// namespaces; it is not for people.
func sandboxInnerCommand() *cli.Command {
	return sandboxHalf(sandbox.InnerCommand, sandbox.RunInner)
}

// sandboxHypervisorCommand runs one simulated hypervisor of "lvslab sandbox
// --hypervisors"; it is not for people.
func sandboxHypervisorCommand() *cli.Command {
	return sandboxHalf(sandbox.HypervisorCommand, func(ctx context.Context, _ []string) (int, error) {
		return 0, sandbox.RunHypervisor(ctx)
	})
}

// sandboxHalf is a hidden command that the sandbox runs of itself: run
// gets the arguments as they are, and its exit code is lvslab's.
func sandboxHalf(name string, run func(ctx context.Context, args []string) (int, error)) *cli.Command {
	return &cli.Command{
		Name:            name,
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			code, err := run(c.Context, c.Args().Slice())
			if err != nil {
				return exit("lvslab sandbox: "+err.Error(), report.ExitSandbox)
			}
			if code != 0 {
				return exit("", code)
			}
			return nil
		},
	}
}
