package topology

import (
	"fmt"
	"net/netip"
	"strings"
)

// Graph formats.
const (
	GraphASCII   = "ascii"
	GraphDot     = "dot"
	GraphMermaid = "mermaid"
)

// attachment is one NIC on a network, labelled with its part in LVS.
type attachment struct {
	node, nic, addr, label, gateway string
}

// Graph draws the lab: networks, nodes, addresses labelled VIP/DIP/RIP/CIP,
// and for each service the request and reply paths (NAT replies go back
// through the director, DR and TUN replies go straight to the client).
func Graph(lab *Lab, format string) (string, error) {
	switch format {
	case GraphASCII, "":
		return graphASCII(lab), nil
	case GraphDot:
		return graphDot(lab), nil
	case GraphMermaid:
		return graphMermaid(lab), nil
	}
	return "", fmt.Errorf("unknown graph format %q: use ascii, dot or mermaid", format)
}

// text is the edge label: "eth1 192.168.2.100/24 RIP".
func (a attachment) text() string {
	if a.label == "" {
		return a.nic + " " + a.addr
	}
	return a.nic + " " + a.addr + " " + a.label
}

// attachments lists, per network in file order, what is plugged into it.
func attachments(lab *Lab, nw *Network) []attachment {
	var out []attachment
	for _, n := range lab.Nodes {
		for _, c := range n.NICs {
			if c.Network != nw.Name {
				continue
			}
			a := attachment{node: n.Name, nic: c.Name, addr: "down", label: addressLabel(lab, n, c)}
			if c.Address.IsValid() {
				a.addr = c.Address.String()
				if n.Gateway.IsValid() && c.Address.Masked().Contains(n.Gateway) {
					a.gateway = n.Gateway.String()
				}
			}
			out = append(out, a)
		}
	}
	return out
}

// addressLabel names an address's part in LVS: CIP on clients, RIP on real
// servers, DIP on the director's NICs facing real servers, VIP where the
// VIP is the director's own address (NAT).
func addressLabel(lab *Lab, n *Node, c *NIC) string {
	if !c.Address.IsValid() {
		return ""
	}
	var labels []string
	switch n.Role {
	case RoleClient:
		labels = append(labels, "CIP")
	case RoleWeb:
		labels = append(labels, "RIP")
	case RoleDirector:
		for _, s := range lab.Services {
			if s.VIP == c.Address.Addr() {
				labels = append(labels, "VIP")
				break
			}
		}
		for _, rs := range lab.NodesWithRole(RoleWeb) {
			if rs.NICOn(c.Network) != nil {
				labels = append(labels, "DIP")
				break
			}
		}
	}
	return strings.Join(labels, ",")
}

// vipPlace is where a service's VIP is configured: on a node's device.
type vipPlace struct {
	node, where string
	nicAddress  bool // the VIP is the director's own NIC address (NAT), not an alias
}

// vipPlaces tells where a service's VIP lives: the director's NIC address
// or its alias (eth0:0), and lo:0 or tunl0 of every DR or TUN real server.
func vipPlaces(lab *Lab, s *Service) []vipPlace {
	dir := lab.Director()
	if dir == nil || !s.VIP.IsValid() {
		return nil
	}
	var out []vipPlace
	if s.Keepalived != nil {
		out = routerPlaces(lab, s) // keepalived's, on every router
	} else if nic := dir.NICFor(s.VIP); nic != nil {
		if dir.HasAddress(s.VIP) {
			out = append(out, vipPlace{dir.Name, nic.Name + " " + nic.Address.String(), true})
		} else {
			out = append(out, vipPlace{dir.Name, fmt.Sprintf("%s:0 %s/%d", nic.Name, s.VIP, s.VIPPrefix), false})
		}
	}
	dev := map[string]string{ModeDR: "lo:0", ModeTUN: "tunl0"}[s.Mode]
	if dev != "" {
		for _, r := range s.RealServers {
			out = append(out, vipPlace{r.Node, fmt.Sprintf("%s %s/32", dev, s.VIP), false})
		}
	}
	return out
}

