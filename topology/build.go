package topology

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"unicode"

	"github.com/lvslab/lvslab/topology/ipvs"
)

// Defaults a lab file may leave out.
const (
	DefaultImage     = "debian-12"
	DefaultUser      = "root"
	DefaultMemoryMiB = 512
	DefaultVCPUs     = 1
	DefaultScheduler = "wlc" // ipvsadm's own default
	DefaultProtocol  = "tcp"
)

// kernelDevices are the fallback devices the kernel's tunnel modules create
// by themselves (ipip makes tunl0, the device a TUN real server puts the VIP
// on): a NIC of that name would collide with them.
var kernelDevices = []string{"tunl0", "gre0", "gretap0", "erspan0", "sit0", "ip6tnl0", "ip6gre0"}

// reservedRanges are IPv4 ranges that cannot be a lab network.
var reservedRanges = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "the \"this network\" range 0.0.0.0/8"},
	{netip.MustParsePrefix("127.0.0.0/8"), "the loopback range 127.0.0.0/8"},
	{netip.MustParsePrefix("169.254.0.0/16"), "the link-local range 169.254.0.0/16"},
	{netip.MustParsePrefix("224.0.0.0/4"), "the multicast range 224.0.0.0/4"},
	{netip.MustParsePrefix("240.0.0.0/4"), "the reserved range 240.0.0.0/4"},
}

// build turns the raw decoded file into a Lab, recording every problem.
func (d *document) build(raw *rawLab) *Lab {
	lab := &Lab{
		Name:        raw.Name,
		Description: raw.Description,
		Image:       raw.Image,
		Login:       Login{User: raw.Login.User, Password: raw.Login.Password},
		at:          d.at,
	}
	switch {
	case raw.Name == "":
		d.add("name", "the lab needs a name (lower-case letters, digits and '-', at most 20): it prefixes every VM and network")
	case !labNameRe.MatchString(raw.Name):
		d.add("name", "%q is not a usable lab name: use lower-case letters, digits and '-', starting with a letter, at most 20 characters", raw.Name)
	}
	if lab.Image == "" {
		lab.Image = DefaultImage
	}
	d.checkText("description", lab.Description, true)
	d.checkText("login.password", lab.Login.Password, false)
	if err := CheckImage(lab.Image); err != nil {
		d.add("image", "%s", err)
	}
	if lab.Login.User == "" {
		lab.Login.User = DefaultUser
	} else if !loginRe.MatchString(lab.Login.User) {
		d.add("login.user", "%q is not a POSIX login name: use lower-case letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters", lab.Login.User)
	}
	d.checkWebServer("web_server", raw.WebServer)
	d.buildNetworks(raw, lab)
	d.buildNodes(raw, lab)
	d.buildServices(raw, lab)
	d.checkUnique(lab)
	d.checkBridges(lab)
	d.checkPages(lab)
	d.checkRoles(lab)
	for _, s := range lab.Services {
		d.checkMode(lab, s, s.path)
	}
	d.checkKeepalived(lab)
	return lab
}

// section is what a lab file's map of named entries (networks, nodes)
// says when it is empty, when an entry is, and when a name is unusable.
type section struct {
	key, none, empty, badName string
}

var (
	networksSection = section{"networks", "the lab needs at least one network",
		"network %s has no fields: it needs at least cidr",
		"%q is not a usable network name: use lower-case letters, digits and '-', starting with a letter and not ending with '-'"}
	nodesSection = section{"nodes", "the lab needs nodes: at least one director and one web server",
		"node %s has no fields: it needs a role and nics",
		"%q is not a usable node name (it becomes the hostname): use lower-case letters, digits and '-', starting with a letter and not ending with '-', at most 31"}
)

// entries lists a section's entries in file order with their paths,
// leaving out (and reporting) empty ones; names must suit a hostname.
func entries[T any](d *document, sec section, raw map[string]*T) (names, paths []string, items []*T) {
	if len(raw) == 0 {
		d.add(sec.key, "%s", sec.none)
	}
	for _, name := range d.keyOrder[sec.key] {
		path := sec.key + "." + name
		if raw[name] == nil {
			d.add(path, sec.empty, name)
			continue
		}
		if !nodeNameRe.MatchString(name) {
			d.add(path, sec.badName, name)
		}
		names, paths, items = append(names, name), append(paths, path), append(items, raw[name])
	}
	return names, paths, items
}

