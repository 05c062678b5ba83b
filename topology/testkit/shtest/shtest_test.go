package shtest

import "testing"

func TestParse(t *testing.T) {
	Need(t, "sh")
	if err := parse("if true; then echo x; fi"); err != nil {
		t.Errorf("a script that parses: %v", err)
	}
	if err := parse("if true; then echo x"); err == nil {
		t.Error("a script with no fi parses")
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
