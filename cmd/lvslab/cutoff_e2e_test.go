package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// labCauses is the part of "lvslab status --output json" that names what
// cut a node off.
type labCauses struct {
	Nodes []struct {
		Node   string `json:"node"`
		Causes []struct {
			Kind string `json:"kind"`
			Text string `json:"text"`
		} `json:"causes"`
	} `json:"nodes"`
}

// TestCutOffE2E is a node the student cut off, in real guests (make
// e2e-cutoff, root, 4 VMs): tedu-nat up; on web1 mgmt0 taken down and sshd
// stopped; status names both causes (read through the QEMU guest agent)
// within 5 s; check reports web1 in seconds with the causes; up restores
// lvslab's access within 20 s and goes on; verify passes.
func TestCutOffE2E(t *testing.T) { sandboxed(t, "TestCutOffE2EInner") }

func TestCutOffE2EInner(t *testing.T) {
	e := insideSandbox(t, "TestCutOffE2E")
	var nodes copyNodes
	e.phase("up tedu-nat", func() {
		e.must("up", "tedu-nat")
		nodes = e.nodes("tedu")
	})
	e.phase("web1: mgmt0 down, sshd stopped", func() {
		// Detached: the session itself rides on mgmt0.
		if out, ok := nodes.sh("web1", "setsid sh -c 'sleep 1; ip link set mgmt0 down; systemctl stop ssh.service' </dev/null >/dev/null 2>&1 &"); !ok {
			t.Fatalf("could not cut web1 off: %s", out)
		}
		time.Sleep(3 * time.Second)
		if _, ok := nodes.sh("web1", "true"); ok {
			t.Fatal("web1 still answers SSH")
		}
	})
	e.phase("status names both causes (5 s)", func() { cutOffStatus(e) })
	e.phase("check reports web1 in seconds", func() {
		start := time.Now()
		out, code := e.run("check", "tedu", "--node", "web1", "--output", "json")
		if took := time.Since(start); took > 10*time.Second || code == 0 || !strings.Contains(out, "mgmt0 is down and sshd is stopped") {
			t.Errorf("check of web1 cut off: exit %d after %s, want the causes in seconds", code, took.Round(100*time.Millisecond))
		}
	})
	e.phase("up restores access (20 s) and goes on", func() { cutOffUp(e, nodes) })
	e.phase("verify passes", func() {
		if got := e.verify("tedu", 0).Services[0].Counts; got["web1"] == 0 || got["web2"] == 0 {
			t.Errorf("verify after the restore: %v", got)
		}
	})
}

// cutOffStatus: status of the lab within 5 s, web1's causes in JSON and in
// the text's sentence, exit 1.
func cutOffStatus(e *e2e) {
	t := e.t
	start := time.Now()
	out, code := e.run("status", "tedu", "--output", "json")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("status took %s, want 5 s at most", took.Round(100*time.Millisecond))
	}
	var st []labCauses
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 1 {
		t.Fatalf("status --output json: %v\n%s", err, out)
	}
	kinds := ""
	for _, n := range st[0].Nodes {
		for _, c := range n.Causes {
			kinds += " " + n.Node + ":" + c.Kind
		}
	}
	if code != 1 || !strings.Contains(kinds, " web1:mgmt0-down") || !strings.Contains(kinds, " web1:sshd-stopped") {
		t.Errorf("status: exit %d, web1's causes %v; want 1 with mgmt0-down and sshd-stopped", code, kinds)
	}
	if text, _ := e.run("status", "tedu"); !strings.Contains(text, "mgmt0 is down and sshd is stopped") {
		t.Errorf("status does not name both causes:\n%s", text)
	}
}

// cutOffUp: up of the lab while the test polls web1's SSH every second;
// web1 must answer within 20 s of up's start, and up must pass.
func cutOffUp(e *e2e, nodes copyNodes) {
	t := e.t
	cmd := exec.Command(e.bin, "up", "tedu-nat")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	back := time.Duration(0)
	for back == 0 && time.Since(start) < time.Minute {
		probe := labSSH(nodes.lab, "web1", nodes.mgmt["web1"], "true")
		for i, a := range probe.Args {
			if a == "ConnectTimeout=5" {
				probe.Args[i] = "ConnectTimeout=1"
			}
		}
		if probe.Run() == nil {
			back = time.Since(start)
			break
		}
		time.Sleep(time.Second)
	}
	err := cmd.Wait()
	t.Logf("$ lvslab up tedu-nat  (%v, %s)\n%s", err, time.Since(start).Round(100*time.Millisecond), out.String())
	t.Logf("FIGURE web1 answers SSH again %.1fs after up started", back.Seconds())
	if err != nil {
		t.Fatalf("up after the cut: %v", err)
	}
	if back == 0 || back > 20*time.Second {
		t.Errorf("web1 answered SSH %s after up started, want 20 s at most", back.Round(100*time.Millisecond))
	}
	if !strings.Contains(out.String(), "restored lvslab's access through its guest agent: mgmt0 is down and sshd is stopped") {
		t.Errorf("up did not say what it restored")
	}
}
