package check

import (
	"slices"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
)

// probeBudget is how many processes the probe of a node may start, by
// lab and role: under TCG each costs 35-200 ms, and a student checks
// after every change. Before the one grep it was 11-17 (and a second
// round trip for /etc/os-release). A director's count includes the grep of
// the rules files its enabled units restore (only when there is one).
var probeBudget = rolestest.Budget{
	"tedu-nat": {topology.RoleClient: 2, topology.RoleDirector: 5, topology.RoleWeb: 4},
	"tedu-dr":  {topology.RoleClient: 2, topology.RoleDirector: 6, topology.RoleWeb: 4},
}

// The probe of a node starts few processes, whatever its OS.
func TestProbeProcessBudget(t *testing.T) {
	probeBudget.Within(t, "processes the probe starts", func(t *testing.T, lab *topology.Lab, node string) (int, []string) {
		cmds := probeCommands(t, rolestest.State(t, lab, node))
		return len(cmds), cmds
	})
}

// probeCommands lists the commands of a node's probe that start a
// process: not the shell's builtins.
func probeCommands(t *testing.T, st *roles.NodeState) []string {
	t.Helper()
	file, err := syntax.NewParser().Parse(strings.NewReader(newProbe(st).build().Script()), "")
	if err != nil {
		t.Fatal(err)
	}
	builtins := []string{"printf", "echo", "[", "test", "true", ":", "read", "set", "exit", "continue"}
	var out []string
	syntax.Walk(file, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok && len(c.Args) > 0 {
			if w := c.Args[0].Lit(); !slices.Contains(builtins, w) {
				out = append(out, w)
			}
		}
		return true
	})
	return out
}
