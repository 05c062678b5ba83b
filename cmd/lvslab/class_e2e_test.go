package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/class"
	"github.com/lvslab/lvslab/provision/class/browser"
)

// classPageEnv names the file the inner run writes the class's HTML report
// to; the outer run reads it in headless chromium once the VMs are gone.
const classPageEnv = "LVSLAB_E2E_CLASS_PAGE"

// TestClassE2E: a class of two students over two simulated hypervisors
// (lvslab sandbox --hypervisors 2, reached only over qemu+ssh). "class up"
// puts one copy on each host, "class check" and "class verify" pass both,
// the HTML report shows two green rows in a real browser, "class down"
// leaves nothing on either host. make e2e-class.
func TestClassE2E(t *testing.T) {
	gatedBinary(t, "LVSLAB_E2E", "class end-to-end test", "make e2e-class")
	if os.Getenv(e2eInnerEnv) == "1" {
		t.Skip("already inside the sandbox")
	}
	page := filepath.Join(t.TempDir(), "class.html")
	t.Setenv(classPageEnv, page)
	sandboxed(t, "TestClassE2EInner", "--hypervisors", "2")
	start := time.Now()
	if why := browser.Missing(); why != "" {
		t.Fatalf("the class page must be read in a browser: %s", why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rows, err := browser.ReadReport(ctx, page, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Student != "alice" || rows[1].Student != "bob" {
		t.Fatalf("rows: %+v", rows)
	}
	for _, r := range rows {
		if len(r.Cells) == 0 {
			t.Errorf("%s has no cells", r.Student)
		}
		for _, c := range r.Cells {
			if !browser.Green(c.Background) || c.Text != "PASS" {
				t.Errorf("%s: %s is %s %q (%s)", r.Student, c.Check, c.Background, c.Text, c.Title)
			}
		}
	}
	fmt.Printf("PHASE %-34s %6.1fs (%d checks per student, all green)\n", "report read in headless chromium", time.Since(start).Seconds(), len(rows[0].Cells))
}

func TestClassE2EInner(t *testing.T) {
	e, uris := onTwoHosts(t, e2eInnerEnv, "TestClassE2E")
	file := filepath.Join(t.TempDir(), "class.yaml")
	os.WriteFile(file, fmt.Appendf(nil, "name: e2e\nlab: tedu-nat\nstudents: [alice, bob]\nhosts:\n  - uri: '%s'\n  - uri: '%s'\nbatch: 1\n", uris[0], uris[1]), 0o644)
	defer func() {
		if t.Failed() {
			e.run("class", "down", file)
		}
	}()

	// One copy at a time: eight TCG guests booting at once on two cores
	// outlast the SSH wait (seen: 3 of 4 nodes of the second copy).
	e.phase("class up (2 copies, 2 hosts, batch 1)", func() { e.must("class", "up", "--timeout", "8m", file) })
	e.phase("class status", func() {
		var rep class.Report
		if err := json.Unmarshal([]byte(e.must("class", "status", "-o", "json", file)), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Rows) != 2 || rep.Rows[0].Host == rep.Rows[1].Host {
			t.Fatalf("the copies are not one per host: %+v", rep.Rows)
		}
		for i, uri := range uris {
			names := virshOn(t, uri, "list", "--name")
			if !strings.Contains(names, "e2e-"+rep.Rows[0].Student+"-") && !strings.Contains(names, "e2e-"+rep.Rows[1].Student+"-") || strings.Count(names, "e2e-") != 4 {
				t.Fatalf("host %d runs %q: want one copy's four VMs", i+1, names)
			}
		}
	})
	e.phase("class check", func() { e.must("class", "check", file) })
	e.phase("class verify (--html, --junit)", func() {
		e.must("class", "verify", "--html", os.Getenv(classPageEnv), "--junit", filepath.Join(t.TempDir(), "class.xml"), file)
	})
	e.phase("class down", func() { e.must("class", "down", file) })
	for i, uri := range uris {
		for _, what := range [][]string{{"list", "--all", "--name"}, {"net-list", "--all", "--name"}, {"vol-list", "lvslab"}} {
			if out := virshOn(t, uri, what...); strings.Contains(out, "e2e-") {
				t.Errorf("host %d after class down, virsh %s: %s", i+1, strings.Join(what, " "), out)
			}
		}
	}
	fmt.Println("CLASS E2E PHASES")
	for _, p := range e.phases {
		fmt.Println("  " + p)
	}
}
