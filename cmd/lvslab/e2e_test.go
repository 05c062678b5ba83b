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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
func TestE2E(t *testing.T) {
	bin := e2eBinary(t)
	if os.Getenv(e2eInnerEnv) == "1" {
		t.Skip("already inside the sandbox")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The image is built out here: debootstrap needs the package mirror,
	// and the sandbox's network namespace has no way out.
	build := exec.Command(bin, "image", "build")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	if err := build.Run(); err != nil {
		t.Fatalf("lvslab image build: %v", err)
	}
	fmt.Printf("PHASE %-34s %6.1fs\n", "image build (outside the sandbox)", time.Since(start).Seconds())
	cmd := exec.Command(bin, "sandbox", "--", self, "-test.run", "^TestE2EInner$", "-test.v", "-test.timeout", "75m")
	cmd.Env = append(os.Environ(), e2eInnerEnv+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start = time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("end-to-end run failed after %s: %v", time.Since(start).Round(time.Second), err)
	}
	t.Logf("end-to-end run passed in %s", time.Since(start).Round(time.Second))
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
	out, err := exec.Command("virsh", append([]string{"-c", "qemu:///system"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("virsh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// labSSH is an ssh command to a lab node with the lab's own key and pins.
func labSSH(lab, addr, command string) *exec.Cmd {
	dir := filepath.Join("/var/lib/lvslab/labs", lab)
	if home := os.Getenv("LVSLAB_HOME"); home != "" {
		dir = filepath.Join(home, "labs", lab)
	}
	return exec.Command("ssh", "-i", filepath.Join(dir, "id_ed25519"),
		"-o", "UserKnownHostsFile="+filepath.Join(dir, "known_hosts"), "-o", "HostKeyAlias="+lab+"-"+nodeOf[addr],
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
		"root@"+addr, command)
}

// nodeOf names the tedu nodes by address (the host key is pinned under the
// domain name, whatever address the node has).
var nodeOf = map[string]string{"192.168.4.5": "lvs1", "192.168.4.100": "web1", "192.168.4.200": "web2", "192.168.4.10": "client1",
	"192.168.2.100": "web1", "192.168.2.200": "web2"}

// waitSSH polls until the node runs commands again after a reboot.
func waitSSH(t *testing.T, lab, addr string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out, err := labSSH(lab, addr, "cat /proc/uptime").CombinedOutput()
		if err == nil {
			fmt.Printf("%s is back, uptime %s", addr, out)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer SSH within %s after the reboot: %v\n%s", addr, limit, err, out)
		}
		time.Sleep(3 * time.Second)
	}
}

// verifyReport is the part of "lvslab verify --output json" the test reads.
type verifyReport struct {
	Pass     bool `json:"pass"`
	Services []struct {
		Scheduler string         `json:"scheduler"`
		Counts    map[string]int `json:"counts"`
		Sequence  []string       `json:"sequence"`
		Failures  int            `json:"failures"`
	} `json:"services"`
}

func (e *e2e) verify(lab string, wantExit int) verifyReport {
	e.t.Helper()
	out, code := e.run("verify", lab, "--output", "json", "--requests", "12")
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

func TestE2EInner(t *testing.T) {
	bin := e2eBinary(t)
	if os.Getenv(e2eInnerEnv) != "1" {
		t.Skip("runs inside the sandbox only (TestE2E starts it)")
	}
	e := &e2e{t: t, bin: bin}
	defer func() {
		fmt.Println("\nPHASE TIMES")
		for _, p := range e.phases {
			fmt.Println("  " + p)
		}
	}()
	// Whatever happens, leave nothing behind (the sandbox goes away too).
	defer e.run("down", "--all")

	e.phase("image is there (built before the sandbox)", func() {
		if out := e.must("image", "ls"); !strings.Contains(out, "debian-12") {
			t.Fatalf("image debian-12 is not built:\n%s", out)
		}
	})
	e.phase("up tedu-nat (boot + configure)", func() {
		out := e.must("up", "tedu-nat")
		for _, n := range []string{"client1", "lvs1", "web1", "web2"} {
			if !strings.Contains(out, n) {
				t.Errorf("up did not report node %s", n)
			}
		}
	})
	e.phase("each node answers SSH with its hostname", func() {
		for addr, node := range map[string]string{"192.168.4.10": "client1", "192.168.4.5": "lvs1", "192.168.2.100": "web1", "192.168.2.200": "web2"} {
			out, err := labSSH("tedu", addr, "hostname").CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != node {
				t.Errorf("ssh %s hostname: %q, %v; want %s", addr, out, err, node)
			}
		}
	})
	e.phase("up again (idempotent)", func() {
		out := e.must("up", "tedu-nat")
		if n := strings.Count(out, "unchanged"); n < 4 {
			t.Errorf("second up should report every node unchanged, saw %d", n)
		}
	})
	e.phase("verify rr", func() {
		r := e.verify("tedu-nat", 0)
		c := r.Services[0].Counts
		if c["web1"] != 6 || c["web2"] != 6 {
			t.Errorf("rr over 12 requests: want 6/6, got %v", c)
		}
	})
	wrr := filepath.Join(t.TempDir(), "tedu-wrr.yaml")
	e.phase("edit rr -> wrr and up", func() {
		src := e.must("labs", "--show", "tedu-nat")
		if !strings.Contains(src, "scheduler: rr") {
			t.Fatal("tedu-nat has no rr scheduler line")
		}
		if err := os.WriteFile(wrr, []byte(strings.Replace(src, "scheduler: rr", "scheduler: wrr", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		e.must("up", wrr)
	})
	e.phase("verify wrr 2:1", func() {
		r := e.verify(wrr, 0)
		c := r.Services[0].Counts
		if c["web1"] != 4 || c["web2"] != 8 {
			t.Errorf("wrr 1:2 over 12 requests: want 4/8, got %v", c)
		}
	})
	e.phase("switch NAT -> DR in place", func() { e.must("up", "tedu-dr") })
	e.phase("verify DR wlc + ARP", func() {
		r := e.verify("tedu-dr", 0)
		c := r.Services[0].Counts
		if c["web1"] == 0 || c["web2"] == 0 || c["web1"]+c["web2"] != 12 {
			t.Errorf("wlc should serve both web nodes, got %v", c)
		}
	})
	e.phase("reboot lvs1 and web1, state comes back", func() {
		for _, addr := range []string{"192.168.4.5", "192.168.4.100"} {
			// The session dies with the reboot: its exit status means nothing.
			_ = labSSH("tedu", addr, "systemctl reboot").Run()
		}
		time.Sleep(5 * time.Second)
		for _, addr := range []string{"192.168.4.5", "192.168.4.100"} {
			waitSSH(t, "tedu", addr, 5*time.Minute)
		}
		r := e.verify("tedu-dr", 0)
		if c := r.Services[0].Counts; c["web1"] == 0 || c["web2"] == 0 {
			t.Errorf("after the reboot both web nodes should serve, got %v", c)
		}
		out := e.must("up", "tedu-dr")
		if n := strings.Count(out, "unchanged"); n < 4 {
			t.Errorf("after the reboot every node should be unchanged, saw %d", n)
		}
	})
	e.phase("drill fail/heal/restore web1", func() {
		e.must("drill", "fail", "web1", "--lab", "tedu-dr")
		e.must("drill", "heal", "web1", "--lab", "tedu-dr")
		e.must("drill", "restore", "web1", "--lab", "tedu-dr")
	})
	e.phase("down", func() { e.must("down", "tedu") })
	e.phase("nothing of the lab remains", func() {
		for _, args := range [][]string{{"list", "--all", "--name"}, {"net-list", "--all", "--name"}} {
			if out := virsh(t, args...); strings.Contains(out, "tedu") {
				t.Errorf("virsh %s still lists lab objects:\n%s", args[0], out)
			}
		}
		if out, err := exec.Command("virsh", "-c", "qemu:///system", "vol-list", "lvslab").CombinedOutput(); err == nil && strings.Contains(string(out), "tedu") {
			t.Errorf("volumes of the lab remain:\n%s", out)
		}
		out, _ := exec.Command("ip", "-br", "link").CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "vnet") {
				t.Errorf("a tap device remains: %s", line)
			}
		}
	})
}
