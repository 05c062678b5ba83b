// Package keepalived renders each node's keepalived.conf from a lab, in the
// syntax of the course's keepalived exercises: global_defs with the
// router_id, one vrrp_instance per VRRP instance the node takes part in,
// and, on directors, one virtual_server per IPVS service with its real
// servers and their health checks. The output is a pure function of the
// lab: the same lab always renders the same bytes.
package keepalived

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/lvslab/lvslab/topology"
)

// Path is where keepalived reads its configuration.
const Path = "/etc/keepalived/keepalived.conf"

// Instance is one VRRP instance of a lab: the services that share one
// virtual_router_id on one segment, and so one set of routers and VIPs.
type Instance struct {
	// Name is the instance's name in keepalived.conf: VI_1, VI_2, ... in
	// the order of the lab's services.
	Name       string
	Keepalived *topology.Keepalived
	Network    string // the segment the routers advertise on
	// VIPs are the addresses the master holds, with the prefix keepalived
	// puts them on, in the order of the services.
	VIPs     []netip.Prefix
	Services []*topology.Service
}

// Instances lists the lab's VRRP instances. Services with the same
// virtual_router_id on the same segment are one instance (validation
// makes sure they agree on routers and settings).
func Instances(lab *topology.Lab) []*Instance {
	var out []*Instance
	for _, s := range lab.KeepalivedServices() {
		k := s.Keepalived
		network := segment(lab, s)
		var in *Instance
		for _, o := range out {
			if o.Keepalived.VRID == k.VRID && o.Network == network {
				in = o
			}
		}
		if in == nil {
			in = &Instance{Name: fmt.Sprintf("VI_%d", len(out)+1), Keepalived: k, Network: network}
			out = append(out, in)
		}
		in.Services = append(in.Services, s)
		if s.Keepalived.Sync && !in.Keepalived.Sync {
			in.Keepalived = s.Keepalived // the block that asks for sync speaks for the instance
		}
		if s.VIP.IsValid() && !containsAddr(in.VIPs, s.VIP) {
			in.VIPs = append(in.VIPs, netip.PrefixFrom(s.VIP, s.VIPPrefix))
		}
	}
	return out
}

// Nodes lists the nodes that run keepalived, in file order.
func Nodes(lab *topology.Lab) []string {
	var out []string
	for _, n := range lab.KeepalivedNodes() {
		out = append(out, n.Name)
	}
	return out
}

// Config renders node's keepalived.conf; false when the node runs no
// keepalived in this lab.
func Config(lab *topology.Lab, node string) (string, bool) {
	n := lab.Node(node)
	if n == nil {
		return "", false
	}
	var mine []*Instance
	for _, in := range Instances(lab) {
		if in.Keepalived.Router(node) != nil {
			mine = append(mine, in)
		}
	}
	if len(mine) == 0 {
		return "", false
	}
	w := &writer{}
	w.line(0, "! Configuration File for keepalived")
	w.line(0, "! lab %s, node %s: rendered by lvslab from the lab file; change the lab, not this file", lab.Name, node)
	w.line(0, "")
	w.line(0, "global_defs {")
	w.line(1, "router_id %s", node)
	for _, in := range mine {
		if in.Keepalived.Sync {
			if nic := n.NICOn(in.Network); nic != nil {
				w.line(1, "lvs_sync_daemon %s %s", nic.Name, in.Name)
			}
			break // keepalived runs one sync daemon; validation allows one
		}
	}
	w.line(0, "}")
	for _, in := range mine {
		w.line(0, "")
		vrrpInstance(w, lab, n, in)
	}
	for _, in := range mine {
		for _, s := range in.Services {
			if s.Mode != topology.ModeVRRP {
				w.line(0, "")
				virtualServer(w, lab, n, s)
			}
		}
	}
	return w.String(), true
}

