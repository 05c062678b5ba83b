package shtest

import (
	"fmt"
	"testing"
)

// recorder is a test that keeps its errors instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestParses(t *testing.T) {
	Need(t, "sh")
	r := &recorder{TB: t}
	Parses(r, "good", "if true; then echo x; fi")
	Parses(r, "bad", "if true; then echo x")
	if len(r.errors) != 1 {
		t.Fatalf("errors %q, want one for the script that does not parse", r.errors)
	}
}

// A stub stands in for its command on PATH, and env reaches the script
// over this process's environment.
func TestStubsAndEnv(t *testing.T) {
	Need(t, "sh")
	bin := Stubs(t, map[string]string{"ip": `[ "$1" = link ] && echo "$WORD"`})
	path := "PATH=" + bin + ":/usr/bin:/bin"
	out, err := Command("ip link", path, "WORD=stubbed").Output()
	if err != nil || string(out) != "stubbed\n" {
		t.Errorf("ip link printed %q (%v), want the stub's word", out, err)
	}
	if !Succeeds(t, "ip link", path) || Succeeds(t, "ip addr", path) {
		t.Error("Succeeds does not follow the stub's exit status")
	}
}
