package verify

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

func orWord(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return strings.TrimSpace(s)
}

// holderCheck: exactly one router holds the VIP.
func holderCheck(s *topology.Service, v VRRPState) report.Check {
	k := s.Keepalived
	name := "one VRRP master holds " + v.VIP
	if len(v.Unread) > 0 {
		var why []string
		for _, n := range slices.Sorted(maps.Keys(v.Unread)) {
			why = append(why, n+": "+v.Unread[n])
		}
		return failf(name, "cannot read the routers' addresses: %s", strings.Join(why, "; "))
	}
	master := k.Master()
	live := v.live()
	if st := v.stale(); len(st) > 0 {
		var why []string
		for _, n := range st {
			why = append(why, n+" ("+v.Down[n]+")")
		}
		return failf(name, "%s still carry %s though they cannot be MASTER: a keepalived killed without its cleanup leaves the VIP, and both routers answer ARP for it (the client flips between them when its entry expires); systemctl start keepalived there (it takes the VIP back or drops it), or ip addr del %s/%d dev ...", strings.Join(why, ", "), v.VIP, v.VIP, s.VIPPrefix)
	}
	switch len(live) {
	case 0:
		return failf(name, "no router holds %s: keepalived is not running on them, or every instance is in FAULT (its interface down); systemctl status keepalived, journalctl -u keepalived", v.VIP)
	case 1:
	default:
		return failf(name, "%s all hold %s (split brain): each does not hear the other's adverts, so each is MASTER; VRRP (IP protocol 112) is dropped by a firewall rule, or virtual_router_id or the authentication differ", strings.Join(live, " and "), v.VIP)
	}
	h := live[0]
	r := k.Router(h)
	detail := fmt.Sprintf("%s (priority %d) holds %s, the other router(s) none", h, r.Priority, v.VIP)
	if master != nil && h != master.Node && v.Down[master.Node] != "" {
		return passf(name, "%s; the lab's MASTER %s is down (%s): the backup took over, as VRRP does", detail, master.Node, v.Down[master.Node])
	}
	if master != nil && h != master.Node {
		if !k.NoPreempt {
			return failf(name, "%s holds %s, not the lab's MASTER %s (priority %d): with preemption the higher priority takes the VIP back within a few adverts; is keepalived running on %s?", h, v.VIP, master.Node, master.Priority, master.Node)
		}
		detail += fmt.Sprintf(" (nopreempt: the lab's MASTER %s does not take it back)", master.Node)
	}
	return passf(name, "%s", detail)
}

// vrrpARPCheck: the client resolves the VIP to the holder's MAC.
func vrrpARPCheck(ctx context.Context, lab *topology.Lab, s *topology.Service, holder string, client *topology.Node, cx guest.Executor) report.Check {
	name := "VIP ARP answered by the VRRP master"
	vip := s.VIP.String()
	if holder == "" {
		return skipf(name, "no single router holds %s", vip)
	}
	if client.NICFor(s.VIP) == nil {
		return skipf(name, "client %s is not on the VIP's network", client.Name)
	}
	nic := lab.Node(holder).NICFor(s.VIP)
	if nic == nil || nic.MAC == "" {
		return skipf(name, "%s's MAC on the VIP's network is not known", holder)
	}
	return neighResolves(ctx, lab, name, vip, client, cx, "master", holder, nic,
		"the old master's entry lingers (keepalived sends gratuitous ARP when it becomes MASTER: vrrp_garp_master_delay), or a real server answers ARP for the VIP")
}

// KeepalivedTable compares a router's IPVS service with the one its
// keepalived.conf programs: differences (a wrong scheduler, weight,
// forwarding method or a real server the lab lacks) and the real servers
// that are missing, which keepalived's health check takes out.
func KeepalivedTable(want ipvs.Service, have *ipvs.Service) (diffs, removed []string) {
	if have == nil {
		return []string{"no IPVS service " + want.Key()}, nil
	}
	if have.SchedName != want.SchedName {
		diffs = append(diffs, fmt.Sprintf("scheduler %s, keepalived.conf says %s", have.SchedName, want.SchedName))
	}
	if have.Persistence() != want.Persistence() {
		diffs = append(diffs, fmt.Sprintf("persistence %d, keepalived.conf says %d", have.Persistence(), want.Persistence()))
	}
	for _, w := range want.Destinations {
		d := have.Dest(w.Key())
		switch {
		case d == nil:
			removed = append(removed, w.Key())
		case d.Weight != w.Weight:
			diffs = append(diffs, fmt.Sprintf("%s has weight %d, keepalived.conf says %d", w.Key(), d.Weight, w.Weight))
		case ipvs.ForwardName(d.ConnectionFlags) != ipvs.ForwardName(w.ConnectionFlags):
			diffs = append(diffs, fmt.Sprintf("%s forwards by %s, keepalived.conf says %s", w.Key(), ipvs.ForwardName(d.ConnectionFlags), ipvs.ForwardName(w.ConnectionFlags)))
		}
	}
	for _, d := range have.Destinations {
		if want.Dest(d.Key()) == nil {
			diffs = append(diffs, d.Key()+" is a real server keepalived.conf does not have (a rule added by hand?)")
		}
	}
	return diffs, removed
}