func (d *document) buildNetworks(raw *rawLab, lab *Lab) {
	names, paths, items := entries(d, networksSection, raw.Networks)
	for i, rn := range items {
		name, path := names[i], paths[i]
		nw := &Network{Name: name, Bridge: rn.Bridge}
		cidr, err := netip.ParsePrefix(rn.CIDR)
		switch {
		case rn.CIDR == "":
			d.add(path+".cidr", "missing: the network's address range, like 192.168.4.0/24")
		case err != nil || !cidr.Addr().Is4():
			d.add(path+".cidr", "%q is not an IPv4 network like 192.168.4.0/24", rn.CIDR)
		case cidr.Bits() > 30:
			d.add(path+".cidr", "%s is too small for a lab network: use /30 or larger (/24 is usual)", rn.CIDR)
		case cidr.Masked() != cidr:
			d.add(path+".cidr", "%s has host bits set: the network is %s", rn.CIDR, cidr.Masked())
		case reservedRange(cidr) != "":
			d.add(path+".cidr", "%s is in %s, which no lab network can use: take a private range like 192.168.4.0/24 or 10.0.0.0/24", cidr, reservedRange(cidr))
		default:
			nw.CIDR = cidr
		}
		if rn.Host != "" {
			host, err := netip.ParseAddr(rn.Host)
			switch {
			case err != nil || !host.Is4():
				d.add(path+".host", "%q is not an IPv4 address", rn.Host)
			case nw.CIDR.IsValid() && !usableIn(host, nw.CIDR):
				d.add(path+".host", "%s is not a usable host address in %s", host, nw.CIDR)
			default:
				nw.Host = host
			}
		}
		switch {
		case rn.Bridge == "":
		case !bridgeRe.MatchString(rn.Bridge):
			d.add(path+".bridge", "%q is not a usable bridge name: at most 15 letters, digits, '-', '_' or '.', not starting with '-'", rn.Bridge)
		case rn.Bridge == "." || rn.Bridge == ".." || rn.Bridge == "lo":
			d.add(path+".bridge", "%q is not a usable bridge name: the kernel keeps it (\".\" and \"..\" are folder names, lo is the loopback)", rn.Bridge)
		}
		for _, other := range lab.Networks {
			if other.CIDR.IsValid() && nw.CIDR.IsValid() && other.CIDR.Overlaps(nw.CIDR) {
				d.add(path+".cidr", "%s overlaps network %s (%s): lab networks must be separate", nw.CIDR, other.Name, other.CIDR)
			}
		}
		lab.Networks = append(lab.Networks, nw)
	}
}

func (d *document) buildNodes(raw *rawLab, lab *Lab) {
	names, paths, items := entries(d, nodesSection, raw.Nodes)
	for i, rn := range items {
		name, path := names[i], paths[i]
		n := &Node{Name: name, Role: rn.Role, Memory: DefaultMemoryMiB, VCPUs: DefaultVCPUs}
		switch rn.Role {
		case RoleClient, RoleDirector, RoleWeb:
		case "":
			d.add(path+".role", "missing: one of client, director, web")
		default:
			d.addNear(path+".role", fmt.Sprintf("%q is not a role: use client, director or web", rn.Role), rn.Role, []string{RoleClient, RoleDirector, RoleWeb})
		}
		if rn.Memory != nil {
			if *rn.Memory < 128 || *rn.Memory > 16384 {
				d.add(path+".memory", "%d MiB is out of range: use 128 to 16384 (leave memory out for %d)", *rn.Memory, DefaultMemoryMiB)
			} else {
				n.Memory = *rn.Memory
			}
		}
		optional(d, path+".vcpus", rn.VCPUs, 1, 8, fmt.Sprintf("use 1 to 8 (leave vcpus out for %d)", DefaultVCPUs), &n.VCPUs)
		if len(rn.NICs) == 0 {
			d.add(path+".nics", "node %s needs at least one NIC", name)
		}
		for _, nicName := range d.keyOrder[path+".nics"] {
			if nic := d.buildNIC(lab, name, nicName, rn.NICs[nicName]); nic != nil {
				n.NICs = append(n.NICs, nic)
			}
		}
		if len(n.NICs) > 0 && !anyAddressGiven(rn) {
			d.add(path+".nics", "node %s has no NIC with an address: lvslab could not reach it", name)
		}
		if rn.Gateway != "" {
			gw, err := netip.ParseAddr(rn.Gateway)
			switch {
			case err != nil || !gw.Is4():
				d.add(path+".gateway", "%q is not an IPv4 address", rn.Gateway)
			case n.HasAddress(gw):
				d.add(path+".gateway", "%s is the node's own address: a gateway is another machine", gw)
			case n.NICFor(gw) == nil && len(n.Addresses()) > 0:
				d.add(path+".gateway", "%s is not on any network of %s (%s): a gateway must be directly reachable", gw, name, prefixList(n))
			case n.NICFor(gw) != nil && !usableIn(gw, n.NICFor(gw).Address.Masked()):
				d.add(path+".gateway", "%s is the network or broadcast address of %s, not a host that can route", gw, n.NICFor(gw).Address.Masked())
			default:
				n.Gateway = gw
			}
		}
		if rn.Page != nil {
			n.Page = *rn.Page
			d.checkText(path+".page", n.Page, true)
			if rn.Role != RoleWeb {
				d.add(path+".page", "only web nodes serve a page")
			}
		} else if rn.Role == RoleWeb {
			n.Page = name // a page that says who served it
		}
		d.webServer(raw, rn, n, path)
		lab.Nodes = append(lab.Nodes, n)
	}
}

