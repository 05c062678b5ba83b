package main

import (
	"strings"
	"testing"
	"time"
)

// TestFeaturesE2E brings up the labs of the references' features beyond
// NAT and DR with apache (make e2e-features): dr-nginx, whose real servers
// run nginx from lvslab's image, must come up and verify; dr-fwmark's
// firewall-mark service (ports 80 and 443 as one -f 1 service) and its UDP
// service must verify, the marks and the UDP responders come back after
// a reboot of the director and a real server.
func TestFeaturesE2E(t *testing.T) { sandboxed(t, "TestFeaturesE2EInner") }

func TestFeaturesE2EInner(t *testing.T) {
	e := insideSandbox(t, "TestFeaturesE2E")
	e.phase("up dr-nginx", func() { e.must("up", "dr-nginx") })
	nodes := e.nodes("dr-nginx")
	e.phase("dr-nginx: nginx serves, apache2 is off", func() {
		for _, web := range []string{"srv03", "srv04"} {
			out, ok := nodes.sh(web, "systemctl is-active nginx apache2; true")
			if !ok || strings.Fields(out)[0] != "active" || strings.Fields(out)[1] == "active" {
				t.Errorf("%s: nginx, apache2: %q", web, out)
			}
		}
	})
	e.phase("verify dr-nginx rr", func() {
		if got := e.verify("dr-nginx", 0).Services[0].Counts; got["srv03"] != 6 || got["srv04"] != 6 {
			t.Errorf("dr-nginx rr over 12 requests: want 6/6, got %v", got)
		}
	})
	e.phase("drill on nginx: fail, heal, restore srv03", func() {
		for _, step := range []string{"fail", "heal", "restore"} {
			e.must("drill", step, "srv03", "--lab", "dr-nginx")
		}
	})
	e.phase("down dr-nginx", func() { e.must("down", "dr-nginx") })
	fwmarkAndUDP(e)
}

// fwmarkAndUDP: dr-fwmark up, both services verified (one rr cycle over
// ports 80 and 443; datagrams to UDP 53 answered from the VIP), check
// passing on the director (the marks), then srv01 and srv03 rebooted and
// everything verified again, down.
func fwmarkAndUDP(e *e2e) {
	t := e.t
	e.phase("up dr-fwmark", func() { e.must("up", "dr-fwmark") })
	nodes := e.nodes("dr-fwmark")
	judge := func(when string) {
		r := e.verify("dr-fwmark", 0)
		if len(r.Services) != 2 {
			t.Fatalf("%s: verify dr-fwmark: %d services, want web and dns", when, len(r.Services))
		}
		for _, s := range r.Services {
			if s.Counts["srv03"] != 6 || s.Counts["srv04"] != 6 || s.Failures != 0 {
				t.Errorf("%s: %s rr over 12 requests: want 6/6, got %v (failures %d)", when, s.Name, s.Counts, s.Failures)
			}
		}
		if r.Services[0].URL != "http://172.16.42.111/ http://172.16.42.111:443/" || r.Services[1].URL != "udp://172.16.42.111:53" {
			t.Errorf("%s: verify asked %q and %q", when, r.Services[0].URL, r.Services[1].URL)
		}
	}
	e.phase("verify dr-fwmark: -f 1 over 80+443, -u 53", func() { judge("after up") })
	e.phase("dr-fwmark: marks and replies from the VIP", func() {
		out, _ := nodes.sh("srv01", "nft list table ip lvslab; ipvsadm -Ln")
		for _, want := range []string{"ip daddr 172.16.42.111 tcp dport { 80, 443 } meta mark set 0x00000001", "FWM  1 rr", "UDP  172.16.42.111:53 rr"} {
			if !strings.Contains(out, want) {
				t.Errorf("director lacks %q:\n%s", want, out)
			}
		}
		// The client's own look at the source of a reply datagram.
		out, _ = nodes.sh("client", "exec 3<>/dev/udp/172.16.42.111/53; printf q >&3; timeout 3 dd bs=65536 count=1 <&3 2>/dev/null; ss -Hun dst 172.16.42.111")
		if !strings.Contains(out, "srv0") {
			t.Errorf("no UDP reply from the VIP: %q", out)
		}
		e.must("check", "dr-fwmark", "--node", "srv01")
	})
	e.phase("reboot srv01 and srv03, verify again", func() {
		for _, node := range []string{"srv01", "srv03"} {
			nodes.sh(node, "systemctl reboot") // the session dies with the reboot
		}
		time.Sleep(5 * time.Second)
		for _, node := range []string{"srv01", "srv03"} {
			nodes.waitSSH(t, node, 5*time.Minute)
		}
		judge("after the reboot")
	})
	e.phase("down dr-fwmark", func() { e.must("down", "dr-fwmark") })
}