func serviceTitle(s *Service) string {
	name := s.Name
	if name == "" {
		name = "service"
	}
	target := s.Key()
	if s.FWMark == 0 {
		target = s.Protocol + " " + netip.AddrPortFrom(s.VIP, s.Port).String()
	} else {
		target = fmt.Sprintf("fwmark %d", s.FWMark)
	}
	line := fmt.Sprintf("%s: %s, %s, scheduler %s", name, target, strings.ToUpper(s.Mode), s.Scheduler)
	if s.Persistence > 0 {
		line += fmt.Sprintf(", persistent %ds", s.Persistence)
	}
	return line
}

func clients(lab *Lab) string {
	var names []string
	for _, n := range lab.NodesWithRole(RoleClient) {
		names = append(names, n.Name)
	}
	if len(names) == 0 {
		return "client"
	}
	return strings.Join(names, ",")
}

// paths describes how a request reaches a real server and how its reply
// comes back, in the mode's own terms.
func paths(lab *Lab, s *Service) (request []string, reply string) {
	dir := lab.Director()
	for _, r := range s.RealServers {
		rs := lab.Node(r.Node)
		if rs == nil || dir == nil {
			continue
		}
		request = append(request, fmt.Sprintf("%s %s:%d w%d", rs.Name, RealServerAddress(dir, rs), r.Port, r.Weight))
	}
	dirName := "director"
	if dir != nil {
		dirName = dir.Name
	}
	switch s.Mode {
	case ModeNAT:
		reply = fmt.Sprintf("real server -> %s (their gateway; source rewritten back to the VIP) -> %s", dirName, clients(lab))
	case ModeDR:
		reply = fmt.Sprintf("real server -> %s directly, from the VIP on its lo:0 (the director only sees requests)", clients(lab))
	case ModeTUN:
		reply = fmt.Sprintf("real server -> %s directly, from the VIP on its tunl0 (requests arrive IP-in-IP)", clients(lab))
	}
	return request, reply
}

func graphASCII(lab *Lab) string {
	var b strings.Builder
	fmt.Fprintf(&b, "lab %s (%s)\n", lab.Name, lab.File)
	if lab.Description != "" {
		fmt.Fprintf(&b, "%s\n", lab.Description)
	}
	// Columns as wide as the lab's longest node, NIC and address, the same
	// for every network.
	wNode, wNIC, wAddr := 10, 6, 18
	for _, nw := range lab.Networks {
		for _, a := range attachments(lab, nw) {
			wNode, wNIC, wAddr = max(wNode, len(a.node)), max(wNIC, len(a.nic)), max(wAddr, len(a.addr))
		}
	}
	for _, nw := range lab.Networks {
		fmt.Fprintf(&b, "\n[%s %s]  %s\n", nw.Name, nw.CIDR, hostLabel(nw))
		as := attachments(lab, nw)
		for i, a := range as {
			branch := "├──"
			if i == len(as)-1 {
				branch = "└──"
			}
			line := fmt.Sprintf("  %s %-*s %-*s %-*s", branch, wNode, a.node, wNIC, a.nic, wAddr, a.addr)
			if a.label != "" {
				line += " " + a.label
			}
			if a.gateway != "" {
				line += "  gw " + a.gateway
			}
			b.WriteString(strings.TrimRight(line, " ") + "\n")
		}
	}
	b.WriteString("\n[mgmt]  lvslab's own network, apart from the lab: every node's last NIC mgmt0,\n        a subnet allocated at up; SSH only, no route, no VIP, no LVS traffic\n")
	for _, s := range lab.Services {
		fmt.Fprintf(&b, "\n%s\n", serviceTitle(s))
		for _, p := range vipPlaces(lab, s) {
			if !p.nicAddress {
				fmt.Fprintf(&b, "  VIP on   %s %s\n", p.node, p.where)
			}
		}
		req, reply := paths(lab, s)
		dirName := "director"
		if d := lab.Director(); d != nil {
			dirName = d.Name
		}
		if s.Keepalived != nil {
			dirName = holders(s.Keepalived)
		}
		fmt.Fprintf(&b, "  request  %s -> %s -> %s\n", clients(lab), dirName, strings.Join(req, " | "))
		fmt.Fprintf(&b, "  reply    %s\n", reply)
	}
	vrrpASCII(&b, lab)
	return b.String()
}