// routerTableChecks: every director router's table is what keepalived
// programs from its keepalived.conf (the backup's too), less the real
// servers a health check has taken out, which are named.
func routerTableChecks(ctx context.Context, lab *topology.Lab, s *topology.Service, v VRRPState, dial guest.Dialer) []report.Check {
	want := roles.IPVSService(lab, s)
	var out []report.Check
	for _, r := range s.Keepalived.Routers {
		name := r.Node + "'s IPVS table is keepalived's"
		if why, down := v.Down[r.Node]; down {
			// a stopped keepalived takes its table with it; a drill's
			// failed router is judged by who holds the VIP
			out = append(out, skipf(name, "%s is down (%s): it programs no table", r.Node, why))
			continue
		}
		x, err := dial(r.Node)
		if err != nil {
			out = append(out, failf(name, "cannot reach %s: %v", r.Node, err))
			continue
		}
		rules, err := ipvs.New(x.Run).Rules(ctx)
		if err != nil {
			out = append(out, failf(name, "%s: %v", r.Node, err))
			continue
		}
		diffs, removed := KeepalivedTable(want, ipvs.Find(rules, want.Key()))
		if len(diffs) > 0 {
			out = append(out, failf(name, "%s on %s differs from keepalived.conf: %s; keepalived programs the table itself (ipvsadm -C, then systemctl restart keepalived; do not add rules by hand)", want.Key(), r.Node, strings.Join(diffs, "; ")))
			continue
		}
		detail := fmt.Sprintf("%s %s with %d real server(s), as keepalived.conf says", want.Key(), want.SchedName, len(want.Destinations)-len(removed))
		if len(removed) > 0 {
			detail += fmt.Sprintf("; taken out by keepalived's %s: %s (it does not answer the check)", healthName(s), strings.Join(removed, ", "))
		}
		out = append(out, passf(name, "%s", detail))
	}
	return out
}

func healthName(s *topology.Service) string {
	if s.Keepalived.Check != nil {
		return s.Keepalived.Check.Type
	}
	return "health check"
}

// advertCheck: on each router that does not hold the VIP, the adverts of
// the service's VRID come from the holder only.
func advertChecks(ctx context.Context, lab *topology.Lab, s *topology.Service, v VRRPState, dial guest.Dialer) []report.Check {
	k := s.Keepalived
	holder := v.Holder()
	var out []report.Check
	for _, r := range k.Routers {
		if r.Node == holder {
			continue
		}
		name := "VRRP adverts heard on " + r.Node + " come from the master only"
		if why, down := v.Down[r.Node]; down {
			// without keepalived (or its NIC) the router has left the VRRP
			// group and hears nothing
			out = append(out, skipf(name, "%s is down (%s): it hears no adverts", r.Node, why))
			continue
		}
		if holder == "" {
			out = append(out, skipf(name, "no single router holds the VIP"))
			continue
		}
		var src netip.Addr
		if nic := lab.Node(holder).NICFor(s.VIP); nic != nil {
			src = nic.Address.Addr()
		}
		x, err := dial(r.Node)
		if err != nil {
			out = append(out, failf(name, "cannot reach %s: %v", r.Node, err))
			continue
		}
		secs := max(AdvertSeconds, 3*k.AdvertInt)
		raw, err := x.Run(ctx, AdvertCommand(secs))
		if err != nil {
			out = append(out, failf(name, "listening on %s: %v", r.Node, err))
			continue
		}
		from := map[netip.Addr]int{}
		for _, a := range ParseAdverts(raw) {
			if a.VRID == k.VRID {
				from[a.Source]++
			}
		}
		var others []string
		for a, n := range from {
			if a != src {
				others = append(others, fmt.Sprintf("%s%s (%d)", a, addrOwner(lab, a), n))
			}
		}
		slices.Sort(others)
		switch {
		case len(others) > 0:
			out = append(out, failf(name, "adverts of VRID %d from %s too, besides the master %s %s: two routers advertise as MASTER (split brain; each drops the other's adverts: a firewall rule on IP protocol 112?)", k.VRID, strings.Join(others, ", "), holder, src))
		case from[src] == 0:
			out = append(out, failf(name, "no advert of VRID %d reached %s in %d s (the master sends one every %d s): a firewall drops VRRP (IP protocol 112) or keepalived on %s does not advertise; tcpdump -ni any ip proto 112", k.VRID, r.Node, secs, k.AdvertInt, holder))
		default:
			out = append(out, passf(name, "%d advert(s) of VRID %d in %d s, all from %s (%s)", from[src], k.VRID, secs, holder, src))
		}
	}
	return out
}

