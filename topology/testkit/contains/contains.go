// Package contains checks in tests that a text holds (or lacks) the parts
// a reader looks for: a graph's lines, a generated config's stanzas.
package contains

import (
	"strings"
	"testing"
)

// All fails the test for each of wants that text lacks, naming what the
// text is and showing it.
func All(t testing.TB, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q in:\n%s", what, want, text)
		}
	}
}

// None fails the test for each of unwanted that text holds.
func None(t testing.TB, what, text string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(text, u) {
			t.Errorf("%s holds %q:\n%s", what, u, text)
		}
	}
}
