package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/lab"
	"github.com/lvslab/lvslab/topology"
)

const statusHelp = `Reads the lab from libvirt by lvslab's tag: for each node the VM's state
(running, shut off, ... or missing), its lab addresses (from the lab file its
tags name), its management address (mgmt0, where lvslab's SSH goes) and
whether lvslab logs in there with the lab's key and pinned host key (2 s);
a running node that does not answer has its guest agent (QEMU's, over a
virtio-serial channel: no guest network) asked why, and the causes it reads
are named: mgmt0 down or without its address, sshd stopped, port 22 blocked
by an nft or iptables rule ("lvslab up" undoes them); where no agent
answers, the way in is "lvslab console NODE"; then the lab's management
network, its lab networks (with the host's address, or isolated) and disks.
With a lab file, nodes that have no VM yet are listed as missing. With no
LAB, every lvslab lab of this libvirt is shown.

Exit codes: 0 every node's VM runs and answers SSH, 1 one does not (each is
named on stderr), 2 status could not run.

Examples:
   lvslab status                    # every lab
   lvslab status tedu-nat
   lvslab status -l tedu -o json`

func statusCommand() *cli.Command {
	return command{name: "status", args: labArgUsage, help: statusHelp, formats: textJSON,
		usage:  "show each node's VM state, addresses and whether lvslab logs in over SSH",
		flags:  []cli.Flag{labFlag(), connectFlag(), oldNameFlag()},
		action: statusAction,
	}.cli()
}

// statusAction reports the named lab, or every lab of the connection.
func statusAction(c *cli.Context) error {
	var given *topology.Lab
	var names []string
	arg, err := labOf(c, 0)
	if err != nil {
		return err
	}
	if arg != "" || c.String("name") != "" {
		sel, err := labSelector(c, false)
		if err != nil {
			return err
		}
		names = []string{sel.Lab}
		if arg != "" {
			given, _ = labs.Load(arg)
		}
	}
	return withConn(c, func(conn *host.Conn) error { return statusOf(c, conn, given, names) })
}

// statusOf reports the labs names (every lab of conn when nil; given is
// the first's lab file, when one was given).
func statusOf(c *cli.Context, conn *host.Conn, given *topology.Lab, names []string) error {
	running, err := lab.Labs(conn, "")
	if err != nil {
		return err
	}
	if names == nil {
		names = running
	} else if given == nil && !slices.Contains(running, names[0]) {
		return failed(fmt.Sprintf("no lab named %s runs here (\"lvslab ls\" lists them)", names[0]))
	}
	all := []*lab.LabStatus{}
	for _, name := range names {
		file := given
		if file == nil {
			file, _ = lab.Recorded(conn, name) // without it, no lab addresses
		}
		st, err := lab.Status(c.Context, conn, name, lab.StatusOptions{Paths: folders(c), Lab: file})
		if err != nil {
			return err
		}
		all = append(all, st)
	}
	if outputOf(c) == outputJSON {
		if err := writeJSON(c.App.Writer, all); err != nil {
			return err
		}
		return statusVerdict(all)
	}
	if len(all) == 0 {
		fmt.Fprintln(c.App.Writer, "no lvslab lab found (\"lvslab up\" makes one)")
	}
	for _, st := range all {
		printStatus(c.App.Writer, st)
	}
	return statusVerdict(all)
}

// statusVerdict is exit code 1, with the reasons, when a node's VM is not
// running or lvslab cannot log in to it: CI can trust "lvslab status".
func statusVerdict(all []*lab.LabStatus) error {
	var labsDown []string
	for _, st := range all {
		var down []string
		does := "starts and configures them"
		for _, n := range st.Nodes {
			if why := n.Down(); why != "" {
				down = append(down, why)
			}
			if n.CutOff() {
				does = "starts and configures them, and restores lvslab's access through the guest agent"
			}
		}
		if len(down) == 0 {
			continue
		}
		up := "lvslab up LAB"
		if st.File != "" {
			up = "lvslab up " + topology.FileRef(st.File)
		}
		labsDown = append(labsDown, fmt.Sprintf("lab %s: %s (%q %s)", st.Lab, strings.Join(down, ", "), up, does))
	}
	if len(labsDown) == 0 {
		return nil
	}
	return failed("lvslab status: " + strings.Join(labsDown, "; "))
}

func printStatus(w io.Writer, st *lab.LabStatus) {
	fmt.Fprintf(w, "lab %s", st.Lab)
	if st.File != "" {
		fmt.Fprintf(w, " (from %s)", st.File)
	}
	if st.Host != "" {
		fmt.Fprintf(w, " on %s (SSH jumps through it)", st.Host)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tROLE\tVM\tSTATE\tLAB ADDRESSES\tMGMT0\tSSH")
	for _, n := range st.Nodes {
		ssh := "-"
		switch {
		case n.SSH != "":
			ssh = "up (" + n.SSH + ")"
		case n.SSHError != "":
			ssh = "down: " + n.SSHError
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Node, dash(n.Role), n.Domain, n.State, dash(strings.Join(n.Addresses, ", ")), dash(n.Mgmt), ssh)
	}
	tw.Flush()
	printGuests(w, st)
	for _, n := range st.Networks {
		state := "inactive"
		if n.Active {
			state = "active"
		}
		switch {
		case n.Mgmt:
			fmt.Fprintf(w, "  management network %s: %s, bridge %s, host %s, %s (lvslab's SSH only, not part of the lab)\n", n.Name, st.Mgmt, n.Bridge, n.Host, state)
		case n.Host != "":
			fmt.Fprintf(w, "  network %s: bridge %s, host %s, %s\n", n.Name, n.Bridge, n.Host, state)
		default:
			fmt.Fprintf(w, "  network %s: bridge %s, isolated (no host address), %s\n", n.Name, n.Bridge, state)
		}
	}
	if len(st.Volumes) > 0 {
		fmt.Fprintf(w, "  disks: %s\n", strings.Join(st.Volumes, " "))
	}
}

// printGuests says, per running node, what runs in it, what manages its
// network and how its first boot was set up.
func printGuests(w io.Writer, st *lab.LabStatus) {
	for _, n := range st.Nodes {
		if n.OS == "" && n.Seeded == "" {
			continue
		}
		fmt.Fprintf(w, "  guest %s: %s, network by %s, seeded by %s\n", n.Node,
			cmp.Or(n.OS, "OS unknown"), cmp.Or(n.Network, "unknown"), cmp.Or(n.Seeded, "unknown"))
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
