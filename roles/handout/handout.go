// Package handout writes what a student works from: the exercise of a lab
// in the references' own forms (nmcli or systemd-networkd files, ifcfg-lo:0,
// /etc/sysctl.conf with sysctl -p, echo > index.html, ipvsadm -A/-a,
// ipvsadm-save), node by node, each step with one line of why in LVS terms,
// and what the student should see at the end. Nothing of convergence (stale
// state of another lab, guards, lvslab's own files) is here: that stays in
// "lvslab up" and in the machine's script (package render).
//
// A handout is for a fresh ("bare") lab, or for a stage: the same VMs going
// from one lab to the next (NAT, then DR), where it lists only what changes.
package handout

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/keepalived"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// Network stacks a handout can address the guest's NICs with.
const (
	// Networkd: systemd-networkd's .network files in /etc/systemd/network,
	// applied by restarting systemd-networkd (lvslab's own Debian image).
	Networkd = "networkd"
	// NetworkManager: nmcli connection modify/down/up (RHEL, and any guest
	// that has nmcli).
	NetworkManager = "networkmanager"
)

// Stacks lists the network stacks.
var Stacks = []string{Networkd, NetworkManager}

// Options choose the handout's guest and stage.
type Options struct {
	// OS is catalog.Debian or catalog.RHEL.
	OS string
	// Network is the guest's network stack: Networkd or NetworkManager; ""
	// is the family's own (networkd on Debian, as lvslab's image has it;
	// NetworkManager on RHEL).
	Network string
	// From is the lab these same VMs were configured as before: the handout
	// lists only what changes (reference 000's NAT, then DR). nil: a fresh
	// lab, as "lvslab up --bare" leaves it.
	From *topology.Lab
	// Title replaces the handout's heading (a class names the student's copy).
	Title string
}

