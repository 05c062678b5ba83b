package main

import (
	"strings"
	"testing"
)

// TestFeaturesE2E brings up the labs of the references' features beyond
// NAT and DR with apache (make e2e-features): dr-nginx, whose real servers
// run nginx from lvslab's image, must come up and verify.
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
}
