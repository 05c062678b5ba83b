// Package rolestest holds what the tests of roles, its subpackages and the
// provision packages share: loading an embedded lab (and giving it the
// classroom's host addresses) and a node's desired state.
package rolestest

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/topology"
)

// Lab loads an embedded lab.
func Lab(t testing.TB, name string) *topology.Lab {
	t.Helper()
	lab, err := labs.Load(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return lab
}

// State is a node's desired state.
func State(t testing.TB, lab *topology.Lab, node string) *roles.NodeState {
	t.Helper()
	n := lab.Node(node)
	if n == nil {
		t.Fatalf("lab %s has no node %s", lab.Name, node)
	}
	return roles.DesiredFor(lab, n)
}

// Eq fails the test when got and want differ.
func Eq(t testing.TB, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

// RichLab uses what the embedded labs leave out: a real-server port,
// persistence, thresholds, a UDP service on the same VIP.
const RichLab = `
name: rich
networks:
  outside: {cidr: 10.0.0.0/24}
  inside: {cidr: 10.0.1.0/24}
nodes:
  dir:
    role: director
    nics:
      eth0: {network: outside, address: 10.0.0.5/24}
      eth1: {network: inside, address: 10.0.1.5/24}
  w1:
    role: web
    nics:
      eth0: {network: inside, address: 10.0.1.11/24}
    gateway: 10.0.1.5
  w2:
    role: web
    nics:
      eth0: {network: inside, address: 10.0.1.12/24}
    gateway: 10.0.1.5
services:
  - vip: 10.0.0.100
    vip_prefix: 24
    port: 80
    mode: nat
    scheduler: wrr
    persistence: 600
    real_servers:
      - {node: w1, port: 8080, weight: 3, upper: 100, lower: 10}
      - {node: w2}
  - vip: 10.0.0.100
    port: 53
    protocol: udp
    mode: nat
    scheduler: sh
    real_servers:
      - {node: w1}
`

// WithClassroomHosts gives every lab network the classroom's host
// address, .254.
func WithClassroomHosts(lab *topology.Lab) *topology.Lab {
	for _, nw := range lab.Networks {
		a := nw.CIDR.Addr().As4()
		a[3] = 254
		nw.Host = netip.AddrFrom4(a)
	}
	return lab
}

// Budget is the most a node may cost (processes started, commands named),
// by lab and role.
type Budget map[string]map[string]int

// Within counts, on the first node of each role of each lab in b, what
// count says it costs (how much, and the list it counted, for the log), and
// fails the test where that is over the node's budget; what names the
// count in the messages ("processes the survey starts").
func (b Budget) Within(t *testing.T, what string, count func(t *testing.T, lab *topology.Lab, node string) (int, []string)) {
	t.Helper()
	for name, budgets := range b {
		lab := Lab(t, name)
		for role, budget := range budgets {
			node := lab.NodesWithRole(role)[0].Name
			n, counted := count(t, lab, node)
			t.Logf("%s %s (%s): %d %s %v", name, role, node, n, what, counted)
			if n > budget {
				t.Errorf("%s %s (%s): %d %s %v, over its budget of %d", name, role, node, n, what, counted, budget)
			}
		}
	}
}
