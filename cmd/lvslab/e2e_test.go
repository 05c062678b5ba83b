package main

// The end-to-end test: the whole documented setup in real QEMU guests. It
// runs only with LVSLAB_E2E=1 (make e2e) and as root. The outer test starts
// "lvslab sandbox" with this very test binary inside it, so that libvirtd,
// the VMs and the SSH client all live in a private network namespace; the
// inner test then drives the lvslab binary step by step.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/paths"
)

const e2eInnerEnv = "LVSLAB_E2E_INNER"

func e2eBinary(t *testing.T) string {
	t.Helper()
	return gatedBinary(t, "LVSLAB_E2E", "end-to-end test", "make e2e")
}

// gatedBinary skips a test that runs real VMs unless env is 1 and we are
// root, and returns the lvslab binary under test (LVSLAB_BIN).
func gatedBinary(t *testing.T, env, what, target string) string {
	t.Helper()
	if os.Getenv(env) != "1" {
		t.Skipf("%s: set %s=1 (%s)", what, env, target)
	}
	if os.Geteuid() != 0 {
		t.Skipf("%s needs root (network namespaces, libvirtd)", what)
	}
	bin := os.Getenv("LVSLAB_BIN")
	if bin == "" {
		t.Fatalf("LVSLAB_BIN must name the lvslab binary (%s sets it)", target)
	}
	return bin
}

// TestE2E starts the sandbox around the inner test.
func TestE2E(t *testing.T) { sandboxed(t, "TestE2EInner") }

// sandboxed builds the image out here (debootstrap needs the package
// mirror, and the sandbox's network namespace has no way out), then runs
// the inner test in a sandbox.
func sandboxed(t *testing.T, inner string, sandboxArgs ...string) {
	bin := e2eBinary(t)
	if os.Getenv(e2eInnerEnv) == "1" {
		t.Skip("already inside the sandbox")
	}
	outside(t, bin, "image build", "image", "build")
	took, err := runInSandbox(t, bin, e2eInnerEnv, inner, "75m", sandboxArgs...)
	if err != nil {
		t.Fatalf("end-to-end run failed after %s: %v", took.Round(time.Second), err)
	}
	t.Logf("end-to-end run passed in %s", took.Round(time.Second))
}

// outside runs lvslab before the sandbox starts, shows its output and
// says how long it took as a phase, and returns its stdout; it fails the
// test on an error.
func outside(t *testing.T, bin, what string, args ...string) string {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, os.Stdout), os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("lvslab %s: %v", strings.Join(args, " "), err)
	}
	fmt.Printf("PHASE %-40s %6.1fs\n", what+" (outside the sandbox)", time.Since(start).Seconds())
	return out.String()
}

// runInSandbox runs this test binary's test inner inside a one-shot "lvslab sandbox",
// with env=1 so that it knows it is the inner run, and says how long it took;
// sandboxArgs go to the sandbox ("--hypervisors", "2").
func runInSandbox(t *testing.T, bin, env, inner, timeout string, sandboxArgs ...string) (time.Duration, error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A one-shot sandbox of its own (a name no started sandbox has), even
	// when "lvslab sandbox start" left one running on this machine.
	name := fmt.Sprintf("lvslab-e2e-%d", os.Getpid())
	args := append(append([]string{"sandbox", "--name", name}, sandboxArgs...), "--", self, "-test.run", "^"+inner+"$", "-test.v", "-test.timeout", timeout)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	err = cmd.Run()
	return time.Since(start), err
}

// e2e runs lvslab commands and keeps each phase's time for the summary.
type e2e struct {
	t      *testing.T
	bin    string
	phases []string
}

// run runs lvslab and returns its stdout and exit code; the output is shown
// as the test goes so a CI log tells what happened.
func (e *e2e) run(args ...string) (string, int) {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	start := time.Now()
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		e.t.Fatalf("lvslab %s: %v", strings.Join(args, " "), err)
	}
	fmt.Printf("$ lvslab %s  (exit %d, %s)\n%s\n", strings.Join(args, " "), code, time.Since(start).Round(100*time.Millisecond), out.String())
	return out.String(), code
}

// must runs lvslab and fails the test on a non-zero exit.
func (e *e2e) must(args ...string) string {
	e.t.Helper()
	out, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("lvslab %s exited %d", strings.Join(args, " "), code)
	}
	return out
}

