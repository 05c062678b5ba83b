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

// vipHolders tells where a service's VIP lives besides a NIC address:
// alias on the director, lo:0 or tunl0 on real servers.
func vipHolders(lab *Lab, s *Service) []string {
	dir := lab.Director()
	if dir == nil || !s.VIP.IsValid() {
		return nil
	}
	var out []string
	if !dir.HasAddress(s.VIP) {
		if nic := dir.NICFor(s.VIP); nic != nil {
			out = append(out, fmt.Sprintf("%s %s:0 %s/%d", dir.Name, nic.Name, s.VIP, s.VIPPrefix))
		}
	}
	dev := ""
	switch s.Mode {
	case ModeDR:
		dev = "lo:0"
	case ModeTUN:
		dev = "tunl0"
	}
	if dev != "" {
		for _, r := range s.RealServers {
			out = append(out, fmt.Sprintf("%s %s %s/32", r.Node, dev, s.VIP))
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
	for _, nw := range lab.Networks {
		fmt.Fprintf(&b, "\n[%s %s]  host %s\n", nw.Name, nw.CIDR, nw.Host)
		as := attachments(lab, nw)
		for i, a := range as {
			branch := "├──"
			if i == len(as)-1 {
				branch = "└──"
			}
			line := fmt.Sprintf("  %s %-10s %-6s %-18s", branch, a.node, a.nic, a.addr)
			if a.label != "" {
				line += " " + a.label
			}
			if a.gateway != "" {
				line += "  gw " + a.gateway
			}
			b.WriteString(strings.TrimRight(line, " ") + "\n")
		}
	}
	for _, s := range lab.Services {
		fmt.Fprintf(&b, "\n%s\n", serviceTitle(s))
		for _, h := range vipHolders(lab, s) {
			fmt.Fprintf(&b, "  VIP on   %s\n", h)
		}
		req, reply := paths(lab, s)
		dirName := "director"
		if d := lab.Director(); d != nil {
			dirName = d.Name
		}
		fmt.Fprintf(&b, "  request  %s -> %s -> %s\n", clients(lab), dirName, strings.Join(req, " | "))
		fmt.Fprintf(&b, "  reply    %s\n", reply)
	}
	return b.String()
}

func dotID(s string) string {
	return strings.NewReplacer("-", "_", ".", "_").Replace(s)
}

func graphDot(lab *Lab) string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %q {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n", lab.Name)
	for _, nw := range lab.Networks {
		fmt.Fprintf(&b, "  net_%s [shape=ellipse, label=\"%s\\n%s\\nhost %s\"];\n", dotID(nw.Name), nw.Name, nw.CIDR, nw.Host)
	}
	for _, n := range lab.Nodes {
		fmt.Fprintf(&b, "  node_%s [shape=box, label=\"%s\\n(%s)\"];\n", dotID(n.Name), n.Name, n.Role)
	}
	for _, nw := range lab.Networks {
		for _, a := range attachments(lab, nw) {
			label := a.text()
			style := ""
			if a.addr == "down" {
				style = ", style=dotted"
			}
			fmt.Fprintf(&b, "  node_%s -- net_%s [label=%q%s];\n", dotID(a.node), dotID(nw.Name), label, style)
		}
	}
	dir := lab.Director()
	for i, s := range lab.Services {
		if dir == nil {
			break
		}
		fmt.Fprintf(&b, "  svc_%d [shape=note, label=%q];\n", i, serviceTitle(s))
		fmt.Fprintf(&b, "  svc_%d -- node_%s [style=dashed];\n", i, dotID(dir.Name))
		for _, c := range lab.NodesWithRole(RoleClient) {
			for _, r := range s.RealServers {
				if s.Mode == ModeNAT {
					fmt.Fprintf(&b, "  node_%s -- node_%s [style=dashed, color=blue, label=\"reply via director\"];\n", dotID(r.Node), dotID(dir.Name))
				} else {
					fmt.Fprintf(&b, "  node_%s -- node_%s [style=dashed, color=blue, label=\"reply from VIP\"];\n", dotID(r.Node), dotID(c.Name))
				}
			}
			if s.Mode == ModeNAT {
				fmt.Fprintf(&b, "  node_%s -- node_%s [style=dashed, color=blue, label=\"reply\"];\n", dotID(dir.Name), dotID(c.Name))
			}
		}
	}
	b.WriteString("}\n")
	return b.String()
}

func graphMermaid(lab *Lab) string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, nw := range lab.Networks {
		fmt.Fprintf(&b, "  net_%s([%s<br/>%s<br/>host %s])\n", dotID(nw.Name), nw.Name, nw.CIDR, nw.Host)
	}
	for _, n := range lab.Nodes {
		fmt.Fprintf(&b, "  node_%s[%s<br/>%s]\n", dotID(n.Name), n.Name, n.Role)
	}
	for _, nw := range lab.Networks {
		for _, a := range attachments(lab, nw) {
			label := a.text()
			arrow := "---"
			if a.addr == "down" {
				arrow = "-.-"
			}
			fmt.Fprintf(&b, "  node_%s %s|%s| net_%s\n", dotID(a.node), arrow, label, dotID(nw.Name))
		}
	}
	dir := lab.Director()
	for _, s := range lab.Services {
		if dir == nil {
			break
		}
		for _, c := range lab.NodesWithRole(RoleClient) {
			for _, r := range s.RealServers {
				if s.Mode == ModeNAT {
					fmt.Fprintf(&b, "  node_%s -. reply via director .-> node_%s\n", dotID(r.Node), dotID(dir.Name))
				} else {
					fmt.Fprintf(&b, "  node_%s -. reply from VIP .-> node_%s\n", dotID(r.Node), dotID(c.Name))
				}
			}
			if s.Mode == ModeNAT {
				fmt.Fprintf(&b, "  node_%s -. reply .-> node_%s\n", dotID(dir.Name), dotID(c.Name))
			}
		}
	}
	return b.String()
}