func addrOwner(lab *topology.Lab, a netip.Addr) string {
	for _, n := range lab.Nodes {
		if n.HasAddress(a) {
			return " (" + n.Name + ")"
		}
	}
	return ""
}

// vrrpRequests is how many requests verify sends through a VRRP-only VIP.
const vrrpRequests = 6

// vrrpServiceReport verifies a VRRP-only service: one holder, the client
// resolves the VIP to it, and every request through the VIP is answered
// by the holder's own page (the MASTER serves the VIP itself).
func vrrpServiceReport(ctx context.Context, lab *topology.Lab, s *topology.Service, client *topology.Node, cx guest.Executor, dial guest.Dialer, mapper *Mapper, opts Options) *ServiceReport {
	sr := &ServiceReport{Name: s.Name, Mode: s.Mode, URL: URL(s.VIP.String(), s.Port), Counts: map[string]int{}, Sequence: []string{}}
	v := SettledVRRP(ctx, lab, s, dial, opts.VRRPSettle)
	sr.Checks = append(sr.Checks, holderCheck(s, v))
	holder := v.Holder()
	replies, took, err := Probe(ctx, cx, opts.Prober, []string{sr.URL}, nil, vrrpRequests, min(opts.Timeout, 60*time.Second))
	sr.Seconds = took.Seconds()
	name := "requests through " + s.VIP.String() + " answered by the master"
	switch {
	case err != nil:
		sr.Checks = append(sr.Checks, failf(name, "%v", err))
	default:
		var wrong []string
		for i := range replies {
			r := &replies[i]
			if r.OK() {
				r.Node = mapper.Node(r.Body)
			}
			sr.Replies = append(sr.Replies, *r)
			if !r.OK() {
				sr.Failures++
				sr.Sequence = append(sr.Sequence, "!")
				continue
			}
			sr.Counts[r.Node]++
			sr.Sequence = append(sr.Sequence, r.Node)
			if r.Node != holder || holder == "" {
				wrong = append(wrong, fmt.Sprintf("#%d by %q", r.Index, r.Node))
			}
		}
		switch {
		case sr.Failures > 0:
			sr.Checks = append(sr.Checks, failf(name, "%d of %d requests failed: the master does not serve port %d (is its web server running?)", sr.Failures, len(replies), s.Port))
		case len(wrong) > 0:
			sr.Checks = append(sr.Checks, failf(name, "%s, not the master %s: the VIP answers from another node", strings.Join(wrong, ", "), holder))
		default:
			sr.Checks = append(sr.Checks, passf(name, "%d of %d answered by %s", len(replies), len(replies), holder))
		}
	}
	sr.Checks = append(sr.Checks, vrrpARPCheck(ctx, lab, s, holder, client, cx))
	sr.Checks = append(sr.Checks, advertChecks(ctx, lab, s, v, dial)...)
	return sr
}

// keepalivedChecks are an IPVS service's VRRP checks, run after its
// request loop (the client has resolved the VIP by then).
func keepalivedChecks(ctx context.Context, lab *topology.Lab, s *topology.Service, v VRRPState, client *topology.Node, cx guest.Executor, dial guest.Dialer) []report.Check {
	out := []report.Check{holderCheck(s, v), vrrpARPCheck(ctx, lab, s, v.Holder(), client, cx)}
	out = append(out, routerTableChecks(ctx, lab, s, v, dial)...)
	return append(out, advertChecks(ctx, lab, s, v, dial)...)
}
