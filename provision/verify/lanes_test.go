package verify

import (
	"net/netip"
	"testing"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/topology/ipvs"
)

func TestLabTrafficNeverUsesTheManagementNIC(t *testing.T) {
	for _, lab := range []string{"tedu-nat", "tedu-dr"} {
		w := newWorld(t, lab)
		r := run(t, w, Options{})
		for _, name := range []string{"requests from client1 to the VIP leave by a lab NIC", "replies from web1 to client1 leave by a lab NIC",
			"the director's connections come from lab addresses"} {
			if c := check(t, r, name); c.Status != report.Pass {
				t.Errorf("%s: %s: %+v", lab, name, c)
			}
		}
	}
	// web1 answers the client over mgmt0: the verdict fails and says so.
	w := newWorld(t, "tedu-nat")
	w.mgmtRoute["web1"] = true
	r := run(t, w, Options{})
	wantStatus(t, r, "replies from web1 to client1 leave by a lab NIC", report.Fail, "management NIC")
	if r.Pass {
		t.Error("verify passed with replies over the management NIC")
	}
	// A connection from a management address in the director's table.
	w = newWorld(t, "tedu-nat")
	w.kernel.Conns = append(w.kernel.Conns, ipvs.Conn{Protocol: "TCP", State: "ESTABLISHED",
		Source: netip.MustParseAddrPort("10.250.0.10:41000"), Virtual: netip.MustParseAddrPort("192.168.4.5:80"),
		Destination: netip.MustParseAddrPort("192.168.2.100:80")})
	r = run(t, w, Options{})
	wantStatus(t, r, "the director's connections come from lab addresses", report.Fail, "10.250.0.10")
}
