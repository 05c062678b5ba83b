package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
)

// The sections of factsProbe.
const (
	secAddrs  = "addrs"
	secRoute  = "route"
	secSysctl = "sysctl"
)

// factsProbe reads what the mode checks need from a real server in one
// round trip: its IPv4 addresses, its default route, and the ARP and
// reverse path sysctls of every interface.
func factsProbe() *guest.Probe {
	p := guest.NewProbe()
	p.Section(secAddrs, "ip -o -4 addr show")
	p.Section(secRoute, "ip route show default")
	p.Section(secSysctl, "grep -H . /proc/sys/net/ipv4/conf/*/arp_ignore /proc/sys/net/ipv4/conf/*/arp_announce /proc/sys/net/ipv4/conf/*/rp_filter 2>/dev/null")
	return p
}

// Facts is what factsProbe found on a node.
type Facts struct {
	// Addrs maps "192.168.4.15/32" to its device ("lo", "eth0", ...).
	Addrs map[string]string
	// Gateway is the default route's next hop, "" when none.
	Gateway string
	GwDev   string
	// Sysctl maps "all/arp_ignore", "lo/arp_announce", ... to its value.
	Sysctl map[string]int
}

// ParseFacts reads the answer of factsProbe.
func ParseFacts(a *guest.Answer) Facts {
	f := Facts{Addrs: map[string]string{}, Sysctl: map[string]int{}}
	for _, line := range a.Lines(secAddrs) {
		fl := strings.Fields(line)
		// "1: lo    inet 127.0.0.1/8 scope host lo\ ..."
		for i := 0; i+1 < len(fl); i++ {
			if fl[i] == "inet" && len(fl) > 1 {
				f.Addrs[fl[i+1]] = fl[1]
				break
			}
		}
	}
	for _, line := range a.Lines(secRoute) {
		fl := strings.Fields(line)
		if len(fl) == 0 || fl[0] != "default" {
			continue
		}
		for i := 0; i+1 < len(fl); i++ {
			switch fl[i] {
			case "via":
				f.Gateway = fl[i+1]
			case "dev":
				f.GwDev = fl[i+1]
			}
		}
		break
	}
	for _, line := range a.Lines(secSysctl) {
		path, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		path = strings.TrimPrefix(path, "/proc/sys/net/ipv4/conf/")
		if v, err := strconv.Atoi(strings.TrimSpace(val)); err == nil {
			f.Sysctl[path] = v
		}
	}
	return f
}

// effective is the value the kernel applies on an interface for the
// sysctls it combines with "all" by taking the larger one (arp_ignore,
// arp_announce, rp_filter).
func (f Facts) effective(dev, key string) int {
	return max(f.Sysctl["all/"+key], f.Sysctl[dev+"/"+key])
}

// device returns the device carrying addr (any prefix), and the prefix.
func (f Facts) device(addr string) (dev, prefix string) {
	for p, d := range f.Addrs {
		if a, _, _ := strings.Cut(p, "/"); a == addr {
			return d, p
		}
	}
	return "", ""
}

// realServerFacts reads each real server's facts once per run.
type realServerFacts struct {
	dial  guest.Dialer
	cache map[string]*Facts
	errs  map[string]error
}

func newRealServerFacts(dial guest.Dialer) *realServerFacts {
	return &realServerFacts{dial: dial, cache: map[string]*Facts{}, errs: map[string]error{}}
}

func (r *realServerFacts) get(ctx context.Context, node string) (*Facts, error) {
	if f, ok := r.cache[node]; ok {
		return f, r.errs[node]
	}
	var f *Facts
	x, err := r.dial(node)
	if err == nil {
		var a *guest.Answer
		a, err = factsProbe().Run(ctx, x)
		if err == nil {
			p := ParseFacts(a)
			f = &p
		}
	}
	r.cache[node], r.errs[node] = f, err
	return f, err
}

// NeighCommand shows the client's neighbour entry for an address.
func NeighCommand(addr string) string { return "ip neigh show " + addr + "; true" }

// ParseNeigh returns the MAC of an "ip neigh show" line, "" when the
// entry has none (INCOMPLETE, FAILED, or no entry).
func ParseNeigh(out string) (mac, state string) {
	for _, line := range strings.Split(out, "\n") {
		fl := strings.Fields(line)
		if len(fl) == 0 {
			continue
		}
		state = fl[len(fl)-1]
		for i := 0; i+1 < len(fl); i++ {
			if fl[i] == "lladdr" {
				return strings.ToLower(fl[i+1]), state
			}
		}
	}
	return "", state
}

// plumbingChecks are the forwarding mode's cross-checks, run after the
// request loop (so that the client has resolved the VIP).
func plumbingChecks(ctx context.Context, lab *topology.Lab, ls labService, client *topology.Node, cx guest.Executor, facts *realServerFacts) []report.Check {
	s := ls.svc
	dir := lab.Director()
	var out []report.Check
	vip := s.VIP.String()
	switch s.Mode {
	case topology.ModeDR, topology.ModeTUN:
		if s.Keepalived == nil { // the VRRP master's MAC: keepalivedChecks
			out = append(out, neighCheck(ctx, lab, s, client, cx, dir))
		}
		for _, sv := range ls.servers {
			out = append(out, vipHolderChecks(ctx, s, sv.node, vip, facts)...)
		}
	case topology.ModeNAT:
		for _, sv := range ls.servers {
			out = append(out, natRouteCheck(ctx, dir, sv.node, facts))
		}
	}
	return out
}

