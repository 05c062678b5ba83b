// Package topology is the lab model: a lab file decoded strictly, defaults
// applied and every rule checked, with errors that point at file:line:col.
// Everything here is plain data; nothing talks to libvirt or SSH.
package topology

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/topology/ipvs"
)

// Roles a node can play.
const (
	RoleClient   = "client"
	RoleDirector = "director"
	RoleWeb      = "web"

	WebApache = "apache" // apache2 on Debian, httpd on RHEL
	WebNginx  = "nginx"  // reference 003's real servers
)

// Forwarding modes of an IPVS service (ipvsadm -m, -g, -i).
const (
	ModeNAT = "nat"
	ModeDR  = "dr"
	ModeTUN = "tun"
)

// Lab is a validated lab.
type Lab struct {
	Name        string
	Description string
	// Image is a built image name (see "lvslab image ls") or a path to a qcow2.
	Image    string
	Login    Login
	Networks []*Network
	Nodes    []*Node
	Services []*Service
	// VRRPServices are services with no IPVS (mode vrrp): keepalived moves
	// the VIP between their routers, which serve it themselves.
	VRRPServices []*Service
	// File is where the lab came from (a path, or EmbeddedFile(NAME)).
	File string
	// at is where each field sits in File, for Problem.
	at map[string]pos
}

// Problem is a problem with the lab file that only a later stage sees (up,
// which knows what the image needs), placed like validation's: at the
// field's file:line:col, or its closest parent's when the field is absent.
func (l *Lab) Problem(path, format string, args ...any) Problems {
	return Problems{problemAt(l.File, l.at, path, format, args...)}
}

// embeddedPrefix begins the File of a lab read from the embedded labs.
const embeddedPrefix = "embedded:"

// EmbeddedFile is the File of embedded lab name: "embedded:NAME".
func EmbeddedFile(name string) string { return embeddedPrefix + name }

// FileRef is how a command line names the lab file file (a Lab's File, or
// one a tag recorded): an embedded lab by its name, any other by its path.
func FileRef(file string) string { return strings.TrimPrefix(file, embeddedPrefix) }

// Login says how lvslab (and a student) logs into the nodes. Key login with
// the lab's own key is always set up; a password is for classroom images.
type Login struct {
	User     string
	Password string
}

// Network is an isolated lab network; Host is the address the host machine
// (the classroom's "real machine") has on it, zero when the lab file gives
// none: then the network is a segment the host takes no part in.
type Network struct {
	Name   string
	CIDR   netip.Prefix
	Host   netip.Addr
	Bridge string // optional bridge name; derived from the lab name when empty
}

// Node is one VM.
type Node struct {
	Name    string
	Role    string
	NICs    []*NIC
	Gateway netip.Addr // zero when the node has no default route
	Page    string     // web nodes: the body of index.html
	// WebServer is the web node's server: WebApache (apache2 or httpd) or
	// WebNginx; the node's web_server, else the lab's, else WebApache.
	WebServer string
	Memory    int // MiB
	VCPUs     int
}

// NIC is one network interface of a node. A NIC with no address is attached
// to its network but kept down, like the classroom VMs whose unused NICs are
// disabled; this keeps the same VM hardware across a NAT<->DR switch.
type NIC struct {
	Name    string // guest interface name: eth0, eth1, ...
	Network string
	Address netip.Prefix // zero: attached but down
	MAC     string       // lower-case aa:bb:..; derived when not given
}

// Service is one IPVS virtual service with its real servers.
type Service struct {
	Name     string
	VIP      netip.Addr
	Port     uint16 // 0 for a firewall-mark service
	Protocol string // tcp or udp
	// FWMark makes a firewall-mark service (ipvsadm -f): the director marks
	// the packets to VIP on each of Ports, and IPVS schedules them all as
	// one service.
	FWMark      uint32
	Ports       []uint16
	Mode        string
	Scheduler   string
	Persistence int // seconds, 0 = off (ipvsadm -p)
	// VIPPrefix is the prefix length of the VIP alias on the director (DR,
	// TUN, or NAT when the VIP is not already the director's address).
	VIPPrefix   int
	RealServers []*RealServer
	// Keepalived, when set, shares the VIP between several routers by VRRP
	// (and, for an IPVS service, lets keepalived program IPVS and check the
	// real servers): see keepalived.go.
	Keepalived *Keepalived
	path       string // services[i] in the lab file
}

