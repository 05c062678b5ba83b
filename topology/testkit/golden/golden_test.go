package golden

import "testing"

func TestFirstDifference(t *testing.T) {
	for _, c := range []struct {
		got, want string
		line      int
		g, w      string
	}{
		{"a\nb\n", "a\nb\n", 0, "", ""},
		{"a\nb\n", "a\nc\n", 2, "b", "c"},
		{"a\n", "a\nb\n", 2, "", "b"},
		{"a", "a\nb", 2, "(end of text)", "b"},
		{"a\nb", "a", 2, "b", "(end of text)"},
	} {
		line, g, w, ok := firstDifference(c.got, c.want)
		if line != c.line || g != c.g || w != c.w || ok != (c.line == 0) {
			t.Errorf("firstDifference(%q, %q) = %d %q %q %v, want %d %q %q", c.got, c.want, line, g, w, ok, c.line, c.g, c.w)
		}
	}
}

func TestRerunNamesThisPackage(t *testing.T) {
	t.Run("sub", func(t *testing.T) {
		if got, want := rerun(t), "go test ./topology/testkit/golden -run '^TestRerunNamesThisPackage$' -update"; got != want {
			t.Errorf("rerun = %q, want %q", got, want)
		}
	})
}
