package verify

import (
	"context"
	"net/netip"
	"strings"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// MgmtNIC is lvslab's management NIC in every guest (provision.MgmtNIC):
// lvslab's own SSH rides on it, no request or reply of the lab may.
const MgmtNIC = "mgmt0"

// laneChecks prove that a service's requests and replies stay on the lab's
// NICs: the client's route to the VIP, each real server's route back to
// the client, and the director's connection table, whose clients must be
// lab addresses (never a management address).
func laneChecks(ctx context.Context, lab *topology.Lab, ls labService, client *topology.Node, cx, dx guest.Executor, dial guest.Dialer) []report.Check {
	s := ls.svc
	var out []report.Check
	cip := clientAddress(client, s)
	if s.VIP.IsValid() {
		out = append(out, routeCheck(ctx, cx, client.Name, s.VIP, "requests from "+client.Name+" to the VIP"))
	}
	if cip.IsValid() {
		for _, sv := range ls.servers {
			x, err := dial(sv.node.Name)
			name := "replies from " + sv.node.Name + " to " + client.Name
			if err != nil {
				out = append(out, failf(name, "cannot reach %s: %v", sv.node.Name, err))
				continue
			}
			out = append(out, routeCheck(ctx, x, sv.node.Name, cip, name))
		}
	}
	return append(out, connTableCheck(ctx, lab, dx, s, cip))
}

// clientAddress is the client's lab address the service sees: the one on
// the VIP's network, else its first.
func clientAddress(client *topology.Node, s *topology.Service) netip.Addr {
	if nic := client.NICFor(s.VIP); nic != nil && nic.Address.IsValid() {
		return nic.Address.Addr()
	}
	if a := client.Addresses(); len(a) > 0 {
		return a[0]
	}
	return netip.Addr{}
}

// routeCheck passes when node routes to addr over a lab NIC.
func routeCheck(ctx context.Context, x guest.Executor, node string, addr netip.Addr, name string) report.Check {
	name += " leave by a lab NIC"
	out, err := x.Run(ctx, "ip -4 -o route get "+addr.String())
	if err != nil {
		return failf(name, "ip route get %s on %s: %v", addr, node, err)
	}
	dev := routeDevice(out)
	switch dev {
	case "":
		return failf(name, "%s has no route to %s: %s", node, addr, strings.TrimSpace(out))
	case MgmtNIC:
		return failf(name, "%s reaches %s over %s, lvslab's management NIC: the lab's traffic must stay on the lab networks", node, addr, MgmtNIC)
	}
	return passf(name, "%s reaches %s over %s, not %s", node, addr, dev, MgmtNIC)
}

// routeDevice is the "dev" of "ip -o route get" output.
func routeDevice(out string) string {
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			return f[i+1]
		}
	}
	return ""
}

// connTableCheck passes when the director's connection table shows the
// client's lab address and no client from outside the lab networks.
func connTableCheck(ctx context.Context, lab *topology.Lab, dx guest.Executor, s *topology.Service, cip netip.Addr) report.Check {
	name := "the director's connections come from lab addresses"
	out, err := dx.Run(ctx, ipvs.ConnectionsCommand)
	if err != nil {
		return failf(name, "%s: %v", ipvs.ConnectionsCommand, err)
	}
	t, err := ipvs.Parse(out)
	if err != nil {
		return failf(name, "%v", err)
	}
	seen := 0
	for _, c := range t.Conns {
		if s.VIP.IsValid() && c.Virtual.Addr() != s.VIP {
			continue
		}
		src := c.Source.Addr()
		if !inLab(lab, src) {
			return failf(name, "a connection to %s comes from %s, outside every lab network (lvslab's management network?)", c.Virtual, src)
		}
		if src == cip {
			seen++
		}
	}
	if seen == 0 {
		return failf(name, "no entry of %s comes from the client's lab address %s", ipvs.ConnectionsCommand, cip)
	}
	return passf(name, "%s lists %d connection(s) from %s and none from outside the lab networks", ipvs.ConnectionsCommand, seen, cip)
}

func inLab(lab *topology.Lab, a netip.Addr) bool {
	for _, nw := range lab.Networks {
		if nw.CIDR.Contains(a) {
			return true
		}
	}
	return false
}
