package localhost

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestPIDsHoldsThisProcess(t *testing.T) {
	pids := PIDs()
	if !slices.Contains(pids, os.Getpid()) {
		t.Fatalf("PIDs() = %v lacks this process %d", pids, os.Getpid())
	}
	comm, err := os.ReadFile(Proc(os.Getpid(), "comm"))
	if err != nil || strings.TrimSpace(string(comm)) == "" {
		t.Errorf("Proc(self, comm): %q, %v", comm, err)
	}
}

func TestRequireNamesEachMissingPackageOnce(t *testing.T) {
	err := Require("needs root", "for the test", map[string]string{"sh": "dash", "lvslab-no-such-a": "pkg-b", "lvslab-no-such-b": "pkg-b", "lvslab-no-such-c": "pkg-a"})
	if os.Geteuid() != 0 {
		if err == nil || err.Error() != "needs root" {
			t.Fatalf("not root: %v", err)
		}
		return
	}
	if err == nil || err.Error() != "missing tools for the test: install the Debian packages pkg-a pkg-b" {
		t.Fatalf("Require = %v", err)
	}
	if err := Require("needs root", "for the test", map[string]string{"sh": "dash"}); err != nil {
		t.Errorf("sh is there: %v", err)
	}
}
