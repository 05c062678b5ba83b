package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology/testkit/golden"
	"github.com/lvslab/lvslab/topology/testkit/shtest"
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

// Every node's script of every embedded lab parses, on each OS family.
func TestScriptsParse(t *testing.T) {
	shtest.Need(t, "sh")
	for _, name := range labs.Names() {
		lab := rolestest.Lab(t, name)
		for _, osf := range catalog.OSFamilies {
			plan := Plan(lab, osf)
			for i := range plan.Nodes {
				shtest.Parses(t, name+" "+osf+" "+plan.Nodes[i].Node, plan.Nodes[i].Script(lab.Name))
			}
		}
	}
}

// lvslab_put makes its temporary file next to the target (a file made in
// /tmp and moved keeps /tmp's SELinux label: httpd answers 403) and lets
// restorecon relabel the result.
func TestScriptPutLabelsLikeItsDirectory(t *testing.T) {
	dir := t.TempDir()
	bin := shtest.Stubs(t, map[string]string{"restorecon": "echo \"$@\" >>" + filepath.Join(dir, "relabelled") + "\n"})
	target := filepath.Join(dir, "www", "index.html")
	script := scriptHeader + "\nlvslab_put " + target + " 0644 <<'E'\npage\nE\n"
	// No /tmp to fall back on: only a temporary file beside the target works.
	cmd := shtest.Command(script, "PATH="+bin+":/usr/bin:/bin", "TMPDIR="+filepath.Join(dir, "missing"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lvslab_put: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(target); string(got) != "page\n" {
		t.Errorf("target holds %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "relabelled")); string(got) != target+"\n" {
		t.Errorf("restorecon ran on %q, want %s", got, target)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "www", ".lvslab.*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// On a VM that is not lvslab's (other MACs), a Debian script stops before
// changing anything and says why.
func TestScriptChecksPreconditionsFirst(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-nat")
	n := Plan(lab, catalog.Debian).Nodes[0]
	script := n.Script("tedu")
	start := strings.Index(script, "# What this node must already be")
	if start < 0 || start > strings.Index(script, "# 1. ") {
		t.Fatalf("no precondition block before step 1:\n%s", script)
	}
	block := script[start : start+strings.Index(script[start:], "\n\n")]
	out, err := shtest.Command("set -eu\n" + block + "\necho reached").CombinedOutput()
	if err == nil || strings.Contains(string(out), "reached") || !strings.Contains(string(out), "lvslab: no NIC eth0 with MAC "+lab.Nodes[0].NICs[0].MAC) {
		t.Errorf("precondition block on this host: %v\n%s", err, out)
	}
	text := Plan(rolestest.Lab(t, "tedu-nat"), catalog.Debian).Text()
	if !strings.Contains(text, "#   - a NIC called eth0 with MAC ") || !strings.Contains(text, "#   - ifupdown not in charge") {
		t.Errorf("handout does not state the preconditions:\n%s", text[:600])
	}
}

// A handout must not send the student to an address the node gets only in
// a later step (the NAT->DR switch of the same VMs): it says which step
// moves it there, and the script goes on detached over SSH.
func TestHandoutReachesTheNodeBeforeItsNewAddress(t *testing.T) {
	p := Plan(rolestest.Lab(t, "tedu-dr"), catalog.RHEL)
	text := p.Text()
	sect := text[strings.Index(text, "## web1 (web)\n"):]
	head := sect[:strings.Index(sect, "\n# 1. ")]
	if strings.HasPrefix(strings.SplitN(head, "\n", 3)[1], "# ssh root@192.168.4.100") || strings.Contains(strings.SplitN(head, "\n", 2)[0], "ssh") {
		t.Errorf("web1 starts with ssh to its new address:\n%s", head)
	}
	if !strings.Contains(head, "Step 2 moves it to 192.168.4.100") || !strings.Contains(head, "goes on detached") {
		t.Errorf("web1's head does not say how to survive step 2:\n%s", head)
	}
	for i := range p.Nodes {
		if p.Nodes[i].Node == "web1" && !strings.Contains(p.Nodes[i].Script("tedu"), `LVSLAB_DETACHED=1 setsid sh "$0"`) {
			t.Error("web1's script does not go on detached over SSH")
		}
	}
}
