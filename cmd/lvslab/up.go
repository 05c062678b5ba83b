package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision"
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

type upOptions struct {
	uri     string
	accel   string
	retain  bool
	timeout time.Duration
	vmsOnly bool
}

func upCommand() *cli.Command {
	return &cli.Command{
		Name:      "up",
		Usage:     "create (or resume) the lab's VMs and networks, then configure every node over SSH",
		ArgsUsage: labArgUsage,
		Description: `Brings a lab up through libvirt, in order:
   pool      the storage pool "lvslab" (/var/lib/libvirt/images/lvslab), made once
   networks  one isolated network per lab network, "<lab>-<network>", with the
             host's address (e.g. 192.168.4.254/24) on its bridge
   disks     per node a qcow2 linked clone of the image (instant, small)
   seeds     per node a cloud-init "cidata" volume: hostname, the lab's SSH key,
             a host key lvslab pins in known_hosts, static lab addresses
   domains   "<lab>-<node>" VMs with one NIC per lab NIC (same order, fixed MACs)
   start     all VMs at once
   ssh       waits until each node accepts SSH on its first lab address
   configure brings every node to its desired state over SSH, all at once:
             hostname, NICs (persistent, DHCP off), gateway, sysctls, VIP
             aliases, web page, ipvsadm rules read back and compared; each
             node reports "changed (steps)" or "unchanged"

Every object carries an lvslab tag, so "lvslab down" finds it without the lab
file. Running "up" again reuses what exists: stopped VMs are started, and the
same lab in another mode (tedu-nat -> tedu-dr) keeps its VMs. A VM whose NICs
differ from the lab file is an error: run "lvslab down" first.

If anything fails, what this run created is removed again (--retain keeps it).
The lab's SSH key and known_hosts live in $LVSLAB_HOME/labs/<lab> (default
/var/lib/lvslab/labs/<lab> for root); each VM's serial console is logged to
/var/log/lvslab/<lab>-<node>.log.

Lab networks must not appear on a shared host: run lvslab in its sandbox.

Examples:
   lvslab sandbox -- lvslab up                   # the default lab, tedu-nat
   lvslab up tedu-dr                             # switch the running tedu lab to DR
   lvslab up my-lab.yaml --accel tcg --timeout 10m
   lvslab up --connect qemu:///session my-lab.yaml
   lvslab up tedu-nat --retain                   # keep a failed lab to debug it`,
		Flags: []cli.Flag{
			connectFlag(),
			&cli.StringFlag{Name: "accel", Value: provision.AccelAuto, Usage: "`MODE` of the VMs: kvm, tcg (QEMU emulation, slow) or auto (KVM when libvirt offers it)"},
			&cli.BoolFlag{Name: "retain", Usage: "on failure, keep what this run created (to debug it; \"lvslab down\" removes it)"},
			&cli.BoolFlag{Name: "vms-only", Usage: "bring the VMs up and stop at SSH: configure nothing over SSH"},
			&cli.DurationFlag{Name: "timeout", Usage: "how long to wait for SSH on the nodes", DefaultText: "5m under TCG, 2m under KVM"},
		},
		Action: func(c *cli.Context) error {
			lab, err := loadLab(c)
			if err != nil {
				return err
			}
			o := upOptions{uri: c.String("connect"), accel: c.String("accel"), retain: c.Bool("retain"), timeout: c.Duration("timeout"), vmsOnly: c.Bool("vms-only")}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			conn, err := provision.Connect(o.uri)
			if err != nil {
				return err
			}
			defer conn.Close()
			opts := provision.Options{Accel: o.accel, Retain: o.retain, Timeout: o.timeout, Out: c.App.Writer}
			if !o.vmsOnly {
				opts.Configure = provision.Configure(conn, c.App.Writer, nil)
			}
			res, err := provision.Up(ctx, conn, lab, opts)
			if err != nil {
				return provision.Explain(conn, err)
			}
			printEndpoints(c.App.Writer, res)
			return nil
		},
	}
}

func printEndpoints(w io.Writer, res *provision.Result) {
	accel := "TCG"
	if res.DomainType == "kvm" {
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
