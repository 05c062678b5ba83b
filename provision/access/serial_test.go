package access

import (
	"strings"
	"testing"
)

// Ctrl-] ends the console: what came before it is sent, nothing after.
func TestCopyUntilEscape(t *testing.T) {
	for in, want := range map[string]string{
		"root\nls\n\x1dexit\n": "root\nls\n",
		"\x1d":                 "",
		"no escape, then EOF":  "no escape, then EOF",
	} {
		var out strings.Builder
		if err := copyUntilEscape(&out, strings.NewReader(in)); err != nil || out.String() != want {
			t.Errorf("%q: sent %q, err %v; want %q", in, out.String(), err, want)
		}
	}
}
