package verify

import (
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/report"
)

// restoreReport is verify's report right after "drill restore web1": web1
// back in the table but served nothing.
func restoreReport(scheduler string, inTable bool) *Report {
	return &Report{Services: []*ServiceReport{{
		Name: "web", Scheduler: scheduler, Counts: map[string]int{"web2": 12},
		Servers: []ServerResult{
			{Node: "web2", Weight: 2, LabWeight: 2, InTable: true, Max: 8, Seen: 12},
			{Node: "web1", Weight: 1, LabWeight: 1, InTable: inTable, Max: 4, Seen: 0},
		},
	}}}
}

func restoredCheck(t *testing.T, r *Report) report.Check {
	t.Helper()
	for _, c := range DrillVerdict(DrillRestore, "web1", false, r) {
		if c.Name == "restored" {
			return c
		}
	}
	t.Fatal("no restored check")
	return report.Check{}
}

func TestDrillRestoreVerdicts(t *testing.T) {
	// wlc: the revived destination keeps the fail step's refused connection
	// as active for a while, so no request is no failure.
	if c := restoredCheck(t, restoreReport("wlc", true)); c.Status != "pass" || !strings.Contains(c.Detail, "expires") {
		t.Errorf("wlc restore with no request yet: %+v", c)
	}
	// rr promises web1 its turn at once.
	if c := restoredCheck(t, restoreReport("rr", true)); c.Status != "fail" {
		t.Errorf("rr restore with no request: %+v", c)
	}
	// Not back in the table is a failure whatever the scheduler.
	if c := restoredCheck(t, restoreReport("wlc", false)); c.Status != "fail" || !strings.Contains(c.Detail, "not back") {
		t.Errorf("restore with web1 missing from the table: %+v", c)
	}
}