// Handout is one lab's exercise for one OS family and network stack.
type Handout struct {
	Lab         string `json:"lab"`
	File        string `json:"file"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	OS          string `json:"os"`
	Network     string `json:"network"`
	// From is the file of the stage before, "" for a fresh lab.
	From  string   `json:"from,omitempty"`
	Notes []string `json:"notes,omitempty"`
	// Parts are reference 000's two movements: the environment (names,
	// addresses), then LVS itself (web servers, kernel settings, VIPs,
	// ipvsadm), each node by node.
	Parts []Part `json:"parts"`
	// Expect is what the student should see at the end.
	Expect []Expectation `json:"expect"`
	// Graph is the topology diagram (topology.Graph, ascii).
	Graph string `json:"graph,omitempty"`
}

// Part is one movement of the exercise.
type Part struct {
	Title string `json:"title"`
	Nodes []Node `json:"nodes"`
}

// Node is one node's steps.
type Node struct {
	Name  string   `json:"name"`
	Role  string   `json:"role"`
	Notes []string `json:"notes,omitempty"`
	Steps []Step   `json:"steps"`
}

// Step is one thing a student does, with why.
type Step struct {
	Title string `json:"title"`
	Why   string `json:"why"`
	// Commands are typed in order, each one line.
	Commands []string `json:"commands"`
	// Notes are said after the commands (another form, a caveat).
	Notes []string `json:"notes,omitempty"`
}

// Expectation is a command a student runs to see the result, and what it
// prints.
type Expectation struct {
	Node    string   `json:"node"`
	What    string   `json:"what"`
	Command string   `json:"command"`
	Output  []string `json:"output"`
	Notes   []string `json:"notes,omitempty"`
}

// Build writes the handout of lab.
func Build(lab *topology.Lab, opts Options) (*Handout, error) {
	if !slices.Contains(catalog.OSFamilies, opts.OS) {
		return nil, fmt.Errorf("OS family %q: use %s", opts.OS, strings.Join(catalog.OSFamilies, " or "))
	}
	if opts.Network == "" {
		opts.Network = Networkd
		if opts.OS == catalog.RHEL {
			opts.Network = NetworkManager
		}
	}
	if !slices.Contains(Stacks, opts.Network) {
		return nil, fmt.Errorf("network stack %q: use %s", opts.Network, strings.Join(Stacks, " or "))
	}
	if opts.OS == catalog.RHEL && opts.Network != NetworkManager {
		return nil, fmt.Errorf("network stack %q on RHEL guests: they have NetworkManager (nmcli)", opts.Network)
	}
	h := &Handout{Lab: lab.Name, File: lab.File, Title: opts.Title, Description: lab.Description, OS: opts.OS, Network: opts.Network}
	states := roles.Desired(lab)
	var before map[string]*roles.NodeState
	if opts.From != nil {
		var err error
		if before, err = sameNodes(opts.From, lab); err != nil {
			return nil, err
		}
		h.From = opts.From.File
	}
	if h.Title == "" {
		h.Title = "Lab " + lab.Name + " (" + lab.File + ")"
		if h.From != "" {
			h.Title += ", after " + opts.From.File
		}
	}
	w := writer{os: opts.OS, net: opts.Network, lab: lab, from: opts.From}
	h.Notes = w.intro(h.From != "")
	env := Part{Title: "Prepare the environment: names and addresses"}
	lvs := Part{Title: "Configure " + modes(lab)}
	if h.From != "" {
		env.Title = "Modify the environment: the old virtual server, names and addresses"
	}
	var lvsNodes []Node
	for _, st := range states {
		var prev *roles.NodeState
		if before != nil {
			prev = before[st.Name]
		}
		e, l := w.node(lab, st, prev)
		if len(e) > 0 {
			env.Nodes = append(env.Nodes, Node{Name: st.Name, Role: st.Role, Steps: e})
		}
		if len(l) > 0 {
			lvsNodes = append(lvsNodes, Node{Name: st.Name, Role: st.Role, Steps: l})
		}
		if prev != nil && len(e)+len(l) == 0 {
			env.Nodes = append(env.Nodes, Node{Name: st.Name, Role: st.Role, Notes: []string{"nothing changes on " + st.Name + " in this stage"}})
		}
	}
	// The real servers first, as the references take them: the director's
	// table then points at servers that answer.
	for _, role := range []string{topology.RoleWeb, topology.RoleDirector, topology.RoleClient} {
		for _, n := range lvsNodes {
			if n.Role == role {
				lvs.Nodes = append(lvs.Nodes, n)
			}
		}
	}
	for _, p := range []Part{env, lvs} {
		if len(p.Nodes) > 0 {
			h.Parts = append(h.Parts, p)
		}
	}
	h.Expect = expectations(lab, states)
	if g, err := topology.Graph(lab, topology.GraphASCII); err == nil {
		h.Graph = g
	}
	return h, nil
}

// sameNodes: a stage keeps the VMs, so both labs have the same nodes.
func sameNodes(from, to *topology.Lab) (map[string]*roles.NodeState, error) {
	nodeName := func(n *topology.Node) string { return n.Name }
	a, b := sortedNames(from.Nodes, nodeName), sortedNames(to.Nodes, nodeName)
	if !slices.Equal(a, b) {
		return nil, fmt.Errorf("%s cannot follow %s on the same VMs: its nodes are %s, the other's %s; a stage changes the nodes a lab has, it adds or removes none (write the handout of %s alone)",
			to.File, from.File, strings.Join(b, ", "), strings.Join(a, ", "), to.File)
	}
	out := map[string]*roles.NodeState{}
	for _, st := range roles.Desired(from) {
		out[st.Name] = st
	}
	nics := func(n *topology.Node) []string {
		return sortedNames(n.NICs, func(c *topology.NIC) string { return c.Name })
	}
	for _, n := range to.Nodes {
		if a, b := nics(from.Node(n.Name)), nics(n); !slices.Equal(a, b) {
			return nil, fmt.Errorf("%s cannot follow %s on the same VMs: %s has the NICs %s there and %s here (the same VMs keep their NICs: give both labs the same ones, unused ones without an address)",
				to.File, from.File, n.Name, strings.Join(a, ", "), strings.Join(b, ", "))
		}
	}
	return out, nil
}

// sortedNames are the names of items, sorted.
func sortedNames[T any](items []T, name func(T) string) []string {
	var out []string
	for _, it := range items {
		out = append(out, name(it))
	}
	slices.Sort(out)
	return out
}

// writer writes the steps for one OS family and network stack.
type writer struct {
	os, net string
	// lab is the lab the handout is for, from the stage before (or nil).
	lab, from *topology.Lab
}

// keepalived is the node's keepalived.conf in this lab, "" when it runs none.
func (w writer) keepalived(node string) string {
	conf, _ := keepalived.Config(w.lab, node)
	return conf
}

// hadKeepalived: the node ran keepalived in the stage before.
func (w writer) hadKeepalived(node string) bool {
	if w.from == nil {
		return false
	}
	_, ok := keepalived.Config(w.from, node)
	return ok
}

// keepalivedVIP: keepalived holds this address (a VRRP instance's VIP), no
// hand-made alias may.
func (w writer) keepalivedVIP(a netip.Addr) bool {
	for _, s := range w.lab.KeepalivedServices() {
		if s.VIP == a {
			return true
		}
	}
	return false
}

func (w writer) rhel() bool { return w.os == catalog.RHEL }

func (w writer) intro(stage bool) []string {
	var out []string
	family := "Debian guests, addresses in systemd-networkd files (lvslab's own image)"
	if w.rhel() {
		family = "RHEL-family guests (CentOS, Rocky, Alma), addresses by nmcli"
	} else if w.net == NetworkManager {
		family = "Debian guests with NetworkManager, addresses by nmcli"
	}
	out = append(out, family+".")
	out = append(out, "Type each command line as it stands, as root, on the node it comes under.")
	out = append(out, `Work on the node's console or over "lvslab ssh NODE" (the management NIC, which no step touches): a step that changes an address cuts an SSH session that runs over that address.`)
	if w.rhel() {
		out = append(out, "The VMs have firewalld off and SELinux permissive, as in the classroom (else: systemctl disable --now firewalld; setenforce 0), and a connection profile per NIC named after it (else: nmcli connection add type ethernet con-name eth0 ifname eth0).")
	} else {
		out = append(out, "Every package the exercise needs is already in lvslab's image: apt-get says so and installs nothing (elsewhere, run apt-get update first).")
	}
	if stage {
		out = append(out, "This stage starts where the one before ended: only what changes is here.")
	}
	return out
}

