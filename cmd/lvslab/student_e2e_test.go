package main

// The student's end-to-end scenario (make e2e-student, LVSLAB_E2E=1, root):
// a bare tedu-nat lab, the handout scripts run node by node over "lvslab
// ssh" with four classic mistakes, "check" naming each, the fixes, "check"
// passing, a reboot, "check" passing again.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestStudentE2E starts the sandbox around the student's session.
func TestStudentE2E(t *testing.T) { sandboxed(t, "TestStudentE2EInner") }

// checkReport is the part of "lvslab check -o json" the test reads.
type checkReport struct {
	Pass  bool `json:"pass"`
	Nodes []struct {
		Node  string `json:"node"`
		Error string `json:"error"`
		Facts []struct {
			Name, Status, Got, Hint, Fix string
		} `json:"facts"`
	} `json:"nodes"`
	VerifyError string `json:"verify_error"`
}

// failed lists "node: fact" for every failed fact, with its hint and fix.
func (r checkReport) failed() map[string][2]string {
	out := map[string][2]string{}
	for _, n := range r.Nodes {
		for _, f := range n.Facts {
			if f.Status == "fail" {
				out[n.Node+": "+f.Name] = [2]string{f.Hint, f.Fix}
			}
		}
	}
	return out
}

func (e *e2e) check(wantExit int, args ...string) checkReport {
	e.t.Helper()
	out, code := e.run(append([]string{"check", "-o", "json", "--requests", "12"}, args...)...)
	var r checkReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		e.t.Fatalf("check -o json is not JSON: %v\n%s", err, out)
	}
	if code != wantExit {
		e.t.Fatalf("check %v exited %d, want %d; failed: %v; verify: %s", args, code, wantExit, r.failed(), r.VerifyError)
	}
	return r
}

// sshScript runs a handout script on node over "lvslab ssh NODE -- sh -s".
func (e *e2e) sshScript(node, script string) {
	e.t.Helper()
	cmd := exec.Command(e.bin, "ssh", node, "--", "sh", "-s")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	fmt.Printf("$ lvslab ssh %s -- sh -s < handout  (%v, %s)\n%s\n", node, err, time.Since(start).Round(100*time.Millisecond), out.String())
	if err != nil {
		e.t.Fatalf("the handout of %s failed: %v", node, err)
	}
}

func TestStudentE2EInner(t *testing.T) {
	bin := e2eBinary(t)
	if os.Getenv(e2eInnerEnv) != "1" {
		t.Skip("runs inside the sandbox only (TestStudentE2E starts it)")
	}
	e := &e2e{t: t, bin: bin}
	defer func() {
		fmt.Println("\nPHASE TIMES")
		for _, p := range e.phases {
			fmt.Println("  " + p)
		}
	}()
	defer e.run("down", "--all")
	nodes := []string{"client1", "lvs1", "web1", "web2"}

	e.phase("up tedu-nat --bare", func() { e.must("up", "tedu-nat", "--bare") })
	e.phase("a bare lab: nothing of the exercise", func() {
		out := e.must("exec", "--all", "--", "hostname; ip -4 -o addr show | grep -v ' lo \\| mgmt0 ' | wc -l")
		for _, n := range nodes {
			if !strings.Contains(out, n+" | lvslab") && !strings.Contains(out, fmt.Sprintf("%-7s | lvslab", n)) {
				t.Errorf("%s does not have the image's hostname:\n%s", n, out)
			}
		}
		if strings.Count(out, "| 0\n") != len(nodes) {
			t.Errorf("a bare node has a lab address:\n%s", out)
		}
		r := e.check(1)
		if _, ok := r.failed()["web1: address eth1"]; !ok {
			t.Errorf("check passes web1's address on a bare lab: %v", r.failed())
		}
	})
	// The student types the handouts, with three classic mistakes.
	scripts := map[string]string{}
	for _, n := range nodes {
		scripts[n] = e.must("plan", "tedu-nat", "-o", "script", "--node", n)
	}
	mistaken := map[string]string{
		"lvs1": strings.Replace(scripts["lvs1"], "net.ipv4.ip_forward = 1", "net.ipv4.ip_forward = 0", 1),
		"web1": strings.ReplaceAll(scripts["web1"], "192.168.2.5", "192.168.2.254"),
	}
	for n, s := range mistaken {
		if s == scripts[n] {
			t.Fatalf("the mistake was not made in %s's handout", n)
		}
	}
	e.phase("handouts over lvslab ssh, with mistakes", func() {
		for _, n := range nodes {
			s := scripts[n]
			if m, ok := mistaken[n]; ok {
				s = m
			}
			e.sshScript(n, s)
		}
		e.must("ssh", "web2", "--", "systemctl", "stop", "apache2")
		e.must("ssh", "lvs1", "--", "systemctl", "disable", "lvslab-ipvs.service")
	})
	e.phase("check names each mistake", func() {
		r := e.check(1)
		f := r.failed()
		for fact, hint := range map[string]string{
			"lvs1: sysctl net.ipv4.ip_forward": "forwarding off",
			"web1: gateway":                    "not the DIP 192.168.2.5",
			"web2: apache2 running":            "connection refused",
			"lvs1: ipvs rules at boot":         "after a reboot the IPVS table is empty",
		} {
			got, ok := f[fact]
			if !ok {
				t.Errorf("check does not fail %q: %v", fact, f)
				continue
			}
			if !strings.Contains(got[0], hint) || !strings.Contains(got[1], "lvslab plan tedu-nat --node ") {
				t.Errorf("%s: hint %q fix %q", fact, got[0], got[1])
			}
		}
		for fact := range f {
			if !strings.HasPrefix(fact, "lvs1: sysctl") && fact != "lvs1: ipvs rules at boot" && !strings.HasPrefix(fact, "web1: gateway") && !strings.HasPrefix(fact, "web2: ") {
				t.Errorf("check fails %q, which the student did right", fact)
			}
		}
	})
	e.phase("fix: handout, up --node, systemctl start", func() {
		e.sshScript("lvs1", scripts["lvs1"])
		e.must("up", "tedu-nat", "--node", "web1")
		e.must("exec", "--node", "web2", "--", "systemctl start apache2")
	})
	e.phase("check passes", func() { e.check(0) })
	e.phase("reboot every node, check passes again", func() {
		// detached, so that each session ends before its node goes down
		e.must("exec", "--all", "--", "nohup sh -c 'sleep 2; systemctl reboot' >/dev/null 2>&1 &")
		time.Sleep(10 * time.Second)
		deadline := time.Now().Add(6 * time.Minute)
		for {
			if _, code := e.run("exec", "--all", "--", "cat /proc/uptime"); code == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the nodes did not come back after the reboot")
			}
			time.Sleep(5 * time.Second)
		}
		e.check(0)
	})
	e.phase("check tedu-dr on the NAT VMs: that stage fails", func() {
		f := e.check(1, "tedu-dr", "--node", "web1").failed()
		if _, ok := f["web1: vip lo:0"]; !ok {
			t.Errorf("tedu-dr's web1 VIP passes on the NAT lab: %v", f)
		}
	})
	e.phase("down", func() { e.must("down", "tedu") })
}
