package main

import (
	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/sandbox"
)

func sandboxCommand() *cli.Command {
	return &cli.Command{
		Name:      "sandbox",
		Usage:     "run a command with its own private network namespace and libvirtd",
		ArgsUsage: "-- COMMAND [ARG...]",
		Description: `Creates a network namespace (lvslab-sb-PID) and a private mount namespace,
starts virtlogd and libvirtd in there with private state, sockets and
configuration, runs COMMAND, then stops every daemon, guest and dnsmasq of the
namespace and deletes it. Lab networks and VMs made by COMMAND exist only in
the sandbox: the host's networks and its own libvirtd are never touched.
Built images (/var/lib/lvslab) stay shared with the host.

When KVM cannot run guests here, /dev/kvm is hidden so libvirt uses QEMU TCG
without re-probing on every call (--mask-kvm=always|never to force).
COMMAND sees LVSLAB_SANDBOX=<namespace>; its exit code is returned.

With --hypervisors N, the sandbox simulates N remote libvirt hosts instead:
namespaces NAME-hv1..N, each joined to COMMAND's "teacher" namespace by a
veth pair (10.253.I.2), with private libvirt folders, its own pool folder on
disk, virtlogd, libvirtd and an sshd that lets root in with a key the sandbox
makes and forwards TCP. The teacher namespace has no libvirtd: COMMAND reaches
the hosts only through their URIs, listed space-separated in
$LVSLAB_HYPERVISORS (qemu+ssh://root@10.253.I.2/system?keyfile=...&known_hosts=...).

Examples:
   sudo lvslab sandbox -- virsh -c qemu:///system net-list --all
   sudo lvslab sandbox -- lvslab up labs/nat.yaml
   sudo lvslab sandbox -- bash          # an interactive shell in the sandbox
   sudo lvslab sandbox --hypervisors 2 -- sh -c 'for u in $LVSLAB_HYPERVISORS; do virsh -c "$u" hostname; done'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "mask-kvm", Value: string(sandbox.MaskAuto), Usage: "hide /dev/kvm from libvirt: auto, always or never"},
			&cli.StringFlag{Name: "name", Usage: "network namespace `NAME` (default lvslab-sb-PID)"},
			&cli.IntFlag{Name: "hypervisors", Usage: "simulate `N` remote hosts (libvirtd and sshd each); COMMAND runs in a teacher namespace without libvirtd and finds their URIs in $" + sandbox.EnvHypervisors},
		},
		Action: func(c *cli.Context) error {
			code, err := sandbox.Run(c.Context, sandbox.Options{
				Name:        c.String("name"),
				MaskKVM:     sandbox.KVMMask(c.String("mask-kvm")),
				Hypervisors: c.Int("hypervisors"),
			}, c.Args().Slice())
			if err != nil {
				return err
			}
			if code != 0 {
				return exit("", code)
			}
			return nil
		},
	}
}

// sandboxInnerCommand is what "lvslab sandbox" re-runs inside the new
// namespaces; it is not for people.
func sandboxInnerCommand() *cli.Command {
	return &cli.Command{
		Name:            sandbox.InnerCommand,
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			code, err := sandbox.RunInner(c.Context, c.Args().Slice())
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

// sandboxHypervisorCommand runs one simulated hypervisor of "lvslab sandbox
// --hypervisors"; it is not for people.
func sandboxHypervisorCommand() *cli.Command {
	return &cli.Command{
		Name:            sandbox.HypervisorCommand,
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			if err := sandbox.RunHypervisor(c.Context); err != nil {
				return exit("lvslab sandbox: "+err.Error(), report.ExitSandbox)
			}
			return nil
		},
	}
}
