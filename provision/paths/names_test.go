package paths

import (
	"strings"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
)

func TestBridgeNameShortStableDistinct(t *testing.T) {
	seen := map[string]string{}
	for _, name := range labs.Names() {
		lab := mustLab(t, name)
		for _, nw := range lab.Networks {
			b := BridgeName(lab, nw)
			if len(b) > 15 {
				t.Errorf("%s/%s: bridge %q is %d characters, the kernel allows 15", lab.Name, nw.Name, b, len(b))
			}
			if again := BridgeName(mustLab(t, name), nw); again != b {
				t.Errorf("%s/%s: bridge name not stable: %q then %q", lab.Name, nw.Name, b, again)
			}
			key := lab.Name + "/" + nw.Name
			if other, ok := seen[b]; ok && other != key {
				t.Errorf("bridge %q used by %s and %s", b, other, key)
			}
			seen[b] = key
		}
	}
	// The longest lab name (20) with many networks stays within 15.
	if b := topology.DerivedBridge(strings.Repeat("x", 20), 99); len(b) > 15 {
		t.Errorf("%q too long", b)
	}
	// A lab's own bridge name wins.
	lab := mustLab(t, "tedu-nat")
	nw := *lab.Networks[0]
	nw.Bridge = "virbr7"
	if b := BridgeName(lab, &nw); b != "virbr7" {
		t.Errorf("explicit bridge ignored: %q", b)
	}
}

func TestVolumeNamesUnambiguous(t *testing.T) {
	for _, c := range []struct{ lab, node string }{{"tedu", "x-web1"}, {"tedu-x", "web1"}} {
		for _, v := range []string{OverlayVolume(c.lab, c.node), SeedVolume(c.lab, c.node)} {
			lab, node, ok := VolumeOwner(v)
			if !ok || lab != c.lab || node != c.node {
				t.Errorf("VolumeOwner(%q) = %q, %q, %v; want %q, %q", v, lab, node, ok, c.lab, c.node)
			}
		}
	}
	for _, v := range []string{"debian.qcow2", "my-disk.img", "a_b_c.qcow2", "_x.qcow2", "x_.seed.iso"} {
		if lab, node, ok := VolumeOwner(v); ok {
			t.Errorf("VolumeOwner(%q) claims %q/%q", v, lab, node)
		}
	}
}

var mustLab = rolestest.Lab