// webServer resolves a web node's server: its own web_server, else the
// lab's, else apache.
func (d *document) webServer(raw *rawLab, rn *rawNode, n *Node, path string) {
	if rn.WebServer != "" && rn.Role != RoleWeb {
		d.add(path+".web_server", "only web nodes run a web server")
	}
	if n.Role != RoleWeb {
		return
	}
	n.WebServer = WebApache
	for _, v := range []string{raw.WebServer, rn.WebServer} {
		if v == WebApache || v == WebNginx {
			n.WebServer = v
		}
	}
	d.checkWebServer(path+".web_server", rn.WebServer)
}

func (d *document) checkWebServer(field, v string) {
	if v != "" && v != WebApache && v != WebNginx {
		d.add(field, "%q is no web server lvslab sets up: use %s (apache2 or httpd) or %s", v, WebApache, WebNginx)
	}
}

func (d *document) buildNIC(lab *Lab, node, name string, rn *rawNIC) *NIC {
	path := "nodes." + node + ".nics." + name
	if !nicNameRe.MatchString(name) {
		d.add(path, "%q is not a usable interface name: like eth0 or ens3 (letters then a number, at most 14)", name)
	} else if slices.Contains(kernelDevices, name) {
		d.add(path, "%s is the name of a device the kernel makes itself (tunl0 holds the VIP of a TUN real server): name the NIC eth0, eth1, ...", name)
	}
	if rn == nil {
		d.add(path, "NIC %s needs a network", name)
		return nil
	}
	nic := &NIC{Name: name, Network: rn.Network}
	nw := lab.Network(rn.Network)
	if rn.Network == "" {
		d.add(path+".network", "missing: the network this NIC is plugged into")
	} else if nw == nil {
		d.addNear(path+".network", fmt.Sprintf("no network named %q", rn.Network), rn.Network, networkNames(lab))
	}
	if rn.Address != "" {
		addr, err := netip.ParsePrefix(rn.Address)
		switch {
		case err != nil || !addr.Addr().Is4():
			if a, aerr := netip.ParseAddr(rn.Address); aerr == nil && nw != nil && nw.CIDR.IsValid() {
				d.add(path+".address", "%q lacks its prefix length: write %s/%d", rn.Address, a, nw.CIDR.Bits())
			} else {
				d.add(path+".address", "%q is not an IPv4 address with prefix length, like 192.168.4.10/24", rn.Address)
			}
		case nw == nil || !nw.CIDR.IsValid():
			nic.Address = addr // the network's own problem is reported already
		case !nw.CIDR.Contains(addr.Addr()):
			d.add(path+".address", "%s is outside %s (%s)", addr.Addr(), nw.Name, nw.CIDR)
		case addr.Bits() != nw.CIDR.Bits():
			d.add(path+".address", "prefix /%d differs from network %s (%s): write %s/%d", addr.Bits(), nw.Name, nw.CIDR, addr.Addr(), nw.CIDR.Bits())
		case !usableIn(addr.Addr(), nw.CIDR):
			d.add(path+".address", "%s is the network or broadcast address of %s, not a host address", addr.Addr(), nw.CIDR)
		case addr.Addr() == nw.Host:
			d.add(path+".address", "%s is the host machine's own address on %s: pick another", addr.Addr(), nw.Name)
		default:
			nic.Address = addr
		}
	}
	if rn.MAC != "" {
		hw, err := net.ParseMAC(rn.MAC)
		switch {
		case err != nil || len(hw) != 6:
			d.add(path+".mac", "%q is not a MAC address like 52:54:00:12:34:56", rn.MAC)
		case hw[0]&1 == 1:
			d.add(path+".mac", "%s is a multicast address: a NIC needs a unicast MAC (even first byte)", rn.MAC)
		case slices.Equal(hw, make(net.HardwareAddr, 6)):
			d.add(path+".mac", "%s is the all-zero MAC, which no NIC may have: leave mac out for a derived one, or use 52:54:00:xx:xx:xx", rn.MAC)
		default:
			nic.MAC = hw.String()
		}
	} else {
		nic.MAC = DeriveMAC(lab.Name, node, name)
	}
	return nic
}

