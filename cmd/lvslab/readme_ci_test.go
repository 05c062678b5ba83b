package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/lvslab/lvslab/topology/testkit/shtest"
)

// workflow is the part of a GitHub Actions workflow the recipe uses.
type workflow struct {
	Env  map[string]string `yaml:"env"`
	Jobs map[string]struct {
		RunsOn string `yaml:"runs-on"`
		Steps  []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			If   string            `yaml:"if"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// readmeWorkflow is the CI recipe of the README: its yaml block that
// starts with "name: lvs-smoke".
func readmeWorkflow(t *testing.T) workflow {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(name: lvs-smoke\n.*?)```").FindSubmatch(data)
	if m == nil {
		t.Fatal("the README has no CI recipe (a yaml block starting with \"name: lvs-smoke\")")
	}
	var wf workflow
	if err := yaml.Unmarshal(m[1], &wf); err != nil {
		t.Fatalf("the README's CI recipe is not valid YAML: %v", err)
	}
	if len(wf.Jobs) != 1 {
		t.Fatalf("the recipe has %d jobs, want 1", len(wf.Jobs))
	}
	return wf
}

// makeVar is a variable of the Makefile, continuation lines joined.
func makeVar(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var val string
	in := false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		if !in {
			v, ok := strings.CutPrefix(line, name)
			if !ok || !strings.HasPrefix(strings.TrimSpace(v), ":=") {
				continue
			}
			line, in = strings.TrimPrefix(strings.TrimSpace(v), ":="), true
		}
		val += " " + strings.TrimSuffix(line, "\\")
		if !strings.HasSuffix(line, "\\") {
			break
		}
	}
	return strings.Fields(val)
}

// The README's GitHub Actions recipe: its shape checked, its checking
// steps run here against this binary; under LVSLAB_E2E=1 (root, real VMs)
// also the image, sandbox, up and verify steps, and the JUnit report read.
func TestReadmeCIRecipe(t *testing.T) {
	wf := readmeWorkflow(t)
	e2e := os.Getenv("LVSLAB_E2E") == "1"
	var install, checks, vms []string
	upload, junit := "", ""
	for _, job := range wf.Jobs {
		if !strings.HasPrefix(job.RunsOn, "ubuntu") {
			t.Errorf("runs-on %q: the recipe is for hosted Ubuntu runners", job.RunsOn)
		}
		for _, s := range job.Steps {
			switch {
			case strings.HasPrefix(s.Uses, "actions/upload-artifact@"):
				upload = s.With["path"]
				if s.If != "always()" {
					t.Errorf("the report upload has if: %q; it must run when verify fails too (always())", s.If)
				}
			case s.Run == "":
			case strings.Contains(s.Run, "apt-get") || strings.Contains(s.Run, "go install") || strings.Contains(s.Run, "udevadm"):
				install = append(install, s.Run)
			case strings.Contains(s.Run, "sudo"):
				vms = append(vms, s.Run)
			default:
				checks = append(checks, s.Run)
			}
			if m := regexp.MustCompile(`(?m)--junit (\S+?)'?( |$)`).FindStringSubmatch(s.Run); m != nil {
				junit = m[1]
			}
		}
	}

	// The install step installs what the Makefile says lvslab needs, and
	// lvslab itself by its module path; KVM is opened to the runner.
	all := strings.Join(install, "\n")
	for _, pkg := range slices.Concat(makeVar(t, "DEB_BUILD"), makeVar(t, "DEB_RUN")) {
		if !regexp.MustCompile(`apt-get install[^\n]* ` + regexp.QuoteMeta(pkg) + `( |\n|$)`).MatchString(all) {
			t.Errorf("the recipe does not install the Debian package %s", pkg)
		}
	}
	if !strings.Contains(all, "go install github.com/lvslab/lvslab/cmd/lvslab@") || !strings.Contains(all, `KERNEL=="kvm"`) {
		t.Errorf("the install steps lack go install of lvslab or the KVM rule:\n%s", all)
	}
	if junit == "" || upload != junit {
		t.Errorf("verify writes the JUnit report to %q but the upload takes %q", junit, upload)
	}
	if len(checks) == 0 || len(vms) < 2 {
		t.Fatalf("%d checking and %d VM steps: the recipe lost its steps", len(checks), len(vms))
	}

	// Run the steps as Actions does (bash -e, pipefail) with lvslab on the
	// PATH and sudo standing for root (the test is root under LVSLAB_E2E).
	bin := shtest.Stubs(t, map[string]string{"sudo": "while [ \"${1#-}\" != \"$1\" ]; do shift; done\nexec \"$@\"\n"})
	env := lvslabOnPath(t, bin)
	work := t.TempDir()
	for k, v := range wf.Env {
		env = append(env, k+"="+v)
	}
	steps := checks
	if e2e {
		if os.Geteuid() != 0 {
			t.Fatal("LVSLAB_E2E=1 runs the recipe's VM steps: run it as root")
		}
		steps = append(steps, vms...)
	}
	var outputs strings.Builder
	for _, script := range steps {
		cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("step failed: %v\n%s\n%s", err, script, out)
		}
		t.Logf("%s\n%s", script, out)
		outputs.Write(out)
	}
	handout, err := os.ReadFile(filepath.Join(work, "handout.md"))
	if err != nil || !strings.HasPrefix(string(handout), "# Lab ") {
		t.Errorf("the recipe's handout: %v\n%.100s", err, handout)
	}
	scripts, _ := filepath.Glob(filepath.Join(work, "scripts", "*.sh"))
	for _, p := range scripts {
		if b, err := os.ReadFile(p); err != nil || !strings.HasPrefix(string(b), "#!/bin/sh") || strings.Count(string(b), "#!/bin/sh") != 1 {
			t.Errorf("the recipe's script %s: %v\n%.100s", p, err, b)
		}
	}
	if len(scripts) == 0 {
		t.Error("the recipe wrote no script")
	}
	if !e2e {
		t.Logf("the %d VM steps run under LVSLAB_E2E=1 (root, real VMs)", len(vms))
		return
	}
	// The dry run after up surveyed every node over SSH and found it as the lab wants.
	if n := strings.Count(outputs.String(), "configure: unchanged"); n != 4 {
		t.Errorf("the dry run after up found %d of 4 nodes unchanged", n)
	}
	report, err := os.ReadFile(filepath.Join(work, junit))
	if err != nil || !strings.Contains(string(report), "<testsuite") || strings.Contains(string(report), "<failure") {
		t.Errorf("the JUnit report %s: %v\n%.2000s", junit, err, report)
	}
}
