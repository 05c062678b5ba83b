// Package golden compares what a test renders with a file under the
// package's testdata, the file a reviewer reads and diffs; go test -update
// rewrites the files instead.
package golden

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Check fails the test at the first line where got and the file at path
// part, with its number in the file; with -update it writes got to path.
func Check(t testing.TB, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (%s)", err, rerun(t))
	}
	if line, g, w, ok := firstDifference(got, string(b)); !ok {
		t.Errorf("%s:%d: rendered %q, golden %q; diff the file after %s", path, line, g, w, rerun(t))
	}
}

// firstDifference is the first line (counted from 1) where got and want
// part, and those lines; ok when they are the same.
func firstDifference(got, want string) (line int, g, w string, ok bool) {
	gs, ws := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(gs), len(ws)) {
		if g, w = at(gs, i), at(ws, i); g != w || i >= len(gs) || i >= len(ws) {
			return i + 1, g, w, false
		}
	}
	return 0, "", "", true
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end of text)"
}

// rerun is the command that rewrites the test's golden files: go test of
// the package the test runs in (its working folder), from the module's
// root.
func rerun(t testing.TB) string {
	pkg := "."
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; filepath.Dir(dir) != dir; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rel, _ := filepath.Rel(dir, wd)
				pkg = "./" + filepath.ToSlash(rel)
				break
			}
		}
	}
	name, _, _ := strings.Cut(t.Name(), "/")
	return fmt.Sprintf("go test %s -run '^%s$' -update", pkg, name)
}