// DeriveMAC gives a NIC a stable MAC in QEMU's 52:54:00 range, so a rebuilt
// lab keeps its MACs (and the ARP checks of the exercises stay readable).
func DeriveMAC(lab, node, nic string) string {
	sum := sha256.Sum256([]byte(lab + "/" + node + "/" + nic))
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", sum[0], sum[1], sum[2])
}

func (d *document) buildServices(raw *rawLab, lab *Lab) {
	for i, rs := range raw.Services {
		path := fmt.Sprintf("services[%d]", i)
		if rs == nil {
			d.add(path, "empty service")
			continue
		}
		s := &Service{path: path, Name: rs.Name, Protocol: strings.ToLower(rs.Protocol), Mode: strings.ToLower(rs.Mode), Scheduler: strings.ToLower(rs.Scheduler)}
		if rs.Name != "" && !serviceNameRe.MatchString(rs.Name) {
			d.add(path+".name", "%q is not a usable service name: letters, digits, '.', '_' and '-', at most 32 (reports show it; verify --service takes it)", rs.Name)
		}
		d.serviceAddress(rs, s, path)
		d.serviceScheduling(rs, s, path)
		s.VIPPrefix = 32
		if rs.VIPPrefix != nil {
			if *rs.VIPPrefix < 1 || *rs.VIPPrefix > 32 {
				d.add(path+".vip_prefix", "/%d is not a prefix length: use 1 to 32", *rs.VIPPrefix)
			} else {
				s.VIPPrefix = *rs.VIPPrefix
			}
		}
		if rs.RealServerVIPPx != nil && *rs.RealServerVIPPx != 32 {
			d.add(path+".real_server_vip_prefix", "/%d refused: the VIP on a real server's lo must be /32; a wider prefix on lo routes the whole subnet into the loopback and cuts the host off its network", *rs.RealServerVIPPx)
		}
		if len(rs.RealServers) == 0 && s.Mode != ModeVRRP {
			d.add(path+".real_servers", "a service needs at least one real server")
		}
		for j, rr := range rs.RealServers {
			if r := d.buildRealServer(lab, s, rr, fmt.Sprintf("%s.real_servers[%d]", path, j)); r != nil {
				s.RealServers = append(s.RealServers, r)
			}
		}
		s.Keepalived = d.buildKeepalived(lab, s, rs.Keepalived, path+".keepalived")
		if s.Mode == ModeVRRP {
			lab.VRRPServices = append(lab.VRRPServices, s)
			continue
		}
		lab.Services = append(lab.Services, s)
	}
}

