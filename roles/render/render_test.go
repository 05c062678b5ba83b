package render

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology/testkit/golden"
)

// TestGolden compares the plans of every embedded lab with
// testdata/plan/<lab>.<os>.<format>; go test ./roles/render -run Golden -update
// rewrites them.
func TestGolden(t *testing.T) {
	for _, name := range labs.Names() {
		lab := rolestest.Lab(t, name)
		for _, osf := range catalog.OSFamilies {
			plan := Plan(lab, osf)
			for _, format := range []string{FormatText, FormatScript} {
				got, err := plan.Render(format)
				if err != nil {
					t.Fatal(err)
				}
				golden.Check(t, filepath.Join("testdata", "plan", name+"."+osf+"."+format), got)
			}
		}
	}
}

func TestPlanJSON(t *testing.T) {
	out, err := Plan(rolestest.Lab(t, "tedu-nat"), catalog.Debian).Render(FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"node": "lvs1"`, `"path": "/etc/ipvsadm.rules"`, `"scheduler": "rr"`, `"readdress": true`} {
		if !strings.Contains(out, want) {
			t.Errorf("json lacks %s", want)
		}
	}
	if _, err := Plan(rolestest.Lab(t, "tedu-nat"), catalog.Debian).Render("yaml"); err == nil {
		t.Error("unknown format: no error")
	}
}
