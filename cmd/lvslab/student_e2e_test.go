package main

// The student's end-to-end scenario (make e2e-student, LVSLAB_E2E=1, root):
// a bare tedu-nat lab, the handout's text typed line by line over "lvslab
// ssh" with two mistakes and two things forgotten, "check" naming each, the
// fixes, "check" passing, the expected results; then the NAT->DR stage's
// handout, check and verify tedu-dr, a reboot, "check" passing again.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
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

// handoutLine is one command line of a handout's text and the node it
// is typed on.
type handoutLine struct{ node, command string }

// handoutText is a text handout as a student reads it: the command lines
// of its steps in order, each under the node its "## NODE (role)" heading
// names, and its expected results: a command and the lines it prints.
type handoutText struct {
	steps  []handoutLine
	expect []handoutExpect
}

type handoutExpect struct {
	handoutLine
	prints []string
}

// parseHandout reads the text of "lvslab plan": every line that is not
// empty and does not start with # is a command; the expected results come
// after "# ==== Expected results ====", each under "# On NODE," with the
// lines after "# prints:".
func parseHandout(t *testing.T, text string) handoutText {
	t.Helper()
	var h handoutText
	node, expected, printing := "", false, false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "# ==== Expected results"):
			expected = true
		case strings.HasPrefix(line, "## "):
			node = strings.Fields(line)[1]
		case expected && strings.HasPrefix(line, "# On "):
			node = strings.TrimSuffix(strings.Fields(line)[2], ",")
			printing = false
		case expected && line == "# prints:":
			printing = true
		case printing && strings.HasPrefix(line, "#   "):
			e := &h.expect[len(h.expect)-1]
			e.prints = append(e.prints, strings.TrimPrefix(line, "#   "))
		case strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "":
			printing = false
		case node == "":
			t.Fatalf("the handout has a command before any node: %q", line)
		case expected:
			h.expect = append(h.expect, handoutExpect{handoutLine: handoutLine{node, line}})
		default:
			h.steps = append(h.steps, handoutLine{node, line})
		}
	}
	if len(h.steps) == 0 {
		t.Fatalf("no command lines in the handout:\n%s", text)
	}
	return h
}

// typeLine types one command line of a handout on its node over "lvslab
// ssh NODE -- LINE": the node's login shell reads it as the student's does.
func (e *e2e) typeLine(l handoutLine) string {
	e.t.Helper()
	cmd := exec.Command(e.bin, "ssh", l.node, "--", l.command)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	fmt.Printf("%s# %s\n%s", l.node, l.command, out.String())
	if err != nil {
		e.t.Fatalf("on %s, the handout's line %q failed: %v\n%s", l.node, l.command, err, out.String())
	}
	return out.String()
}

// expectResults runs the handout's expected results and compares what they
// print with what the handout says: the request loop's replies as a
// multiset (the loop may start anywhere in the scheduler's cycle, and a
// least-connection scheduler's order depends on the connections the
// director still holds: verify judges the order), the table's lines but
// the connection counters.
func (e *e2e) expectResults(h handoutText) {
	e.t.Helper()
	if len(h.expect) == 0 {
		e.t.Fatal("the handout shows no expected results")
	}
	for _, x := range h.expect {
		got := strings.Split(strings.TrimRight(e.typeLine(x.handoutLine), "\n"), "\n")
		if strings.Contains(x.command, "curl") {
			if !sameReplies(got, x.prints) {
				e.t.Errorf("%s: the loop printed %q, the handout says %q (in any order)", x.command, got, x.prints)
			}
			continue
		}
		if len(got) != len(x.prints) {
			e.t.Errorf("%s printed %d lines, the handout shows %d:\n%s", x.command, len(got), len(x.prints), strings.Join(got, "\n"))
			continue
		}
		for i := range got {
			if g, w := tableFields(got[i]), tableFields(x.prints[i]); g != w {
				e.t.Errorf("%s line %d: %q, the handout shows %q", x.command, i+1, g, w)
			}
		}
	}
}

