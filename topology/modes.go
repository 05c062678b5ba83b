package topology

import (
	"net/netip"
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
	for j, r := range s.RealServers {
		rs := lab.Node(r.Node)
		if rs == nil || rs.Role != RoleWeb {
			continue // reported already
		}
		rpath := path + ".real_servers[" + strconv.Itoa(j) + "]"
		switch s.Mode {
		case ModeNAT:
			d.checkNATRealServer(dir, rs, rpath)
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
	}
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
	if nw := lab.Network(nic.Network); nw != nil && nw.Host == s.VIP {
		d.add(path+".vip", "%s is the host machine's address on %s", s.VIP, nw.Name)
	}
	switch s.Mode {
	case ModeNAT:
		for _, r := range s.RealServers {
			if rs := lab.Node(r.Node); rs != nil && rs.NICFor(s.VIP) != nil && rs.Role == RoleWeb {
				d.add(path+".vip", "%s is on the real servers' network %s: in NAT the VIP faces the clients and the real servers sit on the other side of the director", s.VIP, nic.Network)
				return
			}
		}
	case ModeDR, ModeTUN:
		if dir.HasAddress(s.VIP) {
			d.add(path+".vip", "%s is the director's own address (its DIP): in %s the VIP is a separate address, also put on every real server", s.VIP, strings.ToUpper(s.Mode))
		}
	}
}

func (d *document) checkNATRealServer(dir, rs *Node, rpath string) {
	dip := RealServerGateway(dir, rs)
	if !dip.IsValid() {
		d.add(rpath+".node", "director %s has no address on %s's network: in NAT the director must sit on the real servers' network to rewrite their replies", dir.Name, rs.Name)
		return
	}
	gwPath := "nodes." + rs.Name + ".gateway"
	switch {
	case !rs.Gateway.IsValid():
		d.add(gwPath, "missing: in NAT %s must route its replies through the director, gateway %s", rs.Name, dip)
	case rs.Gateway != dip:
		d.add(gwPath, "%s is not the director's address on this network (%s): in NAT replies must go back through the director to be rewritten", rs.Gateway, dip)
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
