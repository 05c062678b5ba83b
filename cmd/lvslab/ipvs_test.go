package main

import (
	"strings"
	"testing"
)

// ipvs refuses what it cannot run before it connects anywhere (exit 2),
// and its help teaches every view.
func TestIPVSCommandRefusesAndTeaches(t *testing.T) {
	code, _, stderr := lvslab(t, "ipvs", "stats", "-o", "yaml", "tedu-nat")
	if code != 2 || !strings.Contains(stderr, `--output "yaml": use text or json`) {
		t.Errorf("ipvs stats -o yaml: exit %d, %q", code, stderr)
	}
	code, _, stderr = lvslab(t, "ipvs", "conns", "a", "b")
	if code != 2 || !strings.Contains(stderr, "at most one LAB argument") {
		t.Errorf("ipvs conns a b: exit %d, %q", code, stderr)
	}
	_, help, _ := lvslab(t, "ipvs", "--help")
	for _, want := range []string{"stats", "rate", "conns", "zero", "save-restore", "ipvsadm -Lnc"} {
		if !strings.Contains(help, want) {
			t.Errorf("ipvs --help lacks %q:\n%s", want, help)
		}
	}
}
