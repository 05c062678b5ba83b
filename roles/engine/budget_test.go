package engine

import (
	"context"
	"testing"

	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
)

// surveyBudget is how many processes the survey of a converged Debian node
// may start, by lab and role: under TCG each costs 35-200 ms, and the
// survey runs on every up. Set from the count when the checks were last
// made cheaper, so that any check that starts more shows here.
var surveyBudget = map[string]map[string]int{
	"tedu-nat": {topology.RoleClient: 6, topology.RoleDirector: 8, topology.RoleWeb: 8},
	"tedu-dr":  {topology.RoleClient: 6, topology.RoleDirector: 8, topology.RoleWeb: 8},
}

// The survey of a converged node starts few processes.
func TestSurveyProcessBudget(t *testing.T) {
	SettleAttempts = 1
	for lab, budgets := range surveyBudget {
		l := rolestest.Lab(t, lab)
		for role, budget := range budgets {
			node := l.NodesWithRole(role)[0].Name
			st := rolestest.State(t, l, node)
			g := newGuest(st)
			configureAs(t, g, lab, node)
			g.procs = 0
			res, err := Survey(context.Background(), g, catalog.Steps(st, catalog.Debian))
			if err != nil || res.Changed() {
				t.Fatalf("%s %s: the survey of a converged node: %v, changed %v", lab, node, err, res.ChangedSteps())
			}
			t.Logf("%s %s (%s): %d processes", lab, role, node, g.procs)
			if g.procs > budget {
				t.Errorf("%s %s (%s): the survey started %d processes, over its budget of %d", lab, role, node, g.procs, budget)
			}
		}
	}
}
