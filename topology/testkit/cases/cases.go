// Package cases runs a function of a text over a table in tests: each
// input with what the function must give for it.
package cases

import (
	"fmt"
	"testing"
)

// Strings fails the test for each input of want whose result f does not
// give, naming f as name.
func Strings(t testing.TB, name string, f func(string) string, want map[string]string) {
	t.Helper()
	for _, m := range mismatches(name, f, want) {
		t.Error(m)
	}
}

// First is f with only its first result, for Strings: what a table of
// f's texts checks when f also returns a second value.
func First[T any](f func(string) (string, T)) func(string) string {
	return func(in string) string {
		first, _ := f(in)
		return first
	}
}

// mismatches says, for each input of want whose result f does not give,
// what f gave and what it should have.
func mismatches(name string, f func(string) string, want map[string]string) []string {
	var out []string
	for in, w := range want {
		if got := f(in); got != w {
			out = append(out, fmt.Sprintf("%s(%q) = %q, want %q", name, in, got, w))
		}
	}
	return out
}
