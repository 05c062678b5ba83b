package cases

import (
	"strings"
	"testing"
)

func TestMismatches(t *testing.T) {
	got := mismatches("ToUpper", strings.ToUpper, map[string]string{"a": "A", "b": "b", "": ""})
	if len(got) != 1 || got[0] != `ToUpper("b") = "B", want "b"` {
		t.Errorf("mismatches %q, want the one input whose result differs", got)
	}
}

func TestFirst(t *testing.T) {
	before := First(func(s string) (string, string) {
		b, a, _ := strings.Cut(s, "=")
		return b, a
	})
	if got := before("a=b"); got != "a" {
		t.Errorf("the first result of a=b cut at = is %q, want a", got)
	}
}