// node is one node's steps, in the order the references take them: for
// the environment the name and the addresses (and the client's curl); for
// LVS the packages, the kernel settings, the VIP (after them: a real server
// must ignore ARP for the VIP before it has it), the web server, and the
// IPVS table with its boot-time restore.
func (w writer) node(lab *topology.Lab, st, prev *roles.NodeState) (env, lvs []Step) {
	if prev != nil && len(prev.IPVS) > 0 && len(st.IPVS) > 0 && ipvs.Diff(prev.IPVS, st.IPVS) != nil {
		// Reference 000's stage: the old virtual server goes first.
		if s := w.ipvsRemove(prev, st); s != nil {
			env = append(env, *s)
		}
	}
	if prev == nil || prev.Hostname != st.Hostname {
		env = append(env, w.hostname(st))
	}
	env = append(env, w.addresses(st, prev)...)
	if s := w.packages(st, prev); s != nil {
		if st.Role == topology.RoleClient {
			env = append(env, *s)
		} else {
			lvs = append(lvs, *s)
		}
	}
	if s := w.modules(st, prev); s != nil {
		lvs = append(lvs, *s)
	}
	if s := w.sysctls(st, prev); s != nil {
		lvs = append(lvs, *s)
	}
	lvs = append(lvs, w.vips(st, prev)...)
	if s := w.marks(st, prev); s != nil {
		lvs = append(lvs, *s)
	}
	lvs = append(lvs, w.web(st, prev)...)
	if s := w.keepalivedStep(st, prev); s != nil {
		lvs = append(lvs, *s)
	} else {
		lvs = append(lvs, w.ipvs(lab, st, prev)...)
	}
	return env, lvs
}