// serviceAddress reads what identifies a service: protocol, VIP and port,
// or a firewall mark.
func (d *document) serviceAddress(rs *rawService, s *Service, path string) {
	if s.Protocol == "" {
		s.Protocol = DefaultProtocol
	}
	if s.Protocol != "tcp" && s.Protocol != "udp" {
		d.add(path+".protocol", "%q is not a protocol: use tcp or udp", rs.Protocol)
	}
	switch {
	case rs.FWMark < 0 || rs.FWMark > 0xffffffff:
		d.add(path+".fwmark", "%d is out of range: a firewall mark is 1 to 4294967295", rs.FWMark)
	default:
		s.FWMark = uint32(rs.FWMark)
	}
	if rs.VIP != "" {
		vip, err := netip.ParseAddr(rs.VIP)
		if err != nil || !vip.Is4() {
			d.add(path+".vip", "%q is not an IPv4 address (the VIP has no prefix length here; see vip_prefix)", rs.VIP)
		} else {
			s.VIP = vip
		}
	} else if s.FWMark != 0 {
		d.add(path+".vip", "missing: the VIP whose ports the firewall mark gathers (the director marks packets to it)")
	} else {
		d.add(path+".vip", "missing: the virtual IP the clients connect to")
	}
	if rs.FWMark != 0 {
		d.markedPorts(rs, s, path)
		return
	}
	if rs.Ports != nil {
		d.add(path+".ports", "ports are what a firewall-mark service marks (with fwmark: N): a VIP:port service has one port")
	}
	if port, ok := required(d, path+".port", rs.Port, 1, 65535, "missing: the service port, like 80", "use 1 to 65535"); ok {
		s.Port = uint16(port)
	}
}

// markedPorts reads the ports a firewall-mark service gathers into one.
func (d *document) markedPorts(rs *rawService, s *Service, path string) {
	if rs.Port != nil {
		d.add(path+".port", "a firewall-mark service marks several ports: list them as ports: [80, 443] (port is for a VIP:port service)")
	}
	if len(rs.Ports) == 0 {
		d.add(path+".ports", "missing: the ports the mark gathers into one service, like ports: [80, 443]")
	}
	for i, p := range rs.Ports {
		switch {
		case p < 1 || p > 65535:
			d.add(fmt.Sprintf("%s.ports[%d]", path, i), "%d is out of range: use 1 to 65535", p)
		case slices.Contains(s.Ports, uint16(p)):
			d.add(fmt.Sprintf("%s.ports[%d]", path, i), "port %d is listed twice", p)
		default:
			s.Ports = append(s.Ports, uint16(p))
		}
	}
}

// serviceScheduling reads how a service forwards and schedules.
func (d *document) serviceScheduling(rs *rawService, s *Service, path string) {
	switch s.Mode {
	case ModeNAT, ModeDR, ModeTUN, ModeVRRP:
	case "":
		d.add(path+".mode", "missing: nat, dr or tun")
	default:
		d.add(path+".mode", "%q is not a mode: use nat, dr or tun (or vrrp: a VIP that keepalived moves between web nodes, no IPVS)", rs.Mode)
	}
	if s.Scheduler == "" {
		s.Scheduler = DefaultScheduler
	} else if !slices.Contains(ipvs.Schedulers, s.Scheduler) {
		d.addNear(path+".scheduler", fmt.Sprintf("%q is not a kernel IPVS scheduler: use one of %s", rs.Scheduler, strings.Join(ipvs.Schedulers, " ")), s.Scheduler, ipvs.Schedulers)
	}
	if rs.Persistence < 0 || rs.Persistence > 31536000 {
		d.add(path+".persistence", "%d is out of range: seconds from 1 to 31536000, or 0 for none", rs.Persistence)
	} else {
		s.Persistence = int(rs.Persistence)
	}
}

// required reads a required number from lo to hi at path: a missing one
// (said as missing) or one out of range ("N is out of range: " and use) is
// a problem, and not ok.
func required[N int | int64](d *document, path string, v *N, lo, hi N, missing, use string) (N, bool) {
	switch {
	case v == nil:
		d.add(path, "%s", missing)
	case *v < lo || *v > hi:
		d.add(path, "%d is out of range: %s", *v, use)
	default:
		return *v, true
	}
	return 0, false
}

// optional reads a number from lo to hi at path that may be left out: a
// given one in range goes to dst, one out of range ("N is out of range: "
// and use) is a problem and leaves dst at its default.
func optional[N int | int64, T int | uint16](d *document, path string, v *N, lo, hi N, use string, dst *T) {
	if v == nil {
		return
	}
	if *v < lo || *v > hi {
		d.add(path, "%d is out of range: %s", *v, use)
		return
	}
	*dst = T(*v)
}

