package topology

import (
	"fmt"
	"net/netip"
	"strings"
)

// routerPlaces are where keepalived puts a service's VIP: the NIC in its
// subnet on every router, the master's first.
func routerPlaces(lab *Lab, s *Service) []vipPlace {
	k := s.Keepalived
	master := k.Master()
	var out []vipPlace
	for _, r := range append([]Router{*master}, k.Routers...) {
		if len(out) > 0 && r.Node == master.Node {
			continue
		}
		n := lab.Node(r.Node)
		if n == nil {
			continue
		}
		nic := n.NICFor(s.VIP)
		if nic == nil {
			continue
		}
		role := "MASTER, holds it"
		if r.Node != master.Node {
			role = "BACKUP, takes it over"
		}
		out = append(out, vipPlace{n.Name, fmt.Sprintf("%s %s/%d by keepalived (%s, priority %d)", nic.Name, s.VIP, s.VIPPrefix, role, r.Priority), false})
	}
	return out
}

// holders names the routers in the order they hold the VIP: "lvs1 (lvs2
// on failover)".
func holders(k *Keepalived) string {
	master := k.Master()
	var backups []string
	for _, r := range k.Routers {
		if r.Node != master.Node {
			backups = append(backups, r.Node)
		}
	}
	if len(backups) == 0 {
		return master.Node
	}
	return master.Node + " (" + strings.Join(backups, ", ") + " on failover)"
}

func vrrpTitle(s *Service) string {
	name := s.Name
	if name == "" {
		name = "service"
	}
	return fmt.Sprintf("%s: %s %s, VRRP only (no IPVS), virtual_router_id %d", name, s.Protocol, netip.AddrPortFrom(s.VIP, s.Port), s.Keepalived.VRID)
}

// vrrpASCII draws the VRRP-only services: where the VIP lives and who
// answers through it.
func vrrpASCII(b *strings.Builder, lab *Lab) {
	for _, s := range lab.VRRPServices {
		if s.Keepalived == nil || len(s.Keepalived.Routers) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n%s\n", vrrpTitle(s))
		for _, p := range routerPlaces(lab, s) {
			fmt.Fprintf(b, "  VIP on   %s %s\n", p.node, p.where)
		}
		fmt.Fprintf(b, "  request  %s -> %s, which serves the VIP itself\n", clients(lab), holders(s.Keepalived))
		fmt.Fprintf(b, "  reply    %s -> %s directly, from the VIP\n", s.Keepalived.Master().Node, clients(lab))
	}
}

// vrrpFlows are the dot and mermaid shapes of the VRRP-only services:
// each VIP tied to its routers, requests to it and the master's replies.
func vrrpFlows(lab *Lab, first int) ([]vipNode, []edge) {
	var vips []vipNode
	var edges []edge
	for i, s := range lab.VRRPServices {
		if s.Keepalived == nil || len(s.Keepalived.Routers) == 0 {
			continue
		}
		vip := vipNode{id: fmt.Sprintf("vip_%d", first+i), label: "VIP " + s.VIP.String() + "\n" + vrrpTitle(s)}
		vips = append(vips, vip)
		for _, p := range routerPlaces(lab, s) {
			edges = append(edges, edge{vip.id, "node_" + dotID(p.node), p.where, edgeHolds})
		}
		master := "node_" + dotID(s.Keepalived.Master().Node)
		for _, c := range lab.NodesWithRole(RoleClient) {
			edges = append(edges, edge{"node_" + dotID(c.Name), vip.id, "request", edgeRequest})
			edges = append(edges, edge{master, "node_" + dotID(c.Name), "reply from VIP", edgeReply})
		}
	}
	return vips, edges
}