// modes names the lab's forwarding: "LVS-NAT", "LVS-DR", "LVS-DR and LVS-TUN".
func modes(lab *topology.Lab) string {
	var out []string
	for _, s := range append(slices.Clone(lab.Services), lab.VRRPServices...) {
		m := "LVS-" + strings.ToUpper(s.Mode)
		switch {
		case s.Mode == topology.ModeVRRP:
			m = "keepalived (VRRP)"
		case s.Keepalived != nil:
			m = "keepalived + " + m
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return "the nodes"
	}
	return strings.Join(out, " and ")
}

func (w writer) hostname(st *roles.NodeState) Step {
	s := Step{Title: "hostname", Why: "the node is called " + st.Hostname + " in prompts and logs, as in the exercise's diagram"}
	if w.rhel() || w.net == NetworkManager {
		s.Commands = []string{"hostnamectl set-hostname " + quote(st.Hostname)}
		return s
	}
	// lvslab's image has no D-Bus, which hostnamectl needs.
	s.Commands = []string{"echo " + quote(st.Hostname) + " > /etc/hostname", "hostname " + quote(st.Hostname)}
	return s
}

// packages: only what the node lacks (in a stage: what the last lab did
// not install).
func (w writer) packages(st, prev *roles.NodeState) *Step {
	pkgs := osPackages(st, w.os)
	if w.keepalived(st.Name) != "" && !slices.Contains(pkgs, "keepalived") {
		pkgs = append(pkgs, "keepalived")
	}
	if prev != nil {
		had := osPackages(prev, w.os)
		if w.hadKeepalived(st.Name) {
			had = append(had, "keepalived")
		}
		pkgs = slices.DeleteFunc(pkgs, func(p string) bool { return slices.Contains(had, p) })
	}
	if w.rhel() {
		// Every RHEL-family install has curl (RHEL 9's curl-minimal, which
		// "yum install curl" would have to swap with --allowerasing).
		pkgs = slices.DeleteFunc(pkgs, func(p string) bool { return p == "curl" })
	}
	if len(pkgs) == 0 {
		return nil
	}
	why := map[string]string{
		"ipvsadm": "ipvsadm programs the kernel's IPVS table",
		"curl":    "curl plays the client's browser",
		"httpd":   "the real server's web server",
		"apache2": "the real server's web server",
		"nginx":   "the real server's web server",
		"socat":   "socat answers the UDP service's datagrams",
		"keepalived": "keepalived moves the VIP between the routers (VRRP)" +
			map[bool]string{true: " and programs the IPVS table", false: ""}[st.Role == topology.RoleDirector],
	}
	var whys []string
	for _, p := range pkgs {
		whys = append(whys, why[p])
	}
	s := &Step{Title: "packages", Why: strings.Join(whys, "; ")}
	if w.rhel() {
		s.Commands = []string{"yum install -y " + strings.Join(pkgs, " ")}
	} else {
		s.Commands = []string{"apt-get install -y " + strings.Join(pkgs, " ")}
	}
	return s
}

// osPackages maps the node's logical packages to the family's.
func osPackages(st *roles.NodeState, osFamily string) []string {
	var out []string
	for _, p := range st.Packages {
		switch {
		case p == roles.PkgWebServer && st.Web != nil && st.Web.Server == topology.WebNginx:
			p = "nginx"
		case p == roles.PkgWebServer && osFamily == catalog.RHEL:
			p = "httpd"
		case p == roles.PkgWebServer:
			p = "apache2"
		}
		out = append(out, p)
	}
	return out
}

func (w writer) modules(st, prev *roles.NodeState) *Step {
	var mods []string
	for _, m := range st.Modules {
		if prev == nil || !slices.Contains(prev.Modules, m) {
			mods = append(mods, m)
		}
	}
	if len(mods) == 0 {
		return nil
	}
	s := &Step{Title: "kernel modules", Why: "ipip makes tunl0, where a TUN real server takes the tunnelled packets off (loaded now, and at boot from modules-load.d)"}
	for _, m := range mods {
		s.Commands = append(s.Commands, "modprobe "+m, "echo "+m+" > /etc/modules-load.d/"+m+".conf")
	}
	return s
}

// quote is a word for sh, bare when it can be.
func quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeFile is one command line that writes lines to path ("printf" with
// one quoted argument a line: it can be typed as it stands, and read).
func writeFile(path string, lines []string, appendTo bool) string {
	op := " > "
	if appendTo {
		op = " >> "
	}
	if len(lines) == 1 && !strings.ContainsAny(lines[0], `\`) && !strings.HasPrefix(lines[0], "-") {
		return "echo " + quote(lines[0]) + op + path
	}
	var q []string
	for _, l := range lines {
		q = append(q, quote(l))
	}
	return `printf '%s\n' ` + strings.Join(q, " ") + op + path
}

// keepalivedStep: on a node of a VRRP instance, keepalived.conf and the
// service, instead of hand-made VIPs and ipvsadm lines: keepalived holds
// the VIP on the MASTER only, and on a director builds the IPVS table from
// its virtual_server blocks (after a reboot too). nil on other nodes.
func (w writer) keepalivedStep(st, prev *roles.NodeState) *Step {
	conf := w.keepalived(st.Name)
	if conf == "" {
		return nil
	}
	if prev != nil && w.hadKeepalived(st.Name) {
		if old, _ := keepalived.Config(w.from, st.Name); old == conf {
			return nil
		}
	}
	var why []string
	for _, in := range keepalived.Instances(w.lab) {
		r := in.Keepalived.Router(st.Name)
		if r == nil {
			continue
		}
		k := in.Keepalived
		var vips []string
		for _, v := range in.VIPs {
			vips = append(vips, v.String())
		}
		m := k.Master()
		why = append(why, fmt.Sprintf("%s is %s (priority %d) of virtual router %d: the MASTER %s holds the VIP %s; when its adverts stop (every %d s) the BACKUP takes it after 3 × %d + (256 − priority)/256 s",
			st.Name, r.State, r.Priority, k.VRID, m.Node, strings.Join(vips, ", "), k.AdvertInt, k.AdvertInt))
		for _, s := range in.Services {
			if s.Mode != topology.ModeVRRP && st.Role == topology.RoleDirector {
				w := "keepalived builds the IPVS table from virtual_server on every director, so the BACKUP is ready"
				if k.Check != nil {
					w += ", and takes a real server out while its " + k.Check.Type + " fails"
				}
				why = append(why, w+": no ipvsadm lines, no VIP by hand")
				break
			}
		}
	}
	s := &Step{Title: "keepalived", Why: strings.Join(why, "; ")}
	if len(st.IPVS) > 0 && st.Role == topology.RoleDirector {
		s.Notes = append(s.Notes, "rules made by hand before (ipvsadm -A ...) would stay beside keepalived's: clear them first with ipvsadm -C")
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(conf, "\n"), "\n") {
		if !strings.HasPrefix(l, "! lab ") { // lvslab's own remark
			lines = append(lines, l)
		}
	}
	s.Commands = []string{writeFile(keepalived.Path, lines, false)}
	if prev != nil && w.hadKeepalived(st.Name) {
		s.Commands = append(s.Commands, "systemctl restart keepalived")
	} else {
		s.Commands = append(s.Commands, "systemctl enable keepalived --now")
	}
	return s
}
