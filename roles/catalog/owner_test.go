package catalog

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/roles"
)

// The NIC-name steps, run by sh against a fake /sys/class/net whose ip
// renames folders: the image named the first lab NIC ens3 and gave the
// second the first's name; after the steps each has the lab's name by its
// MAC, mgmt0 untouched, and the check that failed passes.
func TestNICNameSteps(t *testing.T) {
	st := &roles.NodeState{NICs: []roles.NICState{
		{Name: "eth0", MAC: "52:54:00:aa:00:01", Network: "private1"},
		{Name: "eth1", MAC: "52:54:00:aa:00:02", Network: "private2"},
	}}
	net := t.TempDir()
	for name, mac := range map[string]string{"ens3": "52:54:00:aa:00:01", "eth0": "52:54:00:aa:00:02", "mgmt0": "52:54:00:ff:00:09"} {
		os.MkdirAll(filepath.Join(net, name), 0o755)
		os.WriteFile(filepath.Join(net, name, "address"), []byte(mac+"\n"), 0o644)
	}
	bin := t.TempDir()
	ip := "#!/bin/sh\necho \"ip $*\" >>\"$LOG\"\ncase \"$*\" in *\" name \"*) mv \"$LVSLAB_SYSNET/$3\" \"$LVSLAB_SYSNET/$5\" ;; esac\n"
	os.WriteFile(filepath.Join(bin, "ip"), []byte(ip), 0o755)
	log := filepath.Join(t.TempDir(), "log")
	sh := func(script string) bool {
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = append(os.Environ(), "LVSLAB_SYSNET="+net, "LOG="+log, "PATH="+bin+":/usr/bin:/bin")
		out, err := cmd.CombinedOutput()
		if len(out) > 0 {
			t.Logf("%s", out)
		}
		return err == nil
	}
	steps := NICNameSteps(st)
	if len(steps) != 3 || steps[0].File == nil || steps[0].File.Path != "/etc/systemd/network/10-lvslab-eth0.link" || *steps[0].File != linkFile(st.NICs[0]) {
		t.Fatalf("steps %+v", steps)
	}
	names := steps[2]
	if sh(names.Check) {
		t.Fatal("the check passes before the renames")
	}
	if !sh(names.Apply[0]) || !sh(names.Check) {
		calls, _ := os.ReadFile(log)
		t.Fatalf("after the renames the check fails:\n%s", calls)
	}
	for name, mac := range map[string]string{"eth0": "52:54:00:aa:00:01", "eth1": "52:54:00:aa:00:02", "mgmt0": "52:54:00:ff:00:09"} {
		if got, _ := os.ReadFile(filepath.Join(net, name, "address")); strings.TrimSpace(string(got)) != mac {
			t.Errorf("%s has %q, want %s", name, got, mac)
		}
	}
	calls, _ := os.ReadFile(log)
	if strings.Contains(string(calls), "mgmt0") {
		t.Errorf("mgmt0 was touched:\n%s", calls)
	}
	before := string(calls)
	if !sh(names.Apply[0]) {
		t.Fatal("a second run fails")
	}
	if calls, _ := os.ReadFile(log); string(calls) != before {
		t.Errorf("a second run renamed again:\n%s", calls)
	}
}

func TestFormFor(t *testing.T) {
	for _, c := range []struct{ family, owner, want string }{
		{Debian, OwnerNetworkManager, RHEL}, {RHEL, OwnerNetworkManager, RHEL}, {Debian, OwnerNetworkd, Debian},
		{Debian, OwnerNetplan, Debian}, {Debian, OwnerIfupdown, Debian}, {RHEL, OwnerNone, RHEL}, {Debian, "", Debian},
	} {
		if got := FormFor(c.family, c.owner); got != c.want {
			t.Errorf("FormFor(%s, %s) = %s, want %s", c.family, c.owner, got, c.want)
		}
	}
	for out, want := range map[string]string{"NetworkManager\n": OwnerNetworkManager, "none": OwnerNone, "bash: x\n": ""} {
		if got := ParseOwner(out); got != want {
			t.Errorf("ParseOwner(%q) = %q", out, got)
		}
	}
}