func vrrpInstance(w *writer, lab *topology.Lab, n *topology.Node, in *Instance) {
	k, r := in.Keepalived, in.Keepalived.Router(n.Name)
	nic := n.NICOn(in.Network)
	w.line(0, "vrrp_instance %s {", in.Name)
	w.line(1, "state %s", r.State)
	if nic != nil {
		w.line(1, "interface %s", nic.Name)
	}
	w.line(1, "virtual_router_id %d", k.VRID)
	w.line(1, "priority %d", r.Priority)
	w.line(1, "advert_int %d", k.AdvertInt)
	if k.NoPreempt {
		w.line(1, "nopreempt")
	}
	if k.Unicast && nic != nil {
		w.line(1, "unicast_src_ip %s", nic.Address.Addr())
		w.line(1, "unicast_peer {")
		for _, peer := range k.Routers {
			if p := lab.Node(peer.Node); p != nil && p != n {
				if c := p.NICOn(in.Network); c != nil {
					w.line(2, "%s", c.Address.Addr())
				}
			}
		}
		w.line(1, "}")
	}
	if k.AuthPass != "" {
		w.line(1, "authentication {")
		w.line(2, "auth_type PASS")
		w.line(2, "auth_pass %s", k.AuthPass)
		w.line(1, "}")
	}
	w.line(1, "virtual_ipaddress {")
	for _, vip := range in.VIPs {
		if vip.Bits() == 32 {
			w.line(2, "%s", vip.Addr()) // keepalived's default prefix
		} else {
			w.line(2, "%s", vip)
		}
	}
	w.line(1, "}")
	w.line(0, "}")
}

// lbKind is keepalived's name of a forwarding mode.
var lbKind = map[string]string{topology.ModeNAT: "NAT", topology.ModeDR: "DR", topology.ModeTUN: "TUN"}

func virtualServer(w *writer, lab *topology.Lab, dir *topology.Node, s *topology.Service) {
	k := s.Keepalived
	if s.FWMark != 0 {
		w.line(0, "virtual_server fwmark %d {", s.FWMark)
	} else {
		w.line(0, "virtual_server %s %d {", s.VIP, s.Port)
	}
	w.line(1, "delay_loop %d", k.DelayLoop)
	w.line(1, "lb_algo %s", s.Scheduler)
	w.line(1, "lb_kind %s", lbKind[s.Mode])
	if s.FWMark == 0 { // keepalived ignores (and warns of) a protocol on a mark
		w.line(1, "protocol %s", strings.ToUpper(s.Protocol))
	}
	for _, r := range s.RealServers {
		rs := lab.Node(r.Node)
		if rs == nil {
			continue
		}
		w.line(0, "")
		rip := topology.RealServerAddress(dir, rs)
		if s.FWMark != 0 {
			w.line(1, "real_server %s {", rip)
		} else {
			w.line(1, "real_server %s %d {", rip, r.Port)
		}
		w.line(2, "weight %d", r.Weight)
		if r.Upper > 0 {
			w.line(2, "uthreshold %d", r.Upper)
		}
		if r.Lower > 0 {
			w.line(2, "lthreshold %d", r.Lower)
		}
		if c := k.Check; c != nil {
			healthCheck(w, c)
		}
		w.line(1, "}")
	}
	w.line(0, "}")
}

func healthCheck(w *writer, c *topology.HealthCheck) {
	w.line(2, "%s {", c.Type)
	if c.Type == topology.CheckHTTP {
		w.line(3, "url {")
		w.line(4, "path %s", c.Path)
		w.line(4, "status_code %d", c.StatusCode)
		w.line(3, "}")
	}
	if c.Port != 0 {
		w.line(3, "connect_port %d", c.Port)
	}
	w.line(3, "connect_timeout %d", c.ConnectTimeout)
	// The course's nb_get_retry: keepalived 2.2.7 (Debian 12) refuses
	// it in TCP_CHECK ("Unknown keyword") and warns of it in HTTP_GET.
	w.line(3, "retry %d", c.Retry)
	w.line(3, "delay_before_retry %d", c.DelayBeforeRetry)
	w.line(2, "}")
}

// segment is the network of the routers' NIC that holds the service's VIP.
func segment(lab *topology.Lab, s *topology.Service) string {
	for _, r := range s.Keepalived.Routers {
		if n := lab.Node(r.Node); n != nil {
			if nic := n.NICFor(s.VIP); nic != nil {
				return nic.Network
			}
		}
	}
	return ""
}

func containsAddr(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// writer builds the file with keepalived.conf's customary 4-space indent.
type writer struct{ b strings.Builder }

func (w *writer) line(depth int, format string, args ...any) {
	if format == "" {
		w.b.WriteString("\n")
		return
	}
	w.b.WriteString(strings.Repeat("    ", depth))
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteString("\n")
}

func (w *writer) String() string { return w.b.String() }
