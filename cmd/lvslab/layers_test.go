package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The layers of the project (issue 21), top to bottom, written down once:
// a package imports only packages of its own layer or of a layer below it
// (a higher number). Within a layer Go's own rule, no import cycle, is
// enough. A name stands for that package; "x/..." for x and every package
// under it; the most specific name places a package. Packages that do not
// exist (yet) place nothing; a package of the module that no name places
// fails the test, so a new package is placed when it is made.
var layers = []struct {
	layer int
	pkgs  []string
}{
	// thin CLI
	{1, []string{"cmd/..."}},
	// class orchestration, class server, SSH door
	{2, []string{"provision/class/..."}},
	// Up, DryRun, Down, Status, List; verify; check.
	{3, []string{"provision/lab/...", "provision/verify/...", "provision/check/..."}},
	{4, []string{"provision/access/...", "provision/seed/...", "provision/sandbox/..."}},
	// the libvirt adapter; SSH
	{5, []string{"provision/host/...", "provision/sshx/..."}},
	{6, []string{"provision/image/..."}},
	// paths, the local machine (root, programs, processes), progress
	// (typed events, their renderers, the --debug trace, prefixed lines),
	// report (verdicts, exit codes, writers)
	{7, []string{"provision/paths/...", "provision/localhost/...", "provision/progress/...", "provision/report/..."}},
	// render, handout, engine, catalog, roles, shell, guest
	{8, []string{"roles/..."}},
	// the lab model with the IPVS model at the bottom (topology/ipvs), the
	// embedded labs and templates; the tests' helpers that know no lab
	{9, []string{"topology/...", "labs/...", "templates/..."}},
}

// libvirtImporters are the only packages that may import libvirt's
// bindings: the libvirt adapter.
var libvirtImporters = []string{"provision/host/..."}

// libvirtPending are packages that import libvirt today although they may
// not, each with what removes the import. The test fails when one no
// longer does: then its line goes.
var libvirtPending = map[string]string{}

const (
	module     = "github.com/lvslab/lvslab"
	libvirtMod = "libvirt.org/go/"
)

// listed is what "go list -json" says of a package that the rules read.
type listed struct {
	ImportPath string
	Imports    []string
}

// matches tells whether name ("x" or "x/...") places pkg, and how
// specifically (the length of its path; -1 when it does not).
func matches(name, pkg string) int {
	if base, ok := strings.CutSuffix(name, "/..."); ok {
		if pkg == base || strings.HasPrefix(pkg, base+"/") {
			return len(base)
		}
		return -1
	}
	if pkg == name {
		return len(name) + 1 // an exact name beats "name/..."
	}
	return -1
}

// layerOf is pkg's layer (a path inside the module), 0 when unplaced.
func layerOf(pkg string) int {
	best, layer := -1, 0
	for _, l := range layers {
		for _, name := range l.pkgs {
			if m := matches(name, pkg); m > best {
				best, layer = m, l.layer
			}
		}
	}
	return layer
}

func placedBy(names []string, pkg string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return matches(n, pkg) >= 0 })
}

// layerViolations are the imports of pkgs that run back up, the packages
// no layer places, and the libvirt imports outside the adapter.
func layerViolations(pkgs []listed) []string {
	var out []string
	for _, p := range pkgs {
		from, ok := strings.CutPrefix(p.ImportPath, module+"/")
		if !ok {
			continue
		}
		lf := layerOf(from)
		if lf == 0 {
			out = append(out, fmt.Sprintf("%s is in no layer: place it in layers (cmd/lvslab/layers_test.go)", from))
			continue
		}
		usesLibvirt := false
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, libvirtMod) {
				usesLibvirt = true
			}
			to, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if lt := layerOf(to); lt != 0 && lt < lf {
				out = append(out, fmt.Sprintf("%s (layer %d) imports %s (layer %d), which is above it", from, lf, to, lt))
			}
		}
		_, pending := libvirtPending[from]
		switch {
		case usesLibvirt && !placedBy(libvirtImporters, from) && !pending:
			out = append(out, fmt.Sprintf("%s imports libvirt: only the libvirt adapter (%s) may", from, strings.Join(libvirtImporters, ", ")))
		case !usesLibvirt && pending:
			out = append(out, fmt.Sprintf("%s no longer imports libvirt: remove it from libvirtPending", from))
		}
	}
	return out
}

// goList reads "go list -json ./..." of the module (two folders up).
func goList(t *testing.T) []listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// No package of the project imports one above it (non-test imports: a
// test may reach up for a fixture, as image's tests use the sandbox).
func TestImportsRunDownTheLayers(t *testing.T) {
	pkgs := goList(t)
	if len(pkgs) < 10 || !slices.ContainsFunc(pkgs, func(p listed) bool { return p.ImportPath == module+"/cmd/lvslab" }) {
		t.Fatalf("go list found %d packages, not the project's", len(pkgs))
	}
	for _, v := range layerViolations(pkgs) {
		t.Error(v)
	}
}

// The rule itself: an import back up, a package in no layer and libvirt
// outside the adapter are each caught; the most specific name places.
func TestLayerRuleCatchesAnImportBackUp(t *testing.T) {
	p := func(path string, imports ...string) listed {
		l := listed{ImportPath: module + "/" + path}
		for _, i := range imports {
			if !strings.Contains(i, ".") {
				i = module + "/" + i
			}
			l.Imports = append(l.Imports, i)
		}
		return l
	}
	good := []listed{
		p("cmd/lvslab", "provision/class", "provision/report", "topology"),
		p("provision/check", "provision/verify", "provision/report", "topology/ipvs"),
		p("topology", "topology/ipvs"),
		p("provision/host/hosttest", "libvirt.org/go/libvirt"),
		p("provision/host", "provision/paths", "libvirt.org/go/libvirtxml"),
		p("topology/ipvs/ipvstest", "topology/ipvs"),
		p("provision/sshx", "roles/guest"),
	}
	if v := layerViolations(good); len(v) != 0 {
		t.Errorf("allowed imports reported: %q", v)
	}
	for _, c := range []struct {
		pkg  listed
		want string
	}{
		{p("provision/report", "provision/verify"), "provision/report (layer 7) imports provision/verify (layer 3), which is above it"},
		{p("topology", "roles"), "topology (layer 9) imports roles (layer 8)"},
		{p("topology/ipvs", "roles/guest"), "topology/ipvs (layer 9) imports roles/guest (layer 8)"},
		{p("provision/verify", "provision/class"), "provision/verify (layer 3) imports provision/class (layer 2)"},
		{p("provision/class/serve", "cmd/lvslab"), "provision/class/serve (layer 2) imports cmd/lvslab (layer 1)"},
		{p("mystery"), "mystery is in no layer"},
		{p("roles/engine", "libvirt.org/go/libvirt"), "roles/engine imports libvirt"},
	} {
		got := layerViolations([]listed{c.pkg})
		if len(got) != 1 || !strings.Contains(got[0], c.want) {
			t.Errorf("%s: got %q, want one %q", c.pkg.ImportPath, got, c.want)
		}
	}
	libvirtPending["provision/lab"] = "a pending exception of this test's"
	defer delete(libvirtPending, "provision/lab")
	if got := layerViolations([]listed{p("provision/lab", "provision/host")}); len(got) != 1 || !strings.Contains(got[0], "remove it from libvirtPending") {
		t.Errorf("a pending exception no longer needed: %q", got)
	}
}