func neighCheck(ctx context.Context, lab *topology.Lab, s *topology.Service, client *topology.Node, cx guest.Executor, dir *topology.Node) report.Check {
	name := "VIP ARP answered by the director"
	vip := s.VIP.String()
	if client.NICFor(s.VIP) == nil {
		return skipf(name, "client %s is not on the VIP's network: it reaches %s through a router", client.Name, vip)
	}
	nic := dir.NICFor(s.VIP)
	if nic == nil || nic.MAC == "" {
		return skipf(name, "the director's MAC on the VIP's network is not known")
	}
	return neighResolves(ctx, lab, name, vip, client, cx, "director", dir.Name, nic,
		"a real server answers ARP for the VIP (arp_ignore/arp_announce)")
}

// neighResolves: the client (cx) resolves vip to the MAC of nic, the VIP's
// NIC of owner (the lab's role for it: director, master); why says what a
// wrong MAC means.
func neighResolves(ctx context.Context, lab *topology.Lab, name, vip string, client *topology.Node, cx guest.Executor, role, owner string, nic *topology.NIC, why string) report.Check {
	out, err := cx.Run(ctx, NeighCommand(vip))
	if err != nil {
		return failf(name, "ip neigh on %s: %v", client.Name, err)
	}
	mac, state := ParseNeigh(out)
	want := strings.ToLower(nic.MAC)
	switch {
	case mac == "":
		return failf(name, "%s has no MAC for %s (%s)", client.Name, vip, strings.TrimSpace(state))
	case mac != want:
		return failf(name, "%s resolved %s to %s%s, not the %s %s's %s %s: %s",
			client.Name, vip, mac, macOwner(lab, mac), role, owner, nic.Name, want, why)
	}
	return passf(name, "%s resolves %s to %s, %s's %s", client.Name, vip, mac, owner, nic.Name)
}

func macOwner(lab *topology.Lab, mac string) string {
	for _, n := range lab.Nodes {
		for _, c := range n.NICs {
			if strings.EqualFold(c.MAC, mac) {
				return " (" + n.Name + " " + c.Name + ")"
			}
		}
	}
	return ""
}

func vipHolderChecks(ctx context.Context, s *topology.Service, rs *topology.Node, vip string, facts *realServerFacts) []report.Check {
	f, err := facts.get(ctx, rs.Name)
	holder := "lo"
	if s.Mode == topology.ModeTUN {
		holder = "tunl0"
	}
	name := rs.Name + " holds the VIP on " + holder
	if err != nil {
		return []report.Check{failf(name, "reading %s: %v", rs.Name, err)}
	}
	var out []report.Check
	dev, prefix := f.device(vip)
	switch {
	case dev == "":
		out = append(out, failf(name, "%s does not have %s: it would drop the requests forwarded to it", rs.Name, vip))
	case strings.TrimSuffix(strings.Split(dev, ":")[0], "@NONE") != holder:
		out = append(out, failf(name, "%s has %s on %s, not on %s", rs.Name, prefix, dev, holder))
	case !strings.HasSuffix(prefix, "/32"):
		out = append(out, failf(name, "%s has %s on %s: the VIP must be a /32 there, a wider prefix takes over the whole network", rs.Name, prefix, dev))
	default:
		out = append(out, passf(name, "%s on %s", prefix, dev))
	}
	arpName := rs.Name + " does not answer ARP for the VIP"
	if nic := rs.NICFor(s.VIP); nic != nil {
		ig, an := f.effective(nic.Name, "arp_ignore"), f.effective(nic.Name, "arp_announce")
		if ig >= 1 && an >= 2 {
			out = append(out, passf(arpName, "%s: arp_ignore %d, arp_announce %d", nic.Name, ig, an))
		} else {
			out = append(out, failf(arpName, "%s: arp_ignore %d (want >= 1), arp_announce %d (want >= 2): it may answer ARP for %s and steal the clients from the director",
				nic.Name, ig, an, vip))
		}
	} else {
		out = append(out, skipf(arpName, "%s is not on the VIP's network", rs.Name))
	}
	if s.Mode == topology.ModeTUN {
		rp := f.effective("tunl0", "rp_filter")
		n := rs.Name + " accepts tunnelled packets"
		if rp == 0 {
			out = append(out, passf(n, "rp_filter 0 on tunl0 (and all)"))
		} else {
			out = append(out, failf(n, "rp_filter %d on tunl0 (max of all and tunl0): decapsulated requests from the client would be dropped", rp))
		}
	}
	return out
}

func natRouteCheck(ctx context.Context, dir, rs *topology.Node, facts *realServerFacts) report.Check {
	name := rs.Name + " routes replies through the director"
	dip := topology.RealServerGateway(dir, rs)
	f, err := facts.get(ctx, rs.Name)
	if err != nil {
		return failf(name, "reading %s: %v", rs.Name, err)
	}
	switch {
	case f.Gateway == "":
		return failf(name, "%s has no default route: its replies cannot reach the client through %s", rs.Name, dip)
	case f.Gateway != dip.String():
		return failf(name, "%s's default route is via %s, not the director's DIP %s: replies would bypass the director and never be rewritten", rs.Name, f.Gateway, dip)
	}
	return passf(name, "default via %s dev %s", f.Gateway, f.GwDev)
}

// String renders facts compactly, for debugging.
func (f Facts) String() string {
	return fmt.Sprintf("addrs=%v gw=%s sysctl=%v", f.Addrs, f.Gateway, f.Sysctl)
}
