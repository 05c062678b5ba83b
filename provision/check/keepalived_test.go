package check

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/roles/keepalived"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// kaNode is what a keepalived node's probe reads, as a test sets it.
type kaNode struct {
	test, conf, data, addrs string
	units, files, fw        []string
	ipvs                    string
}

func healthyKA(t *testing.T, st *roles.NodeState, state string, vrid, prio int, holds bool) *kaNode {
	t.Helper()
	n := &kaNode{
		test:  "rc=0\n",
		conf:  st.Keepalived,
		units: []string{"keepalived active enabled", catalog.IPVSUnit + " inactive disabled", "ipvsadm inactive disabled"},
		data:  fmt.Sprintf("------< VRRP Topology >------\n VRRP Instance = VI_1\n   VRRP Version = 2\n   State = %s\n   Virtual Router ID = %d\n   Priority = %d\n   Effective priority = %d\n", state, vrid, prio, prio),
		addrs: "2: eth0    inet " + st.NICs[0].Address.String() + " brd x scope global eth0\n",
	}
	if holds {
		n.addrs += "2: eth0    inet 192.168.4.15/24 scope global secondary eth0\n"
	}
	return n
}

func judgeKA(t *testing.T, node string, n *kaNode) []Fact {
	t.Helper()
	lab := rolestest.Lab(t, "tedu-keepalived-dr")
	st := rolestest.State(t, lab, node)
	s := newSubject(lab, st, catalog.Debian, "tedu-keepalived-dr")
	var mine []*keepalived.Instance
	for _, in := range keepalived.Instances(lab) {
		if in.Keepalived.Router(node) != nil {
			mine = append(mine, in)
		}
	}
	facts, _ := s.judgeKeepalived(mine, n.test, n.conf, n.units, n.data, n.addrs, n.files, n.fw)
	return facts
}

func failedKA(facts []Fact) []string {
	var out []string
	for _, f := range facts {
		if f.Status == report.Fail {
			out = append(out, f.Name)
		}
	}
	return out
}

// The lab's own keepalived.conf, running as the lab says, passes every
// fact; each classic mistake fails its own fact, with why and a fix.
func TestKeepalivedFacts(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-keepalived-dr")
	lvs1, lvs2 := rolestest.State(t, lab, "lvs1"), rolestest.State(t, lab, "lvs2")
	if f := failedKA(judgeKA(t, "lvs1", healthyKA(t, lvs1, "MASTER", 51, 100, true))); len(f) > 0 {
		t.Errorf("healthy master fails %v", f)
	}
	open := healthyKA(t, lvs1, "MASTER", 51, 100, true)
	open.units = append(open.units, "firewalld active enabled")
	open.fw = []string{"type filter hook input priority filter; policy drop;", "ip protocol vrrp accept"}
	if f := failedKA(judgeKA(t, "lvs1", open)); len(f) > 0 {
		t.Errorf("a firewall that accepts vrrp fails %v", f)
	}
	if f := failedKA(judgeKA(t, "lvs2", healthyKA(t, lvs2, "BACKUP", 51, 50, false))); len(f) > 0 {
		t.Errorf("healthy backup fails %v", f)
	}
	for _, tc := range []struct {
		name, node, fact, hint string
		break_                 func(n *kaNode)
	}{
		{"config error", "lvs1", "keepalived.conf parses", "nb_get_retry", func(n *kaNode) {
			n.test = "Unknown keyword 'nb_get_retry'\nrc=1\n"
		}},
		{"stopped", "lvs1", "keepalived running and enabled", "systemctl enable --now keepalived", func(n *kaNode) {
			n.units[0] = "keepalived inactive disabled"
		}},
		{"vrid differs", "lvs2", "vrrp_instance VRID 51", "share virtual_router_id 51", func(n *kaNode) {
			n.conf = strings.Replace(n.conf, "virtual_router_id 51", "virtual_router_id 52", 1)
		}},
		{"priority equal", "lvs2", "vrrp_instance VRID 51", "higher priority (100)", func(n *kaNode) {
			n.conf = strings.Replace(n.conf, "priority 50", "priority 100", 1)
		}},
		{"fault", "lvs2", "instance state VRID 51", "FAULT", func(n *kaNode) {
			n.data = strings.Replace(n.data, "State = BACKUP", "State = FAULT", 1)
		}},
		{"VIP by hand on the backup", "lvs2", "no VIP added by hand", "both answer ARP", func(n *kaNode) {
			n.addrs += "2: eth0    inet 192.168.4.15/24 scope global secondary eth0:0\n"
		}},
		{"VIP in a network file", "lvs2", "no VIP added by hand", "from the file", func(n *kaNode) {
			n.files = []string{"/etc/systemd/network/10-lvslab-eth0.network"}
		}},
		{"vrrp_strict", "lvs1", "no vrrp_strict", "drop every packet to the VIP", func(n *kaNode) {
			n.conf = strings.Replace(n.conf, "router_id lvs1", "router_id lvs1\n    vrrp_strict", 1)
		}},
		{"firewall drops vrrp", "lvs2", "VRRP not dropped by a firewall", "split brain", func(n *kaNode) {
			n.fw = []string{"-A INPUT -p vrrp -j DROP"}
		}},
		{"input policy drop", "lvs1", "VRRP not dropped by a firewall", "split brain", func(n *kaNode) {
			n.fw = []string{"type filter hook input priority filter; policy drop;"}
		}},
		{"firewalld", "lvs2", "VRRP not dropped by a firewall", "split brain", func(n *kaNode) {
			n.units = append(n.units, "firewalld active enabled")
		}},
		{"no checker", "lvs1", "health checks of virtual_server 192.168.4.15 80", "dead web server keeps its share", func(n *kaNode) {
			n.conf = strings.Replace(n.conf, "TCP_CHECK", "MISC_NONE", 1)
		}},
		{"rules restored at boot", "lvs1", "no IPVS rules restored at boot", "keepalived programs the table itself", func(n *kaNode) {
			n.units[1] = catalog.IPVSUnit + " active enabled"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := rolestest.State(t, lab, tc.node)
			n := healthyKA(t, st, map[string]string{"lvs1": "MASTER", "lvs2": "BACKUP"}[tc.node], 51, map[string]int{"lvs1": 100, "lvs2": 50}[tc.node], tc.node == "lvs1")
			tc.break_(n)
			facts := judgeKA(t, tc.node, n)
			found := false
			for _, f := range facts {
				if f.Name != tc.fact {
					continue
				}
				found = true
				if f.Status != report.Fail || !strings.Contains(f.Hint, tc.hint) || f.Fix == "" {
					t.Errorf("%s: %s, hint %q (want %q), fix %q", f.Name, f.Status, f.Hint, tc.hint, f.Fix)
				}
			}
			if !found {
				t.Errorf("no fact %q in %v", tc.fact, facts)
			}
			if f := failedKA(facts); len(f) != 1 {
				t.Errorf("failed %v, want only %q", f, tc.fact)
			}
		})
	}
}

