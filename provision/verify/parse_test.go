package verify

import (
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology/ipvs"
	"github.com/lvslab/lvslab/topology/testkit/cases"
)

func TestParseFactsAndNeigh(t *testing.T) {
	p := factsProbe()
	m := p.Marker()
	out := guest.Frame(m, secAddrs) + "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n" +
		"1: lo    inet 192.168.4.15/32 scope global lo:0\\       valid_lft forever\n" +
		"2: eth0    inet 192.168.4.100/24 brd 192.168.4.255 scope global eth0\\       valid_lft forever\n" +
		guest.Frame(m, secRoute) + "default via 192.168.4.254 dev eth0 proto static\n" +
		guest.Frame(m, secSysctl) + "/proc/sys/net/ipv4/conf/all/arp_ignore:1\n/proc/sys/net/ipv4/conf/eth0/arp_ignore:0\n" +
		"/proc/sys/net/ipv4/conf/all/arp_announce:0\n/proc/sys/net/ipv4/conf/eth0/arp_announce:2\n" +
		guest.Frame(m, guest.EndSection)
	a, err := p.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	f := ParseFacts(a)
	if dev, p := f.device("192.168.4.15"); dev != "lo" || p != "192.168.4.15/32" {
		t.Errorf("VIP on %s %s", dev, p)
	}
	if f.Gateway != "192.168.4.254" || f.GwDev != "eth0" {
		t.Errorf("route %s %s", f.Gateway, f.GwDev)
	}
	if f.effective("eth0", "arp_ignore") != 1 || f.effective("eth0", "arp_announce") != 2 || f.effective("lo", "arp_announce") != 0 {
		t.Errorf("sysctl %v", f.Sysctl)
	}
	empty, err := p.Parse(guest.Frame(m, secAddrs) + guest.Frame(m, secRoute) + guest.Frame(m, secSysctl) + guest.Frame(m, guest.EndSection))
	if err != nil {
		t.Fatal(err)
	}
	if f := ParseFacts(empty); f.Gateway != "" || len(f.Addrs) != 0 {
		t.Errorf("empty facts %v", f)
	}
	cases.Strings(t, "ParseNeigh", cases.First(ParseNeigh), map[string]string{
		"192.168.4.15 dev eth0 lladdr 52:54:00:0D:FB:79 REACHABLE\n": "52:54:00:0d:fb:79",
		"192.168.4.15 dev eth0 lladdr 52:54:00:aa:bb:cc STALE\n":     "52:54:00:aa:bb:cc",
		"192.168.4.15 dev eth0 FAILED\n":                             "",
		"":                                                           "",
	})
}

func TestJudgeDirect(t *testing.T) {
	two := []ipvs.NamedDest{{Name: "web2", Destination: ipvs.Destination{Weight: 2}}, {Name: "web1", Destination: ipvs.Destination{Weight: 1}}}
	e := ipvs.Expect("wrr", 0, two, 6, true)
	get := func(cs []report.Check, name string) report.Check {
		for _, c := range cs {
			if c.Name == name {
				return c
			}
		}
		return report.Check{}
	}
	cs := Judge(e, two, Observation{Counts: []int{4, 2}, Seq: []int{1, 0, 0, 1, 0, 0}})
	if get(cs, "shares").Status != report.Pass || get(cs, "sequence").Status != report.Pass {
		t.Errorf("wrr rotated: %+v", cs)
	}
	cs = Judge(e, two, Observation{Counts: []int{4, 2}, Seq: []int{0, 1, 0, 1, 0, 0}})
	if get(cs, "sequence").Status != report.Fail {
		t.Errorf("wrong order with right counts: %+v", cs)
	}
	cs = Judge(e, two, Observation{Counts: []int{3, 3}, Seq: []int{0, 1, 0, 1, 0, 1}})
	if get(cs, "shares").Status != report.Fail {
		t.Errorf("rr-like counts under wrr: %+v", cs)
	}
	cs = Judge(e, two, Observation{Counts: []int{4, 0}, Seq: []int{0, 0, -1, 0, 0, -1}, Unattributed: 2})
	if get(cs, "shares").Status != report.Skip || get(cs, "sequence").Status != report.Pass {
		t.Errorf("unattributed failures: %+v", cs)
	}
	cs = Judge(e, two, Observation{Counts: []int{0, 0}})
	if get(cs, "shares").Status != report.Fail {
		t.Errorf("nothing served: %+v", cs)
	}
	// weight 0 taking traffic
	z := []ipvs.NamedDest{{Name: "a", Destination: ipvs.Destination{Weight: 1}}, {Name: "b", Destination: ipvs.Destination{Weight: 0}}}
	cs = Judge(ipvs.Expect("rr", 0, z, 4, true), z, Observation{Counts: []int{3, 1}, Seq: []int{0, 1, 0, 0}})
	if get(cs, "weight 0 idle").Status != report.Fail {
		t.Errorf("weight 0 served: %+v", cs)
	}
	cs = Judge(ipvs.Expect("rr", 300, z, 4, true), z, Observation{Counts: []int{0, 4}})
	if c := get(cs, "weight 0 idle"); c.Status != report.Fail || !strings.Contains(c.Detail, "persistence templates") {
		t.Errorf("weight 0 with persistence: %+v", c)
	}
	// single-server schedulers
	cs = Judge(ipvs.Expect("sh", 0, two, 6, true), two, Observation{Counts: []int{0, 6}})
	if get(cs, "shares").Status != report.Pass {
		t.Errorf("sh one server: %+v", cs)
	}
	cs = Judge(ipvs.Expect("sh", 0, two, 6, true), two, Observation{Counts: []int{3, 3}})
	if get(cs, "shares").Status != report.Fail {
		t.Errorf("sh two servers: %+v", cs)
	}
	cs = Judge(ipvs.Expect("sed", 0, two, 6, true), two, Observation{Counts: []int{0, 6}})
	if c := get(cs, "shares"); c.Status != report.Fail || !strings.Contains(c.Detail, "would pick web2") {
		t.Errorf("sed must pick the heaviest: %+v", c)
	}
	// lc/wlc from a busy table: the invariant
	busy := []ipvs.NamedDest{{Name: "a", Destination: ipvs.Destination{Weight: 1, InactiveConnections: 10}}, {Name: "b", Destination: ipvs.Destination{Weight: 1}}}
	eb := ipvs.Expect("lc", 0, busy, 12, true)
	if c := get(Judge(eb, busy, Observation{Counts: []int{1, 11}}), "shares"); c.Status != report.Pass {
		t.Errorf("lc catching up: %+v", c)
	}
	if c := get(Judge(eb, busy, Observation{Counts: []int{6, 6}}), "shares"); c.Status != report.Fail {
		t.Errorf("lc ignoring the table: %+v", c)
	}
	wb := []ipvs.NamedDest{{Name: "a", Destination: ipvs.Destination{Weight: 2, InactiveConnections: 4}}, {Name: "b", Destination: ipvs.Destination{Weight: 1, InactiveConnections: 2}}}
	ew := ipvs.Expect("wlc", 0, wb, 6, true)
	if c := get(Judge(ew, wb, Observation{Counts: []int{4, 2}}), "shares"); c.Status != report.Pass {
		t.Errorf("wlc busy proportional: %+v", c)
	}
	if c := get(Judge(ew, wb, Observation{Counts: []int{0, 6}}), "shares"); c.Status != report.Fail {
		t.Errorf("wlc busy all to the light one: %+v", c)
	}
}