// nodeOf is the node a reference at path names, when it is one of role;
// else nil, and the problem said there: missing (the sentence of an empty
// reference), no node of that name (with the nearest name the lab has), or
// a node of another role (the sentence ends with why not).
func (d *document) nodeOf(lab *Lab, path, name, role, missing, why string) *Node {
	n := lab.Node(name)
	switch {
	case name == "":
		d.add(path, "%s", missing)
	case n == nil:
		d.addNear(path, fmt.Sprintf("no node named %q", name), name, nodeNames(lab))
	case n.Role != role:
		d.add(path, "%s is a %s: %s", name, n.Role, why)
	default:
		return n
	}
	return nil
}

// addNear says msg at path, and the name among names nearest to got (a
// misspelling), if one is near.
func (d *document) addNear(path, msg, got string, names []string) {
	if sg := Suggest(got, names); sg != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", sg)
	}
	d.add(path, "%s", msg)
}

func (d *document) buildRealServer(lab *Lab, s *Service, rr *rawRealServer, path string) *RealServer {
	if rr == nil {
		d.add(path, "empty real server: it needs a node")
		return nil
	}
	r := &RealServer{Node: rr.Node, Weight: 1, Port: s.Port}
	d.nodeOf(lab, path+".node", rr.Node, RoleWeb, "missing: the web node that serves this service", "real servers are web nodes")
	optional(d, path+".weight", rr.Weight, 0, 65535, "use 0 to 65535 (0 takes the server out of rotation)", &r.Weight)
	if rr.Port != nil && s.FWMark != 0 {
		d.add(path+".port", "a firewall-mark service keeps each packet's port (80 stays 80, 443 stays 443): its real servers have no port of their own")
	} else {
		optional(d, path+".port", rr.Port, 1, 65535, "use 1 to 65535", &r.Port)
	}
	if rr.Upper < 0 || rr.Upper > 65535 {
		d.add(path+".upper", "%d is out of range: a connection threshold is 0 (none) to 65535", rr.Upper)
	} else {
		r.Upper = int(rr.Upper)
	}
	if rr.Lower < 0 || rr.Lower > 65535 {
		d.add(path+".lower", "%d is out of range: a connection threshold is 0 (none) to 65535", rr.Lower)
	} else {
		r.Lower = int(rr.Lower)
	}
	if r.Upper > 0 && r.Lower >= r.Upper {
		d.add(path+".lower", "lower threshold %d must be below the upper threshold %d: the server comes back when its connections fall under lower", r.Lower, r.Upper)
	}
	if r.Lower > 0 && r.Upper == 0 {
		d.add(path+".lower", "a lower threshold needs an upper one: the server only leaves rotation at upper")
	}
	return r
}

// checkUnique refuses two NICs with the same address or MAC, and two
// services with the same identity.
func (d *document) checkUnique(lab *Lab) {
	addrs := map[netip.Addr]string{}
	macs := map[string]string{}
	for _, n := range lab.Nodes {
		for _, c := range n.NICs {
			path := "nodes." + n.Name + ".nics." + c.Name
			if c.Address.IsValid() {
				if other, ok := addrs[c.Address.Addr()]; ok {
					d.add(path+".address", "%s is already used by %s", c.Address.Addr(), other)
				} else {
					addrs[c.Address.Addr()] = n.Name + " " + c.Name
				}
			}
			if other, ok := macs[c.MAC]; ok && c.MAC != "" {
				d.add(path+".mac", "%s is already used by %s", c.MAC, other)
			} else {
				macs[c.MAC] = n.Name + " " + c.Name
			}
		}
	}
	keys := map[string]int{}
	// Each VIP:port a client reaches belongs to one service: a marked port
	// that is also a VIP:port service (or marked twice) would be ambiguous.
	reach := map[string]int{}
	for i, s := range lab.Services {
		if j, ok := keys[s.Key()]; ok {
			d.add(s.path, "the same virtual service (%s) as %s", s.Key(), lab.Services[j].path)
		}
		keys[s.Key()] = i
		for _, p := range s.ClientPorts() {
			k := s.Protocol + " " + netip.AddrPortFrom(s.VIP, p).String()
			if j, ok := reach[k]; ok && s.VIP.IsValid() && p != 0 && j != i && (s.FWMark != 0 || lab.Services[j].FWMark != 0) {
				d.add(s.path, "%s %s is also reached through %s: one VIP:port is one service, marked or not", s.Protocol, netip.AddrPortFrom(s.VIP, p), lab.Services[j].path)
			}
			reach[k] = i
		}
		seen := map[string]bool{}
		for j, r := range s.RealServers {
			if seen[r.Node] {
				d.add(fmt.Sprintf("%s.real_servers[%d].node", s.path, j), "%s is listed twice in this service", r.Node)
			}
			seen[r.Node] = true
		}
	}
}

