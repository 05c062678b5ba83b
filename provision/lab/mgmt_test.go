package lab

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/host"
)

func TestCopiesWithTheSameAddressesCoexist(t *testing.T) {
	conn, opts := fresh(t)
	for _, name := range []string{"a", "b"} {
		lab := mustLab(t, "tedu-nat")
		lab.Name = name
		if _, err := Up(context.Background(), conn, lab, opts); err != nil {
			t.Fatalf("copy %s: %v", name, err)
		}
	}
	all, err := host.Discover(conn, "")
	if err != nil {
		t.Fatal(err)
	}
	a, b := all["a"], all["b"]
	if a == nil || b == nil || len(a.Domains) != 4 || len(b.Domains) != 4 {
		t.Fatalf("copies: %+v %+v", a, b)
	}
	// Each copy has its own management subnet; the lab networks of both
	// are isolated segments on bridges of their own.
	if a.MgmtSubnet() != "10.250.0.0/24" || b.MgmtSubnet() != "10.250.1.0/24" {
		t.Errorf("management subnets %q and %q", a.MgmtSubnet(), b.MgmtSubnet())
	}
	bridges := map[string]string{}
	for _, inv := range []*host.Inventory{a, b} {
		for _, n := range inv.Networks {
			if other, dup := bridges[n.Bridge]; dup {
				t.Errorf("%s and %s share bridge %s", other, n.Name, n.Bridge)
			}
			bridges[n.Bridge] = n.Name
			if !n.IsMgmt() && n.Host != "" {
				t.Errorf("lab network %s carries the host address %s", n.Name, n.Host)
			}
		}
	}
	// A second up of a copy keeps its subnet and addresses.
	again := mustLab(t, "tedu-nat")
	again.Name = "b"
	res, err := Up(context.Background(), conn, again, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 0 || res.Nodes[0].Addr != "10.250.1.10:22" {
		t.Errorf("second up of b: created %v, client1 on %s", res.Created, res.Nodes[0].Addr)
	}
}

func TestSameHostAddressNamesBothLabs(t *testing.T) {
	conn, opts := fresh(t)
	first := withClassroomHosts(mustLab(t, "tedu-nat"))
	if _, err := Up(context.Background(), conn, first, opts); err != nil {
		t.Fatal(err)
	}
	second := withClassroomHosts(mustLab(t, "tedu-nat"))
	second.Name = "b"
	_, err := Up(context.Background(), conn, second, opts)
	if err == nil {
		t.Fatal("two labs got the same host address")
	}
	for _, want := range []string{"lab b asks for the host address 192.168.4.254", "lab tedu", `remove "host:"`, "lvslab down tedu"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if inv, _ := host.DiscoverLab(conn, "", "b"); !inv.Empty() {
		t.Errorf("the refused copy left %+v", inv)
	}
}

func TestMgmtAllocation(t *testing.T) {
	conn := testConn(t)
	lab := mustLab(t, "tedu-nat")
	// The pool's first /24 overlaps a lab network: it is skipped.
	got, err := host.AllocateMgmt(conn, "192.168.4.0/23", lab)
	if err != nil || got != netip.MustParsePrefix("192.168.5.0/24") {
		t.Errorf("allocate from 192.168.4.0/23: %v %v", got, err)
	}
	if _, err := host.AllocateMgmt(conn, "192.168.4.0/24", lab); err == nil || !strings.Contains(err.Error(), "is full") {
		t.Errorf("a pool with no free /24: %v", err)
	}
	for _, bad := range []string{"10.250.0.0/25", "10.250.0.1/16", "fd00::/64", "nonsense"} {
		if _, err := host.AllocateMgmt(conn, bad, lab); err == nil || !strings.Contains(err.Error(), "--mgmt-pool") {
			t.Errorf("pool %q: %v", bad, err)
		}
	}
	subnet := netip.MustParsePrefix("10.250.3.0/24")
	if a, err := host.MgmtAddress(subnet, []string{"10.250.3.10", "10.250.3.11"}); err != nil || a.String() != "10.250.3.12" {
		t.Errorf("next free address: %v %v", a, err)
	}
}