// sameReplies says whether got holds the replies of want, as many times
// each.
func sameReplies(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// tableFields is an ipvsadm -Ln line without its connection counters.
func tableFields(line string) string {
	f := strings.Fields(line)
	if len(f) == 6 && f[0] == "->" {
		f = f[:4]
	}
	return strings.Join(f, " ")
}

// reboot reboots every node and waits until all answer again.
func (e *e2e) reboot() {
	e.t.Helper()
	// detached, so that each session ends before its node goes down
	e.must("exec", "--all", "--", "nohup sh -c 'sleep 2; systemctl reboot' >/dev/null 2>&1 &")
	time.Sleep(10 * time.Second)
	deadline := time.Now().Add(6 * time.Minute)
	for {
		if _, code := e.run("exec", "--all", "--", "cat /proc/uptime"); code == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatal("the nodes did not come back after the reboot")
		}
		time.Sleep(5 * time.Second)
	}
}

func TestStudentE2EInner(t *testing.T) {
	e := insideSandbox(t, "TestStudentE2E")
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
	// The student types the handout's text, line by line, with two classic
	// mistakes, and forgets two more things.
	nat := parseHandout(t, e.must("plan", "tedu-nat"))
	mistakes := map[string]string{
		"lvs1": "net.ipv4.ip_forward = 1",
		"web1": "Gateway=192.168.2.5",
	}
	wrong := map[string]string{
		"lvs1": "net.ipv4.ip_forward = 0",
		"web1": "Gateway=192.168.2.254",
	}
	e.phase("the NAT handout, typed with mistakes", func() {
		made := 0
		for _, l := range nat.steps {
			if m, ok := mistakes[l.node]; ok && strings.Contains(l.command, m) {
				l.command = strings.Replace(l.command, m, wrong[l.node], 1)
				made++
			}
			e.typeLine(l)
		}
		if made != len(mistakes) {
			t.Fatalf("%d of the %d mistakes were made: the handout's lines changed", made, len(mistakes))
		}
		e.must("ssh", "web2", "--", "systemctl", "stop", "apache2")
		e.must("ssh", "lvs1", "--", "systemctl", "disable", "ipvsadm")
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
			if _, ok := f[fact]; !ok {
				t.Errorf("check does not fail %q: %v", fact, f)
				continue
			}
			if got := f[fact]; !strings.Contains(got[0], hint) || got[1] == "" {
				t.Errorf("%s: hint %q fix %q", fact, got[0], got[1])
			}
		}
		for fact := range f {
			if !strings.HasPrefix(fact, "lvs1: sysctl") && fact != "lvs1: ipvs rules at boot" && !strings.HasPrefix(fact, "web1: gateway") && !strings.HasPrefix(fact, "web2: ") {
				t.Errorf("check fails %q, which the student did right", fact)
			}
		}
	})
	e.phase("fix as a student does", func() {
		e.typeLine(handoutLine{"lvs1", "sed -i 's/net.ipv4.ip_forward = 0/net.ipv4.ip_forward = 1/' /etc/sysctl.conf"})
		e.typeLine(handoutLine{"lvs1", "sysctl -p"})
		e.typeLine(handoutLine{"lvs1", "systemctl enable ipvsadm"})
		for _, l := range nat.steps {
			if l.node == "web1" && strings.Contains(l.command, mistakes["web1"]) {
				e.typeLine(l)
			}
		}
		e.typeLine(handoutLine{"web1", "systemctl restart systemd-networkd"})
		e.typeLine(handoutLine{"web2", "systemctl start apache2"})
	})
	e.phase("check passes", func() { e.check(0) })
	e.phase("the NAT handout's expected results", func() { e.expectResults(nat) })
	e.phase("check tedu-dr on the NAT VMs: that stage fails", func() {
		f := e.check(1, "tedu-dr", "--node", "web1").failed()
		if _, ok := f["web1: vip lo:0"]; !ok {
			t.Errorf("tedu-dr's web1 VIP passes on the NAT lab: %v", f)
		}
	})
	dr := parseHandout(t, e.must("plan", "tedu-dr", "--from", "tedu-nat"))
	e.phase("the DR stage handout, typed", func() {
		for _, l := range dr.steps {
			e.typeLine(l)
		}
	})
	e.phase("check and verify tedu-dr", func() {
		e.check(0, "tedu-dr")
		e.verify("tedu-dr", 0)
	})
	e.phase("the DR stage's expected results", func() { e.expectResults(dr) })
	e.phase("reboot every node, check passes again", func() {
		e.reboot()
		e.check(0, "tedu-dr")
	})
	e.phase("down", func() { e.must("down", "tedu") })
}
