package verify

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/topology/ipvs"
	"github.com/lvslab/lvslab/topology/ipvs/ipvstest"
)

const (
	vipHeld    = "one VRRP master holds 192.168.4.15"
	vipARP     = "VIP ARP answered by the VRRP master"
	lvs1Table  = "lvs1's IPVS table is keepalived's"
	lvs2Table  = "lvs2's IPVS table is keepalived's"
	lvs2Hears  = "VRRP adverts heard on lvs2 come from the master only"
	webVIPHeld = "one VRRP master holds 192.168.4.80"
	webServed  = "requests through 192.168.4.80 answered by the master"
)

// A healthy tedu-keepalived-dr: lvs1 holds the VIP and answers its ARP,
// both tables are keepalived.conf's, lvs2 hears adverts from lvs1 only,
// and the scheduler's promise holds through the VIP as before.
func TestVerifyKeepalivedDR(t *testing.T) {
	w := newWorld(t, "tedu-keepalived-dr")
	r := run(t, w, Options{})
	if !r.Pass {
		t.Fatalf("a healthy keepalived lab must pass: %v", failed(r))
	}
	wantStatus(t, r, vipHeld, report.Pass, "lvs1 (priority 100) holds")
	wantStatus(t, r, vipARP, report.Pass, "lvs1's eth0")
	wantStatus(t, r, lvs1Table, report.Pass, "2 real server(s)")
	wantStatus(t, r, lvs2Table, report.Pass, "2 real server(s)")
	wantStatus(t, r, lvs2Hears, report.Pass, "3 advert(s) of VRID 51")
	if r.Director != "lvs1" {
		t.Errorf("director %s", r.Director)
	}
}

// Each keepalived check fails on its own mistake.
func TestVerifyKeepalivedMistakes(t *testing.T) {
	lvs1 := netip.MustParseAddr("192.168.4.5")
	lvs2 := netip.MustParseAddr("192.168.4.6")
	for _, tc := range []struct {
		name   string
		break_ func(w *world)
		check  string
		detail string
	}{
		{"split brain", func(w *world) {
			w.holders = []string{"lvs1", "lvs2"}
		}, vipHeld, "split brain"},
		{"nobody holds", func(w *world) { w.holders = []string{} }, vipHeld, "no router holds"},
		{"backup holds with preemption", func(w *world) { w.holders = []string{"lvs2"} }, vipHeld, "not the lab's MASTER lvs1"},
		{"client has the backup's MAC", func(w *world) {
			w.neighMAC = w.lab.Node("lvs2").NICs[0].MAC
		}, vipARP, "not the master lvs1"},
		{"backup's weight differs", func(w *world) {
			w.kernels["lvs2"].Services[0].Destinations[0].Weight = 5
		}, lvs2Table, "weight 5, keepalived.conf says 1"},
		{"hand rule on the backup", func(w *world) {
			d := w.kernels["lvs2"].Services[0].Destinations[0]
			d.Address = netip.MustParseAddr("192.168.4.99")
			w.kernels["lvs2"].Services[0].Destinations = append(w.kernels["lvs2"].Services[0].Destinations, d)
		}, lvs2Table, "keepalived.conf does not have"},
		{"backup scheduler", func(w *world) {
			w.kernels["lvs2"].Services[0].SchedName = "wlc"
		}, lvs2Table, "scheduler wlc"},
		{"no adverts", func(w *world) { w.adverts = []netip.Addr{} }, lvs2Hears, "no advert of VRID 51 reached lvs2"},
		{"adverts from both", func(w *world) { w.adverts = []netip.Addr{lvs1, lvs2} }, lvs2Hears, "192.168.4.6 (lvs2) (1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, "tedu-keepalived-dr")
			tc.break_(w)
			r := run(t, w, Options{})
			wantStatus(t, r, tc.check, report.Fail, tc.detail)
			if r.Pass {
				t.Error("the run passes")
			}
		})
	}
}

// A real server keepalived's health check has taken out is no table
// difference: it is named, and the promise is judged over the others.
func TestVerifyKeepalivedHealthCheckRemoval(t *testing.T) {
	w := newWorld(t, "tedu-keepalived-dr")
	for _, k := range []*ipvstest.Kernel{w.kernel, w.kernels["lvs2"]} {
		k.Services[0].Destinations = slices.DeleteFunc(k.Services[0].Destinations, func(d ipvs.Destination) bool { return d.Address.String() == "192.168.4.100" })
	}
	w.up["web1"] = false
	r := run(t, w, Options{})
	wantStatus(t, r, lvs1Table, report.Pass, "taken out by keepalived's TCP_CHECK: 192.168.4.100:80")
	wantStatus(t, r, lvs2Table, report.Pass, "taken out by keepalived's TCP_CHECK: 192.168.4.100:80")
	if !r.Pass {
		t.Errorf("web1 out by its health check: %v", failed(r))
	}
}

// After a failover the backup holds the VIP: verify reads its table and
// counters (it schedules every request).
func TestVerifyKeepalivedAfterFailover(t *testing.T) {
	w := newWorld(t, "tedu-keepalived-dr")
	w.holders = []string{"lvs2"}
	w.lab.Services[0].Keepalived.NoPreempt = true
	r := run(t, w, Options{})
	if r.Director != "lvs2" {
		t.Errorf("director %s, want the holder lvs2", r.Director)
	}
	wantStatus(t, r, vipHeld, report.Pass, "nopreempt")
	wantStatus(t, r, "VRRP adverts heard on lvs1 come from the master only", report.Pass, "from lvs2")
}

// tedu-keepalived-web: web1 holds 192.168.4.80 and serves it; no IPVS.
func TestVerifyKeepalivedWeb(t *testing.T) {
	w := newWorld(t, "tedu-keepalived-web")
	r := run(t, w, Options{})
	if !r.Pass {
		t.Fatalf("a healthy VRRP pair must pass: %v", failed(r))
	}
	wantStatus(t, r, webVIPHeld, report.Pass, "web1")
	wantStatus(t, r, webServed, report.Pass, "6 of 6 answered by web1")
	wantStatus(t, r, "VRRP adverts heard on web2 come from the master only", report.Pass, "from web1")

	w = newWorld(t, "tedu-keepalived-web")
	w.up["web1"] = false // keepalived holds the VIP, the web server is down
	r = run(t, w, Options{})
	wantStatus(t, r, webServed, report.Fail, "6 of 6 requests failed")

	w = newWorld(t, "tedu-keepalived-web")
	w.holders = []string{"web1", "web2"}
	r = run(t, w, Options{})
	wantStatus(t, r, webVIPHeld, report.Fail, "split brain")
}

// The advert dump is split by the IP header's total length.
func TestParseAdverts(t *testing.T) {
	src := netip.MustParseAddr("192.168.4.5")
	var b strings.Builder
	for _, prio := range []int{100, 0} {
		for _, c := range AdvertPacket(src, 51, prio, netip.MustParseAddr("192.168.4.15")) {
			b.WriteString(" " + hex2(c))
		}
	}
	got := ParseAdverts(b.String())
	if len(got) != 2 || got[0] != (Advert{src, 51, 100}) || got[1].Priority != 0 {
		t.Errorf("adverts %+v", got)
	}
	if got := ParseAdverts(" 45 00"); len(got) != 0 {
		t.Errorf("a short dump: %+v", got)
	}
	_ = ipvs.Service{}
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}
