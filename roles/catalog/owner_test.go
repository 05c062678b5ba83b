package catalog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology/testkit/cases"
	"github.com/lvslab/lvslab/topology/testkit/shtest"
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
	bin := shtest.Stubs(t, map[string]string{"ip": "echo \"ip $*\" >>\"$LOG\"\ncase \"$*\" in *\" name \"*) mv \"$LVSLAB_SYSNET/$3\" \"$LVSLAB_SYSNET/$5\" ;; esac\n"})
	log := filepath.Join(t.TempDir(), "log")
	sh := func(script string) bool {
		return shtest.Succeeds(t, script, "LVSLAB_SYSNET="+net, "LOG="+log, "PATH="+bin+":/usr/bin:/bin")
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
	cases.Strings(t, "ParseOwner", ParseOwner, map[string]string{"NetworkManager\n": OwnerNetworkManager, "none": OwnerNone, "bash: x\n": ""})
}

// The lab NICs are configured in the form of the manager the guest runs:
// a Debian guest run by NetworkManager gets nmcli and the VIP unit, apt
// and apache2 still; a RHEL guest keeps firewalld and SELinux whatever
// holds its network; an ifupdown guest hands the lab NICs to networkd.
func TestStepsForOwner(t *testing.T) {
	st := rolestest.State(t, rolestest.Lab(t, "tedu-dr"), "web1")
	names := func(steps []Step) string {
		var out []string
		for _, s := range steps {
			out = append(out, s.Name)
		}
		return strings.Join(out, ", ")
	}
	all := func(steps []Step) string {
		b, _ := json.Marshal(steps)
		return string(b)
	}
	if names(StepsFor(st, Debian, "")) != names(Steps(st, Debian)) || names(StepsFor(st, RHEL, OwnerNetworkManager)) != names(Steps(st, RHEL)) {
		t.Error("the family's own manager changes the steps")
	}
	nm := StepsFor(st, Debian, OwnerNetworkManager)
	if s := all(nm); !strings.Contains(s, "nmcli connection modify eth0") || strings.Contains(s, "systemd-networkd") || !strings.Contains(s, "apt-get") ||
		!strings.Contains(s, VIPUnit) || strings.Contains(s, "firewalld") {
		t.Errorf("Debian under NetworkManager: %s", names(nm))
	}
	nd := StepsFor(st, RHEL, OwnerNetworkd)
	if s := all(nd); strings.Contains(s, "nmcli") || !strings.Contains(s, "10-lvslab-eth0.network") || !strings.Contains(s, "firewalld") || !strings.Contains(s, "yum") {
		t.Errorf("RHEL under systemd-networkd: %s", names(nd))
	}
	ifu := StepsFor(st, Debian, OwnerIfupdown)
	if ifu[1].Name != "ifupdown lets go" || names(ifu[2:]) != names(Steps(st, Debian)[1:]) {
		t.Errorf("ifupdown: %s", names(ifu))
	}
}

// The hand-over, run by sh on copies of an image's interfaces files: the
// lab NICs' stanzas with their options are commented out, lo and mgmt0
// stay, the check that failed passes, and a second run changes nothing.
func TestIfupdownHandover(t *testing.T) {
	st := rolestest.State(t, rolestest.Lab(t, "tedu-nat"), "lvs1")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "interfaces.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "interfaces"), []byte("auto lo\niface lo inet loopback\n\nallow-hotplug eth0\niface eth0 inet dhcp\n    dns-nameservers 10.0.0.1\nsource /etc/network/interfaces.d/*\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "interfaces.d/50-cloud-init"), []byte("auto mgmt0\niface mgmt0 inet static\n    address 10.250.0.12/24\nauto eth1\niface eth1 inet static\n    address 192.168.2.5/24\n"), 0o644)
	bin := shtest.Stubs(t, map[string]string{"ifdown": "echo \"ifdown $*\" >>\"$LOG\"\n"})
	log := filepath.Join(t.TempDir(), "log")
	step := ifupdownHandover(st)
	sh := func(script string) bool {
		return shtest.Succeeds(t, strings.ReplaceAll(script, "/etc/network", dir), "LOG="+log, "PATH="+bin+":/usr/bin:/bin")
	}
	if sh(step.Check) {
		t.Fatal("the check passes while ifupdown names eth0 and eth1")
	}
	for _, c := range step.Apply {
		if !sh(c) {
			t.Fatalf("%s failed", c)
		}
	}
	if !sh(step.Check) {
		t.Fatal("the check fails after the hand-over")
	}
	main, _ := os.ReadFile(filepath.Join(dir, "interfaces"))
	ci, _ := os.ReadFile(filepath.Join(dir, "interfaces.d/50-cloud-init"))
	if string(main) != "auto lo\niface lo inet loopback\n\n# lvslab, systemd-networkd holds it: allow-hotplug eth0\n# lvslab, systemd-networkd holds it: iface eth0 inet dhcp\n# lvslab, systemd-networkd holds it:     dns-nameservers 10.0.0.1\nsource /etc/network/interfaces.d/*\n" ||
		string(ci) != "auto mgmt0\niface mgmt0 inet static\n    address 10.250.0.12/24\n# lvslab, systemd-networkd holds it: auto eth1\n# lvslab, systemd-networkd holds it: iface eth1 inet static\n# lvslab, systemd-networkd holds it:     address 192.168.2.5/24\n" {
		t.Errorf("interfaces:\n%s\n50-cloud-init:\n%s", main, ci)
	}
	if calls, _ := os.ReadFile(log); string(calls) != "ifdown --force eth0\nifdown --force eth1\n" {
		t.Errorf("ifdown calls %q", calls)
	}
}
