// Package roles turns a validated lab into each node's desired state: plain
// data, computed once per node. Its subpackages do the rest: catalog lists
// the steps that make a Debian or RHEL guest match it, engine applies them
// through an executor, render prints them as a plan, ipvs models the
// kernel's IPVS table.
package roles

import (
	"net/netip"
	"slices"
	"strconv"

	"github.com/lvslab/lvslab/roles/keepalived"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// Logical package and service names; Steps maps them to each OS family.
const (
	PkgIPVSAdm    = "ipvsadm"
	PkgWebServer  = "web-server" // apache2 on Debian, httpd on RHEL, or nginx
	PkgCurl       = "curl"
	PkgSocat      = "socat" // the UDP responder of UDP services
	PkgKeepalived = "keepalived"

	SvcWebServer  = "web-server" // apache2 / httpd
	SvcIPVS       = "ipvs"       // loads the saved IPVS rules at boot
	SvcKeepalived = "keepalived" // VRRP and, on a director, the IPVS table
)

// NodeState is what one node must look like once configured.
type NodeState struct {
	Name     string     `json:"name"`
	Role     string     `json:"role"`
	Hostname string     `json:"hostname"`
	NICs     []NICState `json:"nics"`
	Gateway  netip.Addr `json:"gateway,omitzero"`
	Disabled []string   `json:"disabled,omitempty"` // NICs kept down
	Sysctls  []Sysctl   `json:"sysctls,omitempty"`
	// Resets are settings another lab's role would have changed on this
	// node, back at the kernel's default: a VM re-used from a DR lab must
	// not keep ignoring ARP.
	Resets   []Sysctl       `json:"resets,omitempty"`
	Aliases  []Alias        `json:"aliases,omitempty"`
	Modules  []string       `json:"modules,omitempty"` // kernel modules loaded at boot (ipip for TUN)
	Web      *WebState      `json:"web,omitempty"`
	Packages []string       `json:"packages,omitempty"` // logical names (Pkg*)
	Services []string       `json:"services,omitempty"` // logical names (Svc*), enabled and running
	IPVS     []ipvs.Service `json:"ipvs,omitempty"`
	// Marks are the director's firewall marks of fwmark services.
	Marks []Mark `json:"marks,omitempty"`
	// Keepalived is the node's keepalived.conf (roles/keepalived.Config),
	// "" when the node runs no keepalived in this lab (then keepalived is
	// stopped, disabled and its file removed).
	Keepalived string `json:"keepalived,omitempty"`
	// Floating are the VIPs keepalived adds on this node while it is the
	// VRRP master: no step counts them as stray addresses, none strips them.
	Floating []netip.Prefix `json:"floating,omitempty"`
	Lab      string         `json:"lab"`
}

// KeepalivedIPVS tells whether the node's IPVS table is keepalived's: a
// director under keepalived, where lvslab neither loads nor restores nor
// clears rules while keepalived runs.
func (st *NodeState) KeepalivedIPVS() bool {
	return st.Role == topology.RoleDirector && st.Keepalived != ""
}

// Mark is one firewall-mark rule: packets of Protocol to VIP on one of
// Ports get the mark FWMark before IPVS sees them (netfilter's prerouting,
// mangle priority), so that IPVS schedules them as the one service -f FWMark.
type Mark struct {
	FWMark   uint32     `json:"fwmark"`
	VIP      netip.Addr `json:"vip"`
	Protocol string     `json:"protocol"`
	Ports    []uint16   `json:"ports"`
}

// NICState is one NIC: an address, or Down.
type NICState struct {
	Name    string       `json:"name"`
	MAC     string       `json:"mac"`
	Network string       `json:"network"`
	Address netip.Prefix `json:"address,omitzero"`
	Down    bool         `json:"down,omitempty"`
}

// Sysctl is one kernel setting.
type Sysctl struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Alias is an extra address: the VIP on the director's NIC (label eth0:0),
// on a DR real server's lo (lo:0) or a TUN real server's tunl0.
type Alias struct {
	Device  string       `json:"device"`
	Label   string       `json:"label,omitempty"`
	Address netip.Prefix `json:"address"`
}

// WebState is what a real server serves: its page and the ports it listens on.
type WebState struct {
	Page  string   `json:"page"`
	Ports []uint16 `json:"ports"`
	// Server is topology.WebApache or topology.WebNginx.
	Server string `json:"server"`
	// UDP are the responders of UDP services: each answers every datagram
	// on its port with the page.
	UDP []UDPResponder `json:"udp,omitempty"`
}

// UDPResponder answers datagrams on Port; bound to Bind when valid (DR and
// TUN: the VIP, so that replies leave from the VIP the client asked, not
// from the RIP, which the client would not take as the answer).
type UDPResponder struct {
	Port uint16     `json:"port"`
	Bind netip.Addr `json:"bind,omitzero"`
}

// Desired returns every node's desired state, in file order.
func Desired(lab *topology.Lab) []*NodeState {
	var out []*NodeState
	for _, n := range lab.Nodes {
		out = append(out, DesiredFor(lab, n))
	}
	return out
}

// DesiredFor returns one node's desired state.
func DesiredFor(lab *topology.Lab, node *topology.Node) *NodeState {
	st := &NodeState{
		Name:     node.Name,
		Role:     node.Role,
		Hostname: node.Name,
		Gateway:  node.Gateway,
		Lab:      lab.Name,
	}
	for _, c := range node.NICs {
		nic := NICState{Name: c.Name, MAC: c.MAC, Network: c.Network, Address: c.Address, Down: !c.Address.IsValid()}
		st.NICs = append(st.NICs, nic)
		if nic.Down {
			st.Disabled = append(st.Disabled, c.Name)
		}
	}
	switch node.Role {
	case topology.RoleClient:
		st.Packages = []string{PkgCurl}
	case topology.RoleDirector:
		directorState(lab, node, st)
	case topology.RoleWeb:
		webState(lab, node, st)
	}
	if conf, ok := keepalived.Config(lab, node.Name); ok {
		st.Keepalived = conf
		st.Packages = append(st.Packages, PkgKeepalived)
		st.Services = append(st.Services, SvcKeepalived)
		if st.Role == topology.RoleDirector {
			st.Services = slices.DeleteFunc(st.Services, func(s string) bool { return s == SvcIPVS })
		}
		for _, in := range keepalived.Instances(lab) {
			if in.Keepalived.Router(node.Name) != nil {
				st.Floating = append(st.Floating, in.VIPs...)
			}
		}
	}
	st.addResets()
	return st
}

// resetDefaults are the kernel's defaults of the per-device settings a
// role may set.
var resetDefaults = map[string]string{"arp_ignore": "0", "arp_announce": "0", "send_redirects": "1"}

// DistroRPFilter is where rp_filter goes back to when TUN no longer wants
// it off: the value the distribution gives new interfaces (Debian leaves
// the kernel's 0, Ubuntu and RHEL set 2), read on the node itself.
const DistroRPFilter = "$(sysctl -n net.ipv4.conf.default.rp_filter)"

// addResets: every setting of resetDefaults on all, lo and every NIC,
// rp_filter on all and every NIC, and ip_forward, that the node does not
// want, goes back to its default.
func (st *NodeState) addResets() {
	devs := []string{"all", "lo"}
	for _, c := range st.NICs {
		devs = append(devs, c.Name) // a NIC kept down keeps its settings too
	}
	keys := []Sysctl{{Key: "net.ipv4.ip_forward", Value: "0"}}
	for _, dev := range devs {
		for _, k := range []string{"arp_ignore", "arp_announce", "send_redirects"} {
			keys = append(keys, Sysctl{Key: "net.ipv4.conf." + dev + "." + k, Value: resetDefaults[k]})
		}
		if dev != "lo" { // TUN's devices; tunl0 itself goes with the ipip module
			keys = append(keys, Sysctl{Key: "net.ipv4.conf." + dev + ".rp_filter", Value: DistroRPFilter})
		}
	}
	for _, k := range keys {
		if !slices.ContainsFunc(st.Sysctls, func(s Sysctl) bool { return s.Key == k.Key }) {
			st.Resets = append(st.Resets, k)
		}
	}
}

func directorState(lab *topology.Lab, dir *topology.Node, st *NodeState) {
	st.Packages = []string{PkgIPVSAdm}
	st.Services = []string{SvcIPVS}
	st.IPVS = []ipvs.Service{} // a director with no service holds an empty table
	aliasCount := map[string]int{}
	seenVIP := map[netip.Addr]bool{}
	for _, s := range lab.Services {
		if s.Mode == topology.ModeNAT {
			st.addSysctl("net.ipv4.ip_forward", "1")
			st.addSysctl("net.ipv4.conf.all.send_redirects", "0")
			st.addSysctl("net.ipv4.conf.default.send_redirects", "0")
			for _, c := range dir.NICs {
				if c.Address.IsValid() {
					st.addSysctl("net.ipv4.conf."+c.Name+".send_redirects", "0")
				}
			}
		}
		// keepalived, not the lab's addresses, puts a keepalived VIP on the master.
		if s.Keepalived == nil && s.VIP.IsValid() && !dir.HasAddress(s.VIP) && !seenVIP[s.VIP] {
			if nic := dir.NICFor(s.VIP); nic != nil {
				seenVIP[s.VIP] = true
				label := nic.Name + ":" + strconv.Itoa(aliasCount[nic.Name])
				aliasCount[nic.Name]++
				st.Aliases = append(st.Aliases, Alias{Device: nic.Name, Label: label, Address: netip.PrefixFrom(s.VIP, s.VIPPrefix)})
			}
		}
		st.IPVS = append(st.IPVS, IPVSService(lab, s))
		if s.FWMark != 0 {
			st.Marks = append(st.Marks, Mark{FWMark: s.FWMark, VIP: s.VIP, Protocol: s.Protocol, Ports: s.Ports})
		}
	}
	// A director that only routes directly or tunnels forwards nothing
	// itself and may send redirects (reference 001's DR director settings).
	if !slices.ContainsFunc(lab.Services, func(s *topology.Service) bool { return s.Mode == topology.ModeNAT }) && len(lab.Services) > 0 {
		st.addSysctl("net.ipv4.ip_forward", "0")
		for _, dev := range append([]string{"all", "default"}, aliasDevices(st)...) {
			st.addSysctl("net.ipv4.conf."+dev+".send_redirects", "1")
		}
	}
}

func aliasDevices(st *NodeState) []string {
	var out []string
	for _, a := range st.Aliases {
		if !slices.Contains(out, a.Device) {
			out = append(out, a.Device)
		}
	}
	return out
}

// IPVSService is a lab service as the director's kernel must hold it: the
// one conversion of a lab's forwarding mode, weights and thresholds into
// the IPVS model.
func IPVSService(lab *topology.Lab, s *topology.Service) ipvs.Service {
	dir := lab.Director()
	svc := ipvs.Service{
		Protocol:  s.Protocol,
		Address:   s.VIP,
		Port:      s.Port,
		FWMark:    s.FWMark,
		SchedName: s.Scheduler,
	}
	if s.FWMark != 0 {
		svc.Protocol = ""
		svc.Address = netip.Addr{}
	}
	if s.Persistence > 0 {
		svc.Flags |= ipvs.FlagPersistent
		svc.Timeout = uint32(s.Persistence)
	}
	flags, tunnel := uint32(ipvs.ConnectionFlagDirectRoute), ""
	switch s.Mode {
	case topology.ModeNAT:
		flags = ipvs.ConnectionFlagMasq
	case topology.ModeTUN:
		flags, tunnel = ipvs.ConnectionFlagTunnel, ipvs.TunnelIPIP
	}
	for _, r := range s.RealServers {
		rs := lab.Node(r.Node)
		if rs == nil {
			continue
		}
		svc.Destinations = append(svc.Destinations, ipvs.Destination{
			Address:         topology.RealServerAddress(dir, rs),
			Port:            r.Port,
			ConnectionFlags: flags,
			Weight:          r.Weight,
			UpperThreshold:  uint32(r.Upper),
			LowerThreshold:  uint32(r.Lower),
			TunnelType:      tunnel,
		})
	}
	return svc
}

func webState(lab *topology.Lab, node *topology.Node, st *NodeState) {
	st.Packages = []string{PkgWebServer}
	st.Services = []string{SvcWebServer}
	st.Web = &WebState{Page: node.Page, Server: node.WebServer}
	for _, s := range lab.VRRPServices { // the routers serve a VRRP-only VIP themselves
		if s.Keepalived != nil && s.Keepalived.Router(node.Name) != nil {
			st.addPort(s.Port)
		}
	}
	dir := lab.Director()
	seenVIP := map[string]bool{}
	for _, s := range lab.Services {
		for _, r := range s.RealServers {
			if r.Node != node.Name {
				continue
			}
			ports := []uint16{r.Port}
			if s.FWMark != 0 {
				ports = s.Ports // each packet keeps its port
			}
			for _, p := range ports {
				if s.Protocol == "udp" {
					st.addUDP(s, p)
				} else {
					st.addPort(p)
				}
			}
			var nic string
			if dir != nil {
				if c := node.NICOn(topology.SharedNetwork(node, dir)); c != nil {
					nic = c.Name
				}
			}
			switch s.Mode {
			case topology.ModeDR:
				for _, dev := range []string{"all", "lo", nic} {
					if dev != "" {
						st.addSysctl("net.ipv4.conf."+dev+".arp_ignore", "1")
						st.addSysctl("net.ipv4.conf."+dev+".arp_announce", "2")
					}
				}
				if s.VIP.IsValid() && !seenVIP["lo/"+s.VIP.String()] {
					seenVIP["lo/"+s.VIP.String()] = true
					st.Aliases = append(st.Aliases, Alias{Device: "lo", Label: "lo:" + strconv.Itoa(countDevice(st.Aliases, "lo")), Address: netip.PrefixFrom(s.VIP, 32)})
				}
			case topology.ModeTUN:
				st.addModule("ipip")
				for _, dev := range []string{"all", "tunl0", nic} {
					if dev != "" {
						st.addSysctl("net.ipv4.conf."+dev+".rp_filter", "0")
					}
				}
				for _, dev := range []string{"all", nic} {
					if dev != "" {
						st.addSysctl("net.ipv4.conf."+dev+".arp_ignore", "1")
						st.addSysctl("net.ipv4.conf."+dev+".arp_announce", "2")
					}
				}
				if s.VIP.IsValid() && !seenVIP["tunl0/"+s.VIP.String()] {
					seenVIP["tunl0/"+s.VIP.String()] = true
					st.Aliases = append(st.Aliases, Alias{Device: "tunl0", Address: netip.PrefixFrom(s.VIP, 32)})
				}
			}
		}
	}
}

func countDevice(aliases []Alias, dev string) int {
	n := 0
	for _, a := range aliases {
		if a.Device == dev {
			n++
		}
	}
	return n
}

// addSysctl appends a setting once; a later different value wins in place.
func (st *NodeState) addSysctl(key, value string) {
	for i := range st.Sysctls {
		if st.Sysctls[i].Key == key {
			st.Sysctls[i].Value = value
			return
		}
	}
	st.Sysctls = append(st.Sysctls, Sysctl{Key: key, Value: value})
}

func (st *NodeState) addPort(p uint16) {
	if !slices.Contains(st.Web.Ports, p) {
		st.Web.Ports = append(st.Web.Ports, p)
	}
}

func (st *NodeState) addUDP(s *topology.Service, port uint16) {
	if slices.ContainsFunc(st.Web.UDP, func(u UDPResponder) bool { return u.Port == port }) {
		return // one responder a port (validation keeps VIPs of one port apart)
	}
	u := UDPResponder{Port: port}
	if s.Mode != topology.ModeNAT {
		u.Bind = s.VIP
	}
	st.Web.UDP = append(st.Web.UDP, u)
	if !slices.Contains(st.Packages, PkgSocat) {
		st.Packages = append(st.Packages, PkgSocat)
	}
}

func (st *NodeState) addModule(m string) {
	if !slices.Contains(st.Modules, m) {
		st.Modules = append(st.Modules, m)
	}
}

// NIC returns the state of the NIC with that name, or nil.
func (st *NodeState) NIC(name string) *NICState {
	for i := range st.NICs {
		if st.NICs[i].Name == name {
			return &st.NICs[i]
		}
	}
	return nil
}

// PrimaryAddress is the node's first configured address: where lvslab
// reaches it when nothing else is known.
func (st *NodeState) PrimaryAddress() netip.Addr {
	for _, c := range st.NICs {
		if !c.Down {
			return c.Address.Addr()
		}
	}
	return netip.Addr{}
}

// PrimaryHost is PrimaryAddress as text, "" when the node has none.
func (st *NodeState) PrimaryHost() string {
	if a := st.PrimaryAddress(); a.IsValid() {
		return a.String()
	}
	return ""
}

// GatewayNIC is the NIC whose subnet holds the gateway, or "".
func (st *NodeState) GatewayNIC() string {
	if !st.Gateway.IsValid() {
		return ""
	}
	for _, c := range st.NICs {
		if !c.Down && c.Address.Masked().Contains(st.Gateway) {
			return c.Name
		}
	}
	return ""
}
