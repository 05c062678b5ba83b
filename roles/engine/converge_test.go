package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/rolestest"
)

// configureAs applies a lab's steps for node to g, as up does.
func configureAs(t *testing.T, g *guest, lab, node string) {
	t.Helper()
	st := rolestest.State(t, rolestest.Lab(t, lab), node)
	if _, err := Apply(context.Background(), g, catalog.Steps(st, catalog.Debian), nil); err != nil {
		t.Fatalf("%s as %s: %v", node, lab, err)
	}
	res, err := Apply(context.Background(), g, catalog.Steps(st, catalog.Debian), nil)
	if err != nil || res.Changed() {
		t.Fatalf("%s as %s: a second run changes %v (%v)", node, lab, res.ChangedSteps(), err)
	}
}

// The in-place switch of the references: the same four VMs go NAT -> DR
// -> NAT with up, and after each switch every node is exactly what a
// freshly built lab of that kind is (files, kernel settings, addresses,
// links, units, IPVS table), nothing of the other lab left.
func TestUpConvergesBothWaysNATDRNAT(t *testing.T) {
	SettleAttempts = 1
	for _, st := range roles.Desired(rolestest.Lab(t, "tedu-nat")) {
		t.Run(st.Name, func(t *testing.T) {
			fresh := func(lab string) string {
				g := newGuest(st)
				configureAs(t, g, lab, st.Name)
				return g.state()
			}
			g := newGuest(st)
			for _, lab := range []string{"tedu-nat", "tedu-dr", "tedu-nat"} {
				configureAs(t, g, lab, st.Name)
				if got, want := g.state(), fresh(lab); got != want {
					t.Errorf("%s after switching to %s differs from a fresh one:\n%s", st.Name, lab, lineDiff(got, want))
				}
			}
		})
	}
}

// lineDiff lists the lines only one side has: "-" switched, "+" fresh.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var out []string
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
