package contains

import (
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps the errors it is given.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, format)
}

func TestAllAndNone(t *testing.T) {
	r := &recorder{TB: t}
	All(r, "graph", "a b c", "a", "c", "x", "y")
	None(r, "graph", "a b c", "x", "b")
	if len(r.errs) != 3 || !strings.Contains(r.errs[0], "lacks") || !strings.Contains(r.errs[2], "holds") {
		t.Errorf("errors %q, want two missing parts and one that should not be there", r.errs)
	}
}