// capture runs lvslab, keeping stdout and stderr in all too, and fails the
// test on a non-zero exit; it returns stdout.
func (e *e2e) capture(all *strings.Builder, args ...string) string {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	fmt.Printf("$ lvslab %s  (%v, %s)\n%s%s\n", strings.Join(args, " "), err, time.Since(start).Round(100*time.Millisecond), out.String(), tailLines(errOut.String(), 40))
	all.WriteString(out.String() + errOut.String())
	if err != nil {
		e.t.Fatalf("lvslab %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// phase times one step of the scenario.
func (e *e2e) phase(name string, f func()) {
	e.t.Helper()
	start := time.Now()
	f()
	line := fmt.Sprintf("%-34s %6.1fs", name, time.Since(start).Seconds())
	e.phases = append(e.phases, line)
	fmt.Println("PHASE", line)
}

// virsh runs virsh against the sandbox's libvirtd.
func virsh(t *testing.T, args ...string) string {
	t.Helper()
	return virshOn(t, "qemu:///system", args...)
}

// virshOn runs virsh against one hypervisor's URI.
func virshOn(t *testing.T, uri string, args ...string) string {
	t.Helper()
	out, err := exec.Command("virsh", append([]string{"-c", uri}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("virsh -c %s %s: %v\n%s", uri, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nothingLeft: no domain, network or volume of lab remains.
func nothingLeft(t *testing.T, lab string) {
	t.Helper()
	for _, args := range [][]string{{"list", "--all", "--name"}, {"net-list", "--all", "--name"}} {
		for _, line := range strings.Fields(virsh(t, args...)) {
			if strings.HasPrefix(line, lab+"-") || strings.HasPrefix(line, lab+"_") {
				t.Errorf("virsh %s still lists %s", args[0], line)
			}
		}
	}
	if out, err := exec.Command("virsh", "-c", "qemu:///system", "vol-list", "lvslab").CombinedOutput(); err == nil && strings.Contains(string(out), " "+lab+"_") {
		t.Errorf("volumes of %s remain:\n%s", lab, out)
	}
}

// labSSH is an ssh command to a lab node, over its management address,
// with the lab's own key and pins (the key is pinned under the domain name).
func labSSH(lab, node, addr, command string) *exec.Cmd {
	root := paths.Local()
	return exec.Command("ssh", "-i", root.KeyFile(lab),
		"-o", "UserKnownHostsFile="+root.KnownHostsFile(lab), "-o", "HostKeyAlias="+paths.DomainName(lab, node),
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
		"root@"+addr, command)
}

// copyNodes is one running copy as "lvslab status" reports it: each node's
// management address.
type copyNodes struct {
	lab  string
	mgmt map[string]string
	net  string // its management subnet
}

// nodes reads a copy's management addresses from "lvslab status NAME".
func (e *e2e) nodes(lab string) copyNodes {
	e.t.Helper()
	// Exit 1 is a node whose 2 s login probe missed (a loaded machine):
	// the addresses are what this needs.
	out, _ := e.run("status", lab, "--output", "json")
	var st []struct {
		Mgmt  string `json:"mgmt"`
		Nodes []struct {
			Node, Mgmt string
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 1 {
		e.t.Fatalf("status %s --output json: %v\n%s", lab, err, out)
	}
	c := copyNodes{lab: lab, mgmt: map[string]string{}, net: st[0].Mgmt}
	for _, n := range st[0].Nodes {
		if n.Mgmt == "" {
			e.t.Errorf("status %s: node %s has no management address (%+v)", lab, n.Node, n)
		}
		c.mgmt[n.Node] = n.Mgmt
	}
	return c
}

// sh runs command on node of the copy over SSH and returns its output and
// whether it exited 0.
func (c copyNodes) sh(node, command string) (string, bool) {
	out, err := labSSH(c.lab, node, c.mgmt[node], command).CombinedOutput()
	return string(out), err == nil
}

// waitSSH polls until the node runs commands again after a reboot.
func (c copyNodes) waitSSH(t *testing.T, node string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out, ok := c.sh(node, "cat /proc/uptime")
		if ok {
			fmt.Printf("%s/%s is back, uptime %s", c.lab, node, out)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s did not answer SSH within %s after the reboot:\n%s", c.lab, node, limit, out)
		}
		time.Sleep(3 * time.Second)
	}
}

// verifyReport is the part of "lvslab verify --output json" the test reads.
type verifyReport struct {
	Pass     bool `json:"pass"`
	Services []struct {
		Name      string         `json:"name"`
		URL       string         `json:"url"`
		Scheduler string         `json:"scheduler"`
		Counts    map[string]int `json:"counts"`
		Sequence  []string       `json:"sequence"`
		Failures  int            `json:"failures"`
	} `json:"services"`
}

func (e *e2e) verify(lab string, wantExit int) verifyReport {
	e.t.Helper()
	out, code := e.run("verify", lab, "--output", "json", "--requests", "12")
	for _, name := range []string{"leave by a lab NIC", "the director's connections come from lab addresses"} {
		if !strings.Contains(out, name) {
			e.t.Errorf("verify %s did not prove that the lab's traffic avoids mgmt0 (%q)", lab, name)
		}
	}
	if code != wantExit {
		e.t.Fatalf("verify %s exited %d, want %d", lab, code, wantExit)
	}
	var r verifyReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		e.t.Fatalf("verify --output json is not JSON: %v\n%s", err, out)
	}
	if len(r.Services) == 0 {
		e.t.Fatalf("verify reported no service")
	}
	return r
}

// insideSandbox starts an inner test (run by sandboxed from outer): at
// its end it prints the phase times and leaves nothing behind (the sandbox
// goes away too).
func insideSandbox(t *testing.T, outer string) *e2e {
	return insideSandboxAs(t, outer, "PHASE TIMES")
}

// insideSandboxAs is insideSandbox with the heading of its phase times.
func insideSandboxAs(t *testing.T, outer, heading string) *e2e {
	bin := e2eBinary(t)
	if os.Getenv(e2eInnerEnv) != "1" {
		t.Skip("runs inside the sandbox only (" + outer + " starts it)")
	}
	e := &e2e{t: t, bin: bin}
	t.Cleanup(func() {
		e.run("down", "--all")
		fmt.Println("\n" + heading)
		for _, p := range e.phases {
			fmt.Println("  " + p)
		}
	})
	return e
}

func TestE2EInner(t *testing.T) {
	e := insideSandbox(t, "TestE2E")

	e.phase("image is there (built before the sandbox)", func() {
		if out := e.must("image", "ls"); !strings.Contains(out, "debian-12") {
			t.Fatalf("image debian-12 is not built:\n%s", out)
		}
	})
	// Two copies of tedu-nat with the exercise's identical addresses.
	for _, name := range []string{"a", "b"} {
		e.phase("up tedu-nat --as "+name+" (boot + configure)", func() {
			out := e.must("up", "tedu-nat", "--as", name)
			fmt.Printf("FIGURE first configure of copy %s: %.1fs\n", name, stepSeconds(out, "configure"))
		})
	}
	a, b := e.nodes("a"), e.nodes("b")
	e.phase("lvslab ls lists both copies", func() {
		out := e.must("ls")
		for _, c := range []copyNodes{a, b} {
			if !regexp.MustCompile(`(?m)^` + c.lab + `\s+tedu-nat\s+4/4\s+` + regexp.QuoteMeta(c.net) + `$`).MatchString(out) {
				t.Errorf("ls has no line for copy %s from tedu-nat, 4/4 running, on %s:\n%s", c.lab, c.net, out)
			}
		}
		if a.net == b.net {
			t.Errorf("both copies got the management subnet %s", a.net)
		}
	})
	e.phase("each node answers SSH on mgmt0 with its hostname", func() {
		for _, c := range []copyNodes{a, b} {
			for node := range c.mgmt {
				if out, ok := c.sh(node, "hostname"); !ok || strings.TrimSpace(out) != node {
					t.Errorf("copy %s: ssh %s hostname: %q; want %s", c.lab, node, out, node)
				}
			}
		}
	})
	e.phase("up again (idempotent)", func() {
		out := e.must("up", "tedu-nat", "--as", "a")
		if n := strings.Count(out, "unchanged"); n < 4 {
			t.Errorf("second up should report every node unchanged, saw %d", n)
		}
		fmt.Printf("FIGURE unchanged re-run configure: %.1fs\n", stepSeconds(out, "configure"))
	})
	e.phase("verify rr on both copies", func() {
		for _, c := range []string{"a", "b"} {
			if got := e.verify(c, 0).Services[0].Counts; got["web1"] != 6 || got["web2"] != 6 {
				t.Errorf("copy %s: rr over 12 requests: want 6/6, got %v", c, got)
			}
		}
	})
	e.phase("the copies are isolated", func() { isolation(t, a, b) })
	wrr := filepath.Join(t.TempDir(), "tedu-wrr.yaml")
	e.phase("edit rr -> wrr and up copy b", func() {
		src := e.must("labs", "--show", "tedu-nat")
		if !strings.Contains(src, "scheduler: rr") {
			t.Fatal("tedu-nat has no rr scheduler line")
		}
		if err := os.WriteFile(wrr, []byte(strings.Replace(src, "scheduler: rr", "scheduler: wrr", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		e.must("up", wrr, "--as", "b")
	})
	e.phase("switch copy a NAT -> DR in place", func() {
		out := e.must("up", "tedu-dr", "--as", "a")
		fmt.Printf("FIGURE NAT -> DR switch configure: %.1fs\n", stepSeconds(out, "configure"))
	})
	e.phase("verify a DR wlc + ARP, b still NAT wrr 2:1", func() {
		r := e.verify("a", 0)
		if c := r.Services[0].Counts; r.Services[0].Scheduler != "wlc" || c["web1"] == 0 || c["web2"] == 0 || c["web1"]+c["web2"] != 12 {
			t.Errorf("copy a: wlc should serve both web nodes, got %s %v", r.Services[0].Scheduler, c)
		}
		r = e.verify("b", 0)
		if c := r.Services[0].Counts; r.Services[0].Scheduler != "wrr" || c["web1"] != 4 || c["web2"] != 8 {
			t.Errorf("copy b: wrr 1:2 over 12 requests: want 4/8, got %s %v", r.Services[0].Scheduler, c)
		}
	})
	e.phase("reboot a's lvs1 and web1, state comes back", func() {
		for _, node := range []string{"lvs1", "web1"} {
			// The session dies with the reboot: its exit status means nothing.
			a.sh(node, "systemctl reboot")
		}
		time.Sleep(5 * time.Second)
		for _, node := range []string{"lvs1", "web1"} {
			a.waitSSH(t, node, 5*time.Minute)
		}
		if c := e.verify("a", 0).Services[0].Counts; c["web1"] == 0 || c["web2"] == 0 {
			t.Errorf("after the reboot both web nodes should serve, got %v", c)
		}
		out := e.must("up", "tedu-dr", "--as", "a")
		if n := strings.Count(out, "unchanged"); n < 4 {
			t.Errorf("after the reboot every node should be unchanged, saw %d", n)
		}
	})
	e.phase("drill fail/heal/restore a's web1", func() {
		e.must("drill", "fail", "web1", "--lab", "tedu-dr", "--as", "a")
		e.must("drill", "heal", "web1", "--lab", "tedu-dr", "--as", "a")
		e.must("drill", "restore", "web1", "--lab", "tedu-dr", "--as", "a")
	})
	natDRNAT(e, a)
	e.phase("down both copies", func() {
		e.must("down", "a")
		e.must("down", "b")
	})
	e.phase("nothing of either copy remains", func() {
		nothingLeft(t, "a")
		nothingLeft(t, "b")
		out, _ := exec.Command("ip", "-br", "link").CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "vnet") || strings.HasPrefix(line, "lv") {
				t.Errorf("a tap or bridge remains: %s", line)
			}
		}
	})
}

// natDRNAT completes the in-place switch of copy a (now DR, from NAT):
// nothing of NAT is left on its director, then back to NAT nothing of DR is
// left on its real servers, a second up finds every node as a fresh NAT lab
// is, and rr verifies again.
func natDRNAT(e *e2e, a copyNodes) {
	t := e.t
	expect := func(node, command, want string) {
		t.Helper()
		if out, ok := a.sh(node, command); !ok || strings.TrimSpace(out) != want {
			t.Errorf("copy a %s: %s: %q (ok %v), want %q", node, command, strings.TrimSpace(out), ok, want)
		}
	}
	e.phase("a as DR: no NAT left on lvs1", func() {
		expect("lvs1", "sysctl -n net.ipv4.ip_forward net.ipv4.conf.all.send_redirects", "0\n1")
	})
	e.phase("switch copy a DR -> NAT in place", func() {
		out := e.must("up", "tedu-nat", "--as", "a")
		fmt.Printf("FIGURE DR -> NAT switch configure: %.1fs\n", stepSeconds(out, "configure"))
	})
	e.phase("a as NAT: no DR left, as a fresh lab", func() {
		expect("lvs1", "sysctl -n net.ipv4.ip_forward", "1")
		for _, web := range []string{"web1", "web2"} {
			expect(web, "ip -4 -o addr show dev lo scope global; ls /etc/systemd/network/ | grep -c -- -lo.network; true", "0")
			expect(web, "sysctl -n net.ipv4.conf.all.arp_ignore net.ipv4.conf.lo.arp_announce", "0\n0")
		}
		if out := e.must("up", "tedu-nat", "--as", "a"); strings.Count(out, "unchanged") < 4 {
			t.Errorf("after DR -> NAT a second up should find every node unchanged:\n%s", out)
		}
		if got := e.verify("a", 0).Services[0].Counts; got["web1"] != 6 || got["web2"] != 6 {
			t.Errorf("copy a back to NAT: rr over 12 requests: want 6/6, got %v", got)
		}
	})
	e.phase("a: ipvs stats, zero, save-restore", func() {
		for _, view := range []struct {
			name string
			some bool
		}{{"stats", true}, {"zero", false}} {
			// A fresh value each time: zero counters are left out of the JSON.
			var ob struct {
				Services []struct {
					Stats struct{ Connections int } `json:"stats"`
				} `json:"services"`
			}
			out := e.must("ipvs", view.name, "a", "-o", "json")
			if err := json.Unmarshal([]byte(out), &ob); err != nil || len(ob.Services) != 1 || (ob.Services[0].Stats.Connections > 0) != view.some {
				t.Errorf("ipvs %s: want connections counted %v: %v %+v", view.name, view.some, err, ob)
			}
		}
		if out := e.must("ipvs", "save-restore", "a"); strings.Count(out, "PASS  lvs1# ") != 3 {
			t.Errorf("save-restore: three steps should pass:\n%s", out)
		}
	})
}

// isolation proves that copy a's nodes cannot reach copy b: an address only
// b's director holds (on b's lab network private1, the VIP's) answers b's
// client but not a's, and b's management addresses do not answer a's nodes
// even with a route through the host.
func isolation(t *testing.T, a, b copyNodes) {
	t.Helper()
	const probe = "192.168.4.77" // a spare address of private1, only on b's lvs1
	if out, ok := b.sh("lvs1", "ip addr add "+probe+"/24 dev eth0"); !ok {
		t.Fatalf("add %s on b's lvs1: %s", probe, out)
	}
	defer b.sh("lvs1", "ip addr del "+probe+"/24 dev eth0")
	ping := "ping -c 2 -W 1 -q "
	if out, ok := b.sh("client1", ping+probe); !ok {
		t.Errorf("positive control: b's client1 does not reach b's lvs1 on %s:\n%s", probe, out)
	}
	if out, ok := a.sh("client1", ping+probe); ok {
		t.Errorf("a's client1 reaches %s, an address only copy b holds: the lab networks are shared\n%s", probe, out)
	}
	if out, ok := a.sh("client1", "curl -s -m 3 -o /dev/null http://"+probe+"/"); ok {
		t.Errorf("a's client1 gets HTTP from b's %s:\n%s", probe, out)
	}
	// b's management addresses: not on a's management subnet, and the host
	// forwards nothing between isolated networks.
	hostA := strings.TrimSuffix(a.net, "0/24") + "1"
	route := "ip route add " + b.net + " via " + hostA + " dev mgmt0"
	if out, ok := a.sh("client1", route); !ok {
		t.Fatalf("%s on a's client1: %s", route, out)
	}
	defer a.sh("client1", "ip route del "+b.net)
	for node, addr := range b.mgmt {
		if out, ok := a.sh("client1", ping+addr); ok {
			t.Errorf("a's client1 reaches b's %s on its management address %s:\n%s", node, addr, out)
		}
	}
	if out, ok := a.sh("client1", ping+a.mgmt["lvs1"]); !ok {
		t.Errorf("positive control: a's client1 does not reach a's own lvs1 on mgmt0 %s:\n%s", a.mgmt["lvs1"], out)
	}
}
