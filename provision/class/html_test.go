package class

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/class/browser"
)

// The page as a teacher sees it, in a real headless Chromium: a row per
// student, each check a green (pass) or red (fail) cell, a failure's
// message on the page and in its tooltip.
func TestReportHTMLInBrowser(t *testing.T) {
	if why := browser.Missing(); why != "" {
		t.Skip("no headless browser: " + why)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "class.html")
	if err := WriteHTMLFile(page, sampleReport(), time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rows, err := browser.ReadReport(ctx, page, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0].Student != "alice" || rows[1].Student != "bob" || rows[2].Student != "carol" {
		t.Fatalf("rows %+v", rows)
	}
	cell := func(r browser.Row, check string) browser.Cell {
		t.Helper()
		for _, c := range r.Cells {
			if c.Check == check {
				return c
			}
		}
		t.Fatalf("%s has no cell %q: %+v", r.Student, check, r.Cells)
		return browser.Cell{}
	}
	if c := cell(rows[0], "web1: address eth1"); !browser.Green(c.Background) || c.Text != "PASS" || c.Title != "web1: address eth1: 192.168.2.100/24" {
		t.Errorf("alice's pass: %+v", c)
	}
	if c := cell(rows[1], "web1: address eth1"); !browser.Red(c.Background) || !strings.Contains(c.Text, "none (want 192.168.2.100/24)") || !strings.Contains(c.Title, "the director cannot reach it") {
		t.Errorf("bob's fail: %+v", c)
	}
	if c := cell(rows[1], "web: rr shares"); browser.Green(c.Background) || browser.Red(c.Background) || c.Text != "-" {
		t.Errorf("bob's absent check: %+v", c)
	}
	if c := cell(rows[2], "check"); !browser.Red(c.Background) || !strings.Contains(c.Text, "no copy recorded") {
		t.Errorf("carol's error: %+v", c)
	}
	if _, err := os.Stat(filepath.Join(dir, "profile")); err != nil {
		t.Errorf("the browser's fresh profile was not used: %v", err)
	}
}
