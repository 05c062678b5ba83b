package catalog

import (
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/rolestest"
)

// The seed's files are the steps' own files, so a first configure after the
// first boot compares them and changes nothing.
func TestFirstBootFilesAreStepFiles(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-nat")
	for _, node := range lab.Nodes {
		files, cmds := FirstBoot(roles.DesiredFor(lab, node))
		steps := Steps(roles.DesiredFor(lab, node), Debian)
		for _, f := range files {
			i := slices.IndexFunc(steps, func(s Step) bool { return s.File != nil && s.File.Path == f.Path })
			if i < 0 {
				t.Errorf("%s: first boot writes %s, which no step writes", node.Name, f.Path)
				continue
			}
			if *steps[i].File != f {
				t.Errorf("%s: %s differs from step %q's file", node.Name, f.Path, steps[i].Name)
			}
		}
		switch node.Name {
		case "lvs1":
			want := []string{"sysctl -q -p " + SysctlFile, "ipvsadm-restore < " + DebianRulesFile}
			for _, w := range want {
				if !slices.Contains(cmds, w) {
					t.Errorf("lvs1 first boot commands %q lack %q", cmds, w)
				}
			}
			if !strings.Contains(strings.Join(cmds, "\n"), "multi-user.target.wants/"+IPVSUnit) {
				t.Errorf("lvs1 first boot does not enable %s: %q", IPVSUnit, cmds)
			}
		case "web1":
			if !slices.ContainsFunc(files, func(f File) bool { return strings.HasSuffix(f.Path, "index.html") }) {
				t.Error("web1's first boot does not write its page")
			}
		}
	}
}