func dotID(s string) string {
	return strings.NewReplacer("-", "_", ".", "_").Replace(s)
}

// hostLabel says what the host machine has on a lab network.
func hostLabel(nw *Network) string {
	if nw.Host.IsValid() {
		return "host " + nw.Host.String()
	}
	return "no host address"
}

// syntax spells the parts of a diagram in one language; drawGraph walks the
// lab once for every language.
type syntax struct {
	head, tail string
	network    func(nw *Network) string
	node       func(n *Node) string
	link       func(a attachment, nw *Network) string
	vip        func(v vipNode) string
	edge       func(e edge) string
}

func drawGraph(lab *Lab, s syntax) string {
	var b strings.Builder
	b.WriteString(s.head)
	for _, nw := range lab.Networks {
		b.WriteString(s.network(nw))
	}
	for _, n := range lab.Nodes {
		b.WriteString(s.node(n))
	}
	for _, nw := range lab.Networks {
		for _, a := range attachments(lab, nw) {
			b.WriteString(s.link(a, nw))
		}
	}
	vips, edges := flows(lab)
	vrrpVIPs, vrrpEdges := vrrpFlows(lab, len(vips))
	vips, edges = append(vips, vrrpVIPs...), append(edges, vrrpEdges...)
	for _, v := range vips {
		b.WriteString(s.vip(v))
	}
	for _, e := range edges {
		b.WriteString(s.edge(e))
	}
	b.WriteString(s.tail)
	return b.String()
}

func graphDot(lab *Lab) string {
	return drawGraph(lab, syntax{
		head: fmt.Sprintf("graph %q {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n", lab.Name),
		tail: "}\n",
		network: func(nw *Network) string {
			return fmt.Sprintf("  net_%s [shape=ellipse, label=\"%s\\n%s\\n%s\"];\n", dotID(nw.Name), nw.Name, nw.CIDR, hostLabel(nw))
		},
		node: func(n *Node) string {
			return fmt.Sprintf("  node_%s [shape=box, label=\"%s\\n(%s)\"];\n", dotID(n.Name), n.Name, n.Role)
		},
		link: func(a attachment, nw *Network) string {
			style := ""
			if a.addr == "down" {
				style = ", style=dotted"
			}
			return fmt.Sprintf("  node_%s -- net_%s [label=%q%s];\n", dotID(a.node), dotID(nw.Name), a.text(), style)
		},
		vip: func(v vipNode) string { return fmt.Sprintf("  %s [shape=hexagon, label=%q];\n", v.id, v.label) },
		edge: func(e edge) string {
			return fmt.Sprintf("  %s -- %s [label=%q, %s];\n", e.from, e.to, e.label, dotStyles[e.kind])
		},
	})
}

