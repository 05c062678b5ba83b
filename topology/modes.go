package topology

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// checkMode applies the rules that make each forwarding mode work at all;
// each message says why the rule exists, since that is the lesson.
func (d *document) checkMode(lab *Lab, s *Service, path string) {
	dir := lab.Director()
	if dir == nil {
		return // reported by checkRoles
	}
	if s.VIP.IsValid() {
		d.checkVIP(lab, dir, s, path)
	}
	if s.Mode == ModeNAT {
		d.checkNATClients(lab, s, vipNetwork(dir, s))
	}
	for j, r := range s.RealServers {
		rs := lab.Node(r.Node)
		if rs == nil || rs.Role != RoleWeb {
			continue // reported already
		}
		rpath := path + ".real_servers[" + strconv.Itoa(j) + "]"
		switch s.Mode {
		case ModeNAT:
			d.checkNATRealServer(dir, rs, vipNetwork(dir, s), rpath)
		case ModeDR:
			if r.Port != s.Port {
				d.add(rpath+".port", "DR cannot change the port (%d -> %d): the director only rewrites the MAC address, so the real server sees the VIP's port", s.Port, r.Port)
			}
			if SharedNetwork(dir, rs) == "" {
				d.add(rpath+".node", "%s shares no network with director %s: in DR the director hands frames to real servers by MAC, on one LAN", rs.Name, dir.Name)
			}
		case ModeTUN:
			if r.Port != s.Port {
				d.add(rpath+".port", "TUN cannot change the port (%d -> %d): the packet is tunnelled unchanged", s.Port, r.Port)
			}
			if RealServerAddress(dir, rs) == (netip.Addr{}) {
				d.add(rpath+".node", "%s has no address the director can reach directly: the lab has no routers between networks", rs.Name)
			}
		}
		if s.VIP.IsValid() && rs.HasAddress(s.VIP) {
			d.add(rpath+".node", "%s already has the VIP %s as its own address", rs.Name, s.VIP)
		}
		if s.Mode == ModeDR || s.Mode == ModeTUN {
			d.checkReplyRoute(lab, s, rs)
		}
	}
}

// checkReplyRoute refuses a DR or TUN real server that cannot send its
// reply to a client without the director: the reply leaves from the VIP
// straight to the client's address, so that address must be on one of the
// real server's networks or behind its gateway, and that gateway must not
// be a director (which holds the VIP itself and drops a packet coming from
// its own address). Said once per real server, at its gateway.
func (d *document) checkReplyRoute(lab *Lab, s *Service, rs *Node) {
	path := "nodes." + rs.Name + ".gateway"
	if slices.ContainsFunc(d.problems, func(p Problem) bool { return p.Path == path }) {
		return
	}
	mode := strings.ToUpper(s.Mode)
	for _, cl := range lab.NodesWithRole(RoleClient) {
		src := clientSource(cl, s)
		if !src.IsValid() || rs.NICFor(src) != nil {
			continue
		}
		if !rs.Gateway.IsValid() {
			d.add(path, "missing: in %s %s answers %s (%s) straight from the VIP, and no network of %s (%s) holds that address: give %s a gateway that reaches %s without the director, or put %s on %s's network", mode, rs.Name, cl.Name, src, rs.Name, prefixList(rs), rs.Name, cl.Name, cl.Name, rs.Name)
			return
		}
		for _, dir := range lab.NodesWithRole(RoleDirector) {
			if dir.HasAddress(rs.Gateway) {
				d.add(path, "%s is director %s's address: in %s %s answers %s (%s) straight from the VIP, never back through the director, which holds the VIP itself and drops a reply from its own address; give %s a gateway that reaches %s without the director, or put %s on %s's network", rs.Gateway, dir.Name, mode, rs.Name, cl.Name, src, rs.Name, cl.Name, cl.Name, rs.Name)
				return
			}
		}
	}
}

// clientSource is the address a client sends a service's requests from:
// its address on the VIP's network, else on its gateway's, else its only
// address (or none).
func clientSource(cl *Node, s *Service) netip.Addr {
	for _, to := range []netip.Addr{s.VIP, cl.Gateway} {
		if c := cl.NICFor(to); to.IsValid() && c != nil {
			return c.Address.Addr()
		}
	}
	if addrs := cl.Addresses(); len(addrs) == 1 {
		return addrs[0]
	}
	return netip.Addr{}
}

