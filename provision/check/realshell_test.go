package check

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology/testkit/shtest"
)

// The probe runs under this machine's own sh and tools (GNU grep, /proc,
// /sys), read-only, and its answer parses: the host's hostname, its
// os-release, its default routes as ip lists them.
func TestProbeRunsInARealShell(t *testing.T) {
	shtest.Need(t, "sh", "grep")
	if _, err := os.Stat("/proc/net/route"); err != nil {
		t.Skip("no /proc")
	}
	lab := rolestest.Lab(t, "tedu-dr")
	for _, node := range []string{"lvs1", "web1", "client1"} {
		gp := newProbe(rolestest.State(t, lab, node)).build()
		out, err := shtest.Command(gp.Script()).Output()
		if err != nil {
			t.Fatalf("%s: the probe exits %v", node, err)
		}
		o, err := parse(gp, string(out))
		if err != nil {
			t.Fatalf("%s: %v", node, err)
		}
		host, _ := os.ReadFile("/proc/sys/kernel/hostname")
		if o.Hostname != strings.TrimSpace(string(host)) || o.Up["lo"] != true {
			t.Errorf("%s: hostname %q (want %q), lo up %v", node, o.Hostname, host, o.Up["lo"])
		}
		if _, err := os.Stat(osRelease); err == nil && o.OSRelease == "" {
			t.Errorf("%s: no os-release", node)
		}
		if routes, err := exec.Command("ip", "-4", "route", "show", "default").Output(); err == nil {
			if want := len(parseRoutesText(string(routes))); len(o.Routes) != want {
				t.Errorf("%s: %d default routes %v, ip lists %d:\n%s", node, len(o.Routes), o.Routes, want, routes)
			}
		}
	}
}

// parseRoutesText counts "default via ..." lines of ip route.
func parseRoutesText(out string) []string {
	var r []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "default ") && !strings.Contains(l, " table ") {
			r = append(r, l)
		}
	}
	return r
}

// A student is root in the guest: a unit that restores from /dev/zero, or
// a boot file linked to it, does not stall the probe (the real sh and
// grep, bounded by a timeout here).
func TestProbeSkipsDevices(t *testing.T) {
	for _, tool := range []string{"sh", "grep", "timeout"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	dir := t.TempDir()
	wants := dir + "/multi-user.target.wants"
	if err := os.MkdirAll(wants, 0o755); err != nil {
		t.Fatal(err)
	}
	rules := dir + "/lvs.rules"
	os.WriteFile(rules, []byte("-A -t 192.168.4.5:80 -s rr\n"), 0o644)
	os.WriteFile(wants+"/a.service", []byte("[Service]\nExecStart=/bin/sh -c 'ipvsadm-restore < /dev/zero'\n"), 0o644)
	os.WriteFile(wants+"/b.service", []byte("[Service]\nExecStart=/bin/sh -c \"ipvsadm-restore <'"+rules+"'\"\n"), 0o644)
	os.Symlink("/dev/zero", wants+"/c.service")
	script := restoredFilesScript(dir+"/*.wants/*") + "; " + grepFiles + " " + wants + "/*"
	out, err := exec.Command("timeout", "10", "sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	files := readFiles(strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"))
	if files[rules] != "-A -t 192.168.4.5:80 -s rr\n" || files[wants+"/a.service"] == "" {
		t.Errorf("files %q", files)
	}
	if _, ok := files["/dev/zero"]; ok {
		t.Error("read /dev/zero")
	}
}