func graphMermaid(lab *Lab) string {
	return drawGraph(lab, syntax{
		head: "flowchart LR\n",
		network: func(nw *Network) string {
			return fmt.Sprintf("  net_%s([%s<br/>%s<br/>%s])\n", dotID(nw.Name), nw.Name, nw.CIDR, hostLabel(nw))
		},
		node: func(n *Node) string { return fmt.Sprintf("  node_%s[%s<br/>%s]\n", dotID(n.Name), n.Name, n.Role) },
		link: func(a attachment, nw *Network) string {
			arrow := "---"
			if a.addr == "down" {
				arrow = "-.-"
			}
			return fmt.Sprintf("  node_%s %s|%s| net_%s\n", dotID(a.node), arrow, a.text(), dotID(nw.Name))
		},
		vip: func(v vipNode) string {
			return fmt.Sprintf("  %s{{\"%s\"}}\n", v.id, strings.ReplaceAll(v.label, "\n", "<br/>"))
		},
		edge: func(e edge) string {
			return fmt.Sprintf("  %s %s|%q| %s\n", e.from, mermaidArrows[e.kind], e.label, e.to)
		},
	})
}

// Kinds of the service edges dot and mermaid draw.
const (
	edgeHolds   = "holds"   // where the VIP is configured
	edgeRequest = "request" // the client's request and its forwarding
	edgeReply   = "reply"   // the real server's answer
)

var (
	dotStyles = map[string]string{
		edgeHolds:   "style=dotted",
		edgeRequest: "dir=forward, color=darkgreen",
		edgeReply:   "dir=forward, style=dashed, color=blue",
	}
	mermaidArrows = map[string]string{edgeHolds: "-.-", edgeRequest: "-->", edgeReply: "-.->"}
)

// vipNode is a service's VIP drawn as a node of its own.
type vipNode struct{ id, label string }

// edge is one line between two drawn nodes (ids as dot and mermaid name them).
type edge struct{ from, to, label, kind string }

// flows is what dot and mermaid draw for the services: each VIP as a node,
// tied to where it is configured (the director's NIC or eth0:0 alias, lo:0
// or tunl0 of every real server), the request path (client -> VIP ->
// director -> each real server, with the forwarding method and weight) and
// the reply path (back through the director in NAT, straight from each real
// server to the client in DR and TUN).
func flows(lab *Lab) ([]vipNode, []edge) {
	dir := lab.Director()
	if dir == nil {
		return nil, nil
	}
	var vips []vipNode
	var edges []edge
	dirID, clientIDs := "node_"+dotID(dir.Name), []string{}
	for _, c := range lab.NodesWithRole(RoleClient) {
		clientIDs = append(clientIDs, "node_"+dotID(c.Name))
	}
	for i, s := range lab.Services {
		vip := vipNode{id: fmt.Sprintf("vip_%d", i), label: serviceTitle(s)}
		if s.VIP.IsValid() {
			vip.label = "VIP " + s.VIP.String() + "\n" + vip.label
		}
		vips = append(vips, vip)
		places := vipPlaces(lab, s)
		if len(places) == 0 || places[0].node != dir.Name {
			edges = append(edges, edge{vip.id, dirID, "ipvsadm service", edgeHolds}) // fwmark
		}
		for _, p := range places {
			edges = append(edges, edge{vip.id, "node_" + dotID(p.node), p.where, edgeHolds})
		}
		for _, c := range clientIDs {
			edges = append(edges, edge{c, vip.id, "request", edgeRequest})
		}
		method := map[string]string{ModeNAT: "masquerade (-m)", ModeDR: "direct routing (-g)", ModeTUN: "IP-in-IP (-i)"}[s.Mode]
		for _, r := range s.RealServers {
			edges = append(edges, edge{dirID, "node_" + dotID(r.Node), fmt.Sprintf("%s w%d", method, r.Weight), edgeRequest})
		}
		for _, r := range s.RealServers {
			if s.Mode == ModeNAT {
				edges = append(edges, edge{"node_" + dotID(r.Node), dirID, "reply via director", edgeReply})
				continue
			}
			for _, c := range clientIDs {
				edges = append(edges, edge{"node_" + dotID(r.Node), c, "reply from VIP", edgeReply})
			}
		}
		if s.Mode == ModeNAT {
			for _, c := range clientIDs {
				edges = append(edges, edge{dirID, c, "reply from VIP", edgeReply})
			}
		}
	}
	return vips, edges
}