func (d *document) checkVIP(lab *Lab, dir *Node, s *Service, path string) {
	for _, n := range lab.Nodes {
		if n != dir && n.HasAddress(s.VIP) {
			d.add(path+".vip", "%s is %s's address: the VIP must belong to the director", s.VIP, n.Name)
			return
		}
	}
	nic := dir.NICFor(s.VIP)
	if nic == nil {
		d.add(path+".vip", "%s is on none of director %s's networks (%s): clients reach the VIP through one of them", s.VIP, dir.Name, prefixList(dir))
		return
	}
	if !usableIn(s.VIP, nic.Address.Masked()) {
		d.add(path+".vip", "%s is the network or broadcast address of %s: a VIP is a host address clients connect to", s.VIP, nic.Address.Masked())
		return
	}
	if nw := lab.Network(nic.Network); nw != nil && nw.Host.IsValid() && nw.Host == s.VIP {
		d.add(path+".vip", "%s is the host machine's address on %s", s.VIP, nw.Name)
	}
	switch s.Mode {
	case ModeNAT:
		vipOnRSNet := false
		for _, r := range s.RealServers {
			rs := lab.Node(r.Node)
			if rs == nil || rs.Role != RoleWeb || rs.NICFor(s.VIP) == nil {
				continue
			}
			if len(natDIPs(dir, rs, nic.Network)) > 0 {
				// Dual-homed: it has the director's inside network too; its
				// address on the VIP's side is what is wrong.
				out := rs.NICFor(s.VIP)
				d.add("nodes."+rs.Name+".nics."+out.Name+".address", "%s puts %s on %s, the VIP's network: in NAT a real server sits only behind the director, and its replies to clients there would go out directly instead of back through the director to be rewritten; give %s no address", out.Address.Addr(), rs.Name, out.Network, out.Name)
			} else if !vipOnRSNet {
				vipOnRSNet = true
				d.add(path+".vip", "%s is on the real servers' network %s: in NAT the VIP faces the clients and the real servers sit on the other side of the director", s.VIP, nic.Network)
			}
		}
	case ModeDR, ModeTUN:
		if dir.HasAddress(s.VIP) {
			d.add(path+".vip", "%s is the director's own address (its DIP): in %s the VIP is a separate address, also put on every real server", s.VIP, strings.ToUpper(s.Mode))
		}
	}
}

func (d *document) checkNATRealServer(dir, rs *Node, vipNet, rpath string) {
	dips := natDIPs(dir, rs, vipNet)
	if len(dips) == 0 {
		if vipNet == "" || rs.NICOn(vipNet) == nil { // else checkVIP said it
			d.add(rpath+".node", "director %s has no address on %s's network: in NAT the director must sit on the real servers' network to rewrite their replies", dir.Name, rs.Name)
		}
		return
	}
	gwPath := "nodes." + rs.Name + ".gateway"
	var list []string
	for _, a := range dips {
		list = append(list, a.String())
	}
	switch {
	case !rs.Gateway.IsValid():
		d.add(gwPath, "missing: in NAT %s must route its replies through the director, gateway %s", rs.Name, dips[0])
	case !slices.Contains(dips, rs.Gateway):
		d.add(gwPath, "%s is not the director's address on %s's network (%s): in NAT replies must go back through the director to be rewritten", rs.Gateway, rs.Name, strings.Join(list, " or "))
	}
}

// natDIPs are the director's addresses on the networks it shares with a
// real server, but for the VIP's network: the gateways a NAT real server
// may route its replies through.
func natDIPs(dir, rs *Node, vipNet string) []netip.Addr {
	var out []netip.Addr
	for _, c := range rs.NICs {
		if c.Address.IsValid() && c.Network != vipNet {
			if dc := dir.NICOn(c.Network); dc != nil {
				out = append(out, dc.Address.Addr())
			}
		}
	}
	return out
}

// vipNetwork is the network of the director's NIC that holds the VIP's
// subnet, or "" (a firewall-mark service, or a VIP off its networks).
func vipNetwork(dir *Node, s *Service) string {
	if !s.VIP.IsValid() {
		return ""
	}
	if c := dir.NICFor(s.VIP); c != nil {
		return c.Network
	}
	return ""
}

// checkNATClients refuses a client with an address on a NAT real server's
// subnet: the real server answers it directly, not through the director,
// so the reply keeps the real server's address and the client drops it.
// On the VIP's own network the real server is the one at fault (checkVIP).
func (d *document) checkNATClients(lab *Lab, s *Service, vipNet string) {
	for _, cl := range lab.NodesWithRole(RoleClient) {
		for _, c := range cl.NICs {
			if !c.Address.IsValid() || c.Network == vipNet {
				continue
			}
			for _, r := range s.RealServers {
				rs := lab.Node(r.Node)
				if rs == nil || rs.Role != RoleWeb || rs.NICFor(c.Address.Addr()) == nil {
					continue
				}
				d.add("nodes."+cl.Name+".nics."+c.Name+".address", "%s puts %s on %s, the network of NAT real server %s (%s): %s would answer it directly, not through the director, so the reply is never rewritten and the client drops it (the classic asymmetric reply); give %s no address, or move the client to the VIP's network", c.Address.Addr(), cl.Name, c.Network, rs.Name, rs.NICFor(c.Address.Addr()).Address.Addr(), rs.Name, c.Name)
				break
			}
		}
	}
}

// SharedNetwork returns the name of a network on which both nodes have an
// address, or "".
func SharedNetwork(a, b *Node) string {
	for _, c := range a.NICs {
		if c.Address.IsValid() && b.NICOn(c.Network) != nil {
			return c.Network
		}
	}
	return ""
}

// RealServerGateway is the director's address on the real server's network
// (the DIP the real server must route through in NAT), or the zero Addr.
func RealServerGateway(dir, rs *Node) netip.Addr {
	net := SharedNetwork(rs, dir)
	if net == "" {
		return netip.Addr{}
	}
	return dir.NICOn(net).Address.Addr()
}

// RealServerAddress is the real server's address (RIP) on a network it shares
// with the director, or the zero Addr.
func RealServerAddress(dir, rs *Node) netip.Addr {
	net := SharedNetwork(rs, dir)
	if net == "" {
		return netip.Addr{}
	}
	return rs.NICOn(net).Address.Addr()
}