// kaExec answers the keepalived probe with a kaNode.
type kaExec struct{ n *kaNode }

func (x kaExec) Run(_ context.Context, script string) (string, error) {
	_, marker, secs, ok := guest.ReadScript(script)
	if !ok {
		return "", fmt.Errorf("not a probe")
	}
	var b strings.Builder
	for _, sec := range secs {
		b.WriteString(guest.Frame(marker, sec.Name))
		switch sec.Name {
		case kaSecTest:
			b.WriteString(x.n.test)
		case kaSecConf:
			b.WriteString(x.n.conf)
		case kaSecUnits:
			b.WriteString(strings.Join(x.n.units, "\n") + "\n")
		case kaSecData:
			b.WriteString(x.n.data)
		case kaSecAddr:
			b.WriteString(x.n.addrs)
		case kaSecFiles:
			b.WriteString(strings.Join(x.n.files, "\n"))
		case kaSecFW:
			b.WriteString(strings.Join(x.n.fw, "\n"))
		case kaSecIPVS:
			b.WriteString(x.n.ipvs)
		}
	}
	return b.String(), nil
}

func (kaExec) ReadFile(context.Context, string) ([]byte, bool, error) { return nil, false, nil }
func (kaExec) WriteFile(context.Context, string, []byte, fs.FileMode) error {
	return fmt.Errorf("read-only")
}

// Across routers: exactly one MASTER; two (VRRP dropped between them)
// fail on both, with why.
func TestKeepalivedOneMaster(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-keepalived-dr")
	states := roles.Desired(lab)
	for _, both := range []bool{false, true} {
		nodes := map[string]*kaNode{}
		reports := make([]NodeReport, len(states))
		for i, st := range states {
			reports[i] = NodeReport{Node: st.Name, OS: catalog.Debian}
			switch st.Name {
			case "lvs1":
				nodes[st.Name] = healthyKA(t, st, "MASTER", 51, 100, true)
			case "lvs2":
				state := map[bool]string{false: "BACKUP", true: "MASTER"}[both]
				nodes[st.Name] = healthyKA(t, st, state, 51, 50, both)
			}
		}
		dial := func(node string) (guest.Executor, error) { return kaExec{nodes[node]}, nil }
		keepalivedFacts(context.Background(), lab, dial, states, reports, "tedu-keepalived-dr")
		for _, r := range reports {
			if r.Node != "lvs1" && r.Node != "lvs2" {
				if len(r.Facts) > 0 {
					t.Errorf("%s: keepalived facts on a node without keepalived", r.Node)
				}
				continue
			}
			var one *Fact
			for i := range r.Facts {
				if r.Facts[i].Name == "one MASTER of VI_1 (VRID 51)" {
					one = &r.Facts[i]
				}
			}
			switch {
			case one == nil:
				t.Errorf("%s: no one-MASTER fact", r.Node)
			case both && (one.Status != report.Fail || !strings.Contains(one.Hint, "split brain")):
				t.Errorf("%s with two masters: %+v", r.Node, one)
			case !both && one.Status != report.Pass:
				t.Errorf("%s: %+v", r.Node, one)
			}
		}
	}
}

// The director's live table: keepalived's, a health check's removal named,
// a rule by hand failed.
func TestKeepalivedTableFacts(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-keepalived-dr")
	st := rolestest.State(t, lab, "lvs2")
	s := newSubject(lab, st, catalog.Debian, "tedu-keepalived-dr")
	full := ipvs.Rules(st.IPVS)
	for _, tc := range []struct {
		saved, got string
		ok         bool
	}{
		{full, "as keepalived.conf", true},
		{strings.Replace(full, "-a -t 192.168.4.15:80 -r 192.168.4.100:80 -g -w 1\n", "", 1), "taken out by the health check: 192.168.4.100:80", true},
		{full + "-a -t 192.168.4.15:80 -r 192.168.4.99:80 -g -w 1\n", "192.168.4.99:80 is a real server keepalived.conf does not have", false},
	} {
		f := s.keepalivedTableFacts(tc.saved)
		if len(f) != 1 || (f[0].Status == report.Pass) != tc.ok || !strings.Contains(f[0].Got, tc.got) {
			t.Errorf("%q: %+v", tc.saved, f)
		}
	}
}