func (d *document) checkRoles(lab *Lab) {
	directors := lab.NodesWithRole(RoleDirector)
	if len(lab.Nodes) == 0 {
		return
	}
	if len(directors) == 0 {
		d.add("nodes", "no node has role director: an LVS lab needs one to run IPVS")
	}
	if len(directors) > 1 && !hasKeepalived(lab) {
		d.add("nodes."+directors[1].Name+".role", "a second director: lvslab labs have one director (%s), or several that share the VIP by keepalived (list them under the service's keepalived: routers)", directors[0].Name)
	}
	if len(lab.NodesWithRole(RoleWeb)) == 0 {
		d.add("nodes", "no node has role web: an LVS lab needs real servers")
	}
}

// checkText refuses control characters in free text (but tab and, where
// lines make sense, line breaks): they would reach terminals, handouts and
// guest files as they are.
func (d *document) checkText(path, s string, lines bool) {
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && !(lines && (r == '\n' || r == '\r')) {
			d.add(path, "holds the control character %U: write plain text", r)
			return
		}
	}
}

// checkBridges refuses two networks on one host bridge: the one the file
// names, or the one lvslab derives for a network that names none.
func (d *document) checkBridges(lab *Lab) {
	owner := map[string]string{}
	for _, nw := range lab.Networks {
		if nw.Bridge == "" {
			owner[lab.Bridge(nw)] = nw.Name
		}
	}
	for _, nw := range lab.Networks {
		if nw.Bridge == "" {
			continue
		}
		other, taken := owner[nw.Bridge]
		switch {
		case taken && lab.Network(other).Bridge == "":
			d.add("networks."+nw.Name+".bridge", "%s is the bridge lvslab derives for network %s: pick another name, or leave bridge out", nw.Bridge, other)
		case taken:
			d.add("networks."+nw.Name+".bridge", "%s is already the bridge of network %s: each network needs a bridge of its own", nw.Bridge, other)
		default:
			owner[nw.Bridge] = nw.Name
		}
	}
}

// checkPages refuses web nodes that serve the same (or an empty) page:
// verify tells the real servers apart by the page that answers.
func (d *document) checkPages(lab *Lab) {
	seen := map[string]string{}
	for _, n := range lab.NodesWithRole(RoleWeb) {
		p := strings.TrimSpace(n.Page)
		switch other, dup := seen[p]; {
		case p == "":
			d.add("nodes."+n.Name+".page", "an empty page: the client could not tell %s's replies from the others'; leave page out for the node's name", n.Name)
		case dup:
			d.add("nodes."+n.Name+".page", "the same page as %s: the client could not tell which one answered; give each web node a page of its own", other)
		default:
			seen[p] = n.Name
		}
	}
}

func reservedRange(p netip.Prefix) string {
	for _, r := range reservedRanges {
		if r.prefix.Overlaps(p) {
			return r.what
		}
	}
	return ""
}

func usableIn(a netip.Addr, p netip.Prefix) bool {
	if !p.Contains(a) {
		return false
	}
	return a != p.Masked().Addr() && a != broadcast(p)
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func networkNames(lab *Lab) []string {
	var out []string
	for _, n := range lab.Networks {
		out = append(out, n.Name)
	}
	return out
}

func nodeNames(lab *Lab) []string {
	var out []string
	for _, n := range lab.Nodes {
		out = append(out, n.Name)
	}
	return out
}

func prefixList(n *Node) string {
	var out []string
	for _, c := range n.NICs {
		if c.Address.IsValid() {
			out = append(out, c.Address.Masked().String())
		}
	}
	return strings.Join(out, ", ")
}

// anyAddressGiven is true when the file gives the node an address, valid or
// not, so a bad address is not also reported as a missing one.
func anyAddressGiven(rn *rawNode) bool {
	for _, c := range rn.NICs {
		if c != nil && c.Address != "" {
			return true
		}
	}
	return false
}
