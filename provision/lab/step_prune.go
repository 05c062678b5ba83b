package lab

import (
	"errors"
	"slices"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/topology"
)

// pruneRemoved removes what an earlier up of this lab made for nodes and
// networks its file no longer has: the domain, its disks and console log,
// its host key pins, and lab networks no node of the file uses. A node left
// running would keep its addresses on the lab's segments: after
// tedu-keepalived-dr, a stray lvs2 would hold tedu-dr's VIP by VRRP.
// It runs after plan, which refused any kept domain whose NICs differ from
// the file, so no kept domain is on a network it removes.
func pruneRemoved(r *run) error {
	inv, err := host.DiscoverLab(r.conn, paths.DefaultPool, r.lab.Name)
	if err != nil {
		return err
	}
	gone := staleParts(inv, r.lab.Nodes, r.labNetworkNames())
	if gone.Empty() {
		return nil
	}
	t := &teardown{conn: r.conn, remote: r.remote, lab: r.lab.Name, sink: r.sink}
	t.objects(gone)
	for _, d := range gone.Domains {
		if err := sshx.UnpinHost(r.opts.Paths.KnownHostsFile(r.lab.Name), d.Name, access.SSHAddr(d.Tag.Mgmt)); err != nil {
			t.fail(err)
		}
	}
	for _, x := range t.removed {
		r.reused = slices.DeleteFunc(r.reused, func(s string) bool { return s == x.What+" "+x.Name })
	}
	return errors.Join(t.errs...)
}

// staleParts is the part of a lab's inventory that belongs to no node and
// no network of the file (the management network always stays).
func staleParts(inv *host.Inventory, nodes []*topology.Node, networks []string) *host.Inventory {
	keep := map[string]bool{}
	for _, n := range nodes {
		keep[n.Name] = true
	}
	out := &host.Inventory{Lab: inv.Lab}
	for _, d := range inv.Domains {
		if !keep[d.Tag.Node] {
			out.Domains = append(out.Domains, d)
		}
	}
	for _, v := range inv.Volumes {
		if _, node, ok := paths.VolumeOwner(v.Name); ok && !keep[node] {
			out.Volumes = append(out.Volumes, v)
		}
	}
	for _, n := range inv.Networks {
		if !n.IsMgmt() && !slices.Contains(networks, n.Name) {
			out.Networks = append(out.Networks, n)
		}
	}
	return out
}

// labNetworkNames are the libvirt names of the file's lab networks.
func (r *run) labNetworkNames() []string {
	var out []string
	for _, nw := range r.lab.Networks {
		out = append(out, paths.NetworkName(r.lab.Name, nw.Name))
	}
	return out
}
