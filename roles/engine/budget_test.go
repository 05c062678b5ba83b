package engine

import (
	"context"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
)

// surveyBudget is how many processes the survey of a converged Debian node
// may start, by lab and role: under TCG each costs 35-200 ms, and the
// survey runs on every up. Set from the count when the checks were last
// made cheaper, so that any check that starts more shows here.
var surveyBudget = rolestest.Budget{
	"tedu-nat":            {topology.RoleClient: 6, topology.RoleDirector: 8, topology.RoleWeb: 7},
	"tedu-dr":             {topology.RoleClient: 6, topology.RoleDirector: 8, topology.RoleWeb: 7},
	"tedu-keepalived-dr":  {topology.RoleDirector: 6, topology.RoleWeb: 7},
	"tedu-keepalived-web": {topology.RoleWeb: 7},
}

// The survey of a converged node starts few processes.
func TestSurveyProcessBudget(t *testing.T) {
	SettleAttempts = 1
	surveyBudget.Within(t, "processes the survey started", func(t *testing.T, lab *topology.Lab, node string) (int, []string) {
		st := rolestest.State(t, lab, node)
		g := newGuest(st)
		configureState(t, g, st, lab.Name)
		g.procs = 0
		res, err := Survey(context.Background(), g, catalog.Steps(st, catalog.Debian))
		if err != nil || res.Changed() {
			t.Fatalf("%s %s: the survey of a converged node: %v, changed %v", lab.Name, node, err, res.ChangedSteps())
		}
		return g.procs, nil
	})
}

// rhelSurveyBudget is how many commands the survey of a RHEL node names,
// by lab and role: the simulated guest models Debian only, so RHEL's
// survey is counted in its text (every branch, an upper bound of the
// processes it starts). Set like surveyBudget; each counts the 2 commands
// (timeout, systemctl) of the wait for a booting node's last units, which
// run only while a unit it checks is starting or stopping.
var rhelSurveyBudget = rolestest.Budget{
	"tedu-nat":            {topology.RoleClient: 11, topology.RoleDirector: 17, topology.RoleWeb: 13},
	"tedu-dr":             {topology.RoleClient: 11, topology.RoleDirector: 15, topology.RoleWeb: 13},
	"tedu-keepalived-dr":  {topology.RoleDirector: 14, topology.RoleWeb: 13},
	"tedu-keepalived-web": {topology.RoleWeb: 13},
}

// The survey of a RHEL node names few commands.
func TestRHELSurveyCommandBudget(t *testing.T) {
	rhelSurveyBudget.Within(t, "commands the survey names on RHEL", func(t *testing.T, lab *topology.Lab, node string) (int, []string) {
		cmds := surveyCommands(t, catalog.Steps(rolestest.State(t, lab, node), catalog.RHEL))
		return len(cmds), cmds
	})
}

// surveyCommands lists the commands a node's survey script names that
// start a process: not the shell's builtins, nor the unit tests the
// prelude's function answers; a check's helper counts the commands of its
// body at each call.
func surveyCommands(t *testing.T, steps []catalog.Step) []string {
	t.Helper()
	file, err := syntax.NewParser().Parse(strings.NewReader(surveyProbe(steps, 0, false).Script()), "")
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]*syntax.FuncDecl{}
	syntax.Walk(file, func(n syntax.Node) bool {
		if f, ok := n.(*syntax.FuncDecl); ok {
			funcs[f.Name.Value] = f
		}
		return true
	})
	var out []string
	var count func(syntax.Node)
	count = func(node syntax.Node) {
		syntax.Walk(node, func(n syntax.Node) bool {
			switch n := n.(type) {
			case *syntax.FuncDecl:
				return false // counted where it is called
			case *syntax.CallExpr:
				if len(n.Args) == 0 {
					return true
				}
				name := n.Args[0].Lit()
				if name == "" || interp.IsBuiltin(name) || unitRe.MatchString(strings.Join(callWords(n), " ")) {
					return true
				}
				if f, ok := funcs[name]; ok && name != "systemctl" {
					count(f.Body)
					return true
				}
				out = append(out, name)
			}
			return true
		})
	}
	count(file)
	return out
}

func callWords(c *syntax.CallExpr) []string {
	var out []string
	for _, w := range c.Args {
		out = append(out, w.Lit())
	}
	return out
}
