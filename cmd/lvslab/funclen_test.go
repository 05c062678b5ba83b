package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a non-test function may be, counted from its
// func line to its closing brace (issue 21).
const maxFuncLines = 80

// longFuncs lists the non-test functions of the Go files below root that
// are longer than limit lines, as "path:line name (N lines)".
func longFuncs(root string, limit int) ([]string, error) {
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			from, to := fset.Position(fn.Pos()).Line, fset.Position(fn.End()).Line
			if n := to - from + 1; n > limit {
				rel, _ := filepath.Rel(root, path)
				out = append(out, fmt.Sprintf("%s:%d %s (%d lines)", filepath.ToSlash(rel), from, fn.Name.Name, n))
			}
		}
		return nil
	})
	return out, err
}

// TestNoLongFunctions: no non-test function of the project is over
// maxFuncLines lines; split a longer one along its seams.
func TestNoLongFunctions(t *testing.T) {
	long, err := longFuncs("../..", maxFuncLines)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range long {
		t.Errorf("%s: over %d lines; split it along its seams", l, maxFuncLines)
	}
}

// TestLongFunctionsAreFound: the rule sees a long function, and counts from
// the func line to the closing brace.
func TestLongFunctionsAreFound(t *testing.T) {
	dir := t.TempDir()
	body := "package p\n\nfunc long() {\n" + strings.Repeat("\t_ = 1\n", 78) + "}\n\nfunc short() {\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p_test.go"), []byte("package p\n\nfunc longTest() {\n"+strings.Repeat("\t_ = 1\n", 200)+"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	long, err := longFuncs(dir, 79)
	if err != nil {
		t.Fatal(err)
	}
	if len(long) != 1 || long[0] != "p.go:3 long (80 lines)" {
		t.Fatalf("longFuncs = %q, want [p.go:3 long (80 lines)]", long)
	}
	if long, _ := longFuncs(dir, 80); len(long) != 0 {
		t.Fatalf("longFuncs at 80 = %q, want none", long)
	}
}