// RealServer is one destination of a service.
type RealServer struct {
	Node   string
	Weight int
	Port   uint16 // defaults to the service port
	Upper  int    // upper connection threshold (-x), 0 = none
	Lower  int    // lower connection threshold (-y), 0 = none
}

// find returns the first item that matches, or nil.
func find[T any](items []*T, match func(*T) bool) *T {
	if i := slices.IndexFunc(items, match); i >= 0 {
		return items[i]
	}
	return nil
}

// Node returns the node with that name, or nil.
func (l *Lab) Node(name string) *Node {
	return find(l.Nodes, func(n *Node) bool { return n.Name == name })
}

// Network returns the network with that name, or nil.
func (l *Lab) Network(name string) *Network {
	return find(l.Networks, func(n *Network) bool { return n.Name == name })
}

// NodesWithRole lists the nodes of a role in file order.
func (l *Lab) NodesWithRole(role string) []*Node {
	var out []*Node
	for _, n := range l.Nodes {
		if n.Role == role {
			out = append(out, n)
		}
	}
	return out
}

// NIC returns the node's NIC with that name, or nil.
func (n *Node) NIC(name string) *NIC {
	return find(n.NICs, func(c *NIC) bool { return c.Name == name })
}

// NICOn returns the node's configured NIC on a network, or nil.
func (n *Node) NICOn(network string) *NIC {
	return find(n.NICs, func(c *NIC) bool { return c.Network == network && c.Address.IsValid() })
}

// NICFor returns the configured NIC whose subnet holds addr, or nil.
func (n *Node) NICFor(addr netip.Addr) *NIC {
	return find(n.NICs, func(c *NIC) bool { return c.Address.IsValid() && c.Address.Masked().Contains(addr) })
}

// Addresses lists the node's configured addresses in NIC order.
func (n *Node) Addresses() []netip.Addr {
	var out []netip.Addr
	for _, c := range n.NICs {
		if c.Address.IsValid() {
			out = append(out, c.Address.Addr())
		}
	}
	return out
}

// HasAddress tells whether one of the node's NICs carries addr.
func (n *Node) HasAddress(addr netip.Addr) bool { return slices.Contains(n.Addresses(), addr) }

// Director returns the director that carries a service: the one director of
// the lab, or with keepalived the first in file order (all of them are the
// service's routers; Keepalived.Master is the one that holds the VIP).
func (l *Lab) Director() *Node {
	ds := l.NodesWithRole(RoleDirector)
	if len(ds) == 0 {
		return nil
	}
	return ds[0]
}

// ClientPorts are the ports clients connect to: the port, or the ports a
// firewall mark gathers.
func (s *Service) ClientPorts() []uint16 {
	if s.FWMark != 0 {
		return s.Ports
	}
	return []uint16{s.Port}
}

// Key is the service's ipvsadm identity: "-t 192.168.4.5:80", "-u ...", "-f 1".
func (s *Service) Key() string {
	k := ipvs.Service{Protocol: s.Protocol, Address: s.VIP, Port: s.Port, FWMark: s.FWMark}
	return k.Key()
}

// Bridge is the host bridge of a lab network: the one the file names, else
// DerivedBridge of the lab's name and the network's place in the file.
func (l *Lab) Bridge(nw *Network) string {
	if nw.Bridge != "" {
		return nw.Bridge
	}
	index := max(slices.IndexFunc(l.Networks, func(n *Network) bool { return n.Name == nw.Name }), 0)
	return DerivedBridge(l.Name, index)
}

// DerivedBridge is "lv" + 8 hex digits of a hash of the lab name + "-" +
// the network's index, e.g. "lv1a2b3c4d-0": stable (the same lab always
// gets the same bridges), at most 15 characters (the kernel's limit) and
// different between labs.
func DerivedBridge(lab string, index int) string {
	sum := sha256.Sum256([]byte("lvslab-bridge/" + lab))
	return fmt.Sprintf("lv%s-%d", hex.EncodeToString(sum[:4]), index)
}
