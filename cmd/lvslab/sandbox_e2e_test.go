package main

// The sandbox that stays, end to end (make e2e-sandbox; root, 4 real VMs):
// what "make lab" and the README's next commands do, from the root
// namespace, in an lvslab home and under a namespace name of the test's own
// (a sandbox the machine's user started stays untouched).

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/sandbox"
)

func TestSandboxStartE2E(t *testing.T) {
	bin := e2eBinary(t)
	if cur := os.Getenv(sandbox.EnvName); cur != "" {
		t.Skipf("runs outside any sandbox (this one runs in %s)", cur)
	}
	home, name := t.TempDir(), fmt.Sprintf("lvslab-sbe2e-%d", os.Getpid())
	t.Setenv(paths.EnvHome, home)
	t.Setenv("LIBVIRT_DEFAULT_URI", "")
	e := &e2e{t: t, bin: bin}
	t.Cleanup(func() { exec.Command(bin, "sandbox", "stop").Run() })
	e.phase("image build (outside the sandbox)", func() { e.must("image", "build") })
	if _, code := e.run("sandbox", "status"); code != 1 {
		t.Fatalf("sandbox status before start: exit %d, want 1", code)
	}
	var st *sandbox.State
	e.phase("sandbox start", func() { st = e.startSandbox(home, name) })
	if out, code := combined(bin, "sandbox", "start", "--name", name); code != 2 || !strings.Contains(out, "runs already") {
		t.Errorf("a second start: exit %d\n%s", code, out)
	}
	if out := e.must("sandbox", "--", "sh", "-c", `echo "in=$LVSLAB_SANDBOX"; virsh -q -c qemu:///system net-list --all | grep -c . || true`); !strings.Contains(out, "in="+name+"\n0\n") {
		t.Errorf("sandbox -- CMD did not run in %s with an empty libvirt:\n%s", name, out)
	}
	shell := exec.Command(bin, "sandbox", "shell")
	shell.Env = append(os.Environ(), "SHELL=/bin/sh")
	shell.Stdin = strings.NewReader("echo \"shell=$LVSLAB_SANDBOX\"\n")
	if out, _ := shell.Output(); !strings.Contains(string(out), "shell="+name) {
		t.Errorf("sandbox shell did not run in %s: %q", name, out)
	}
	// The README's quick start, from the root namespace.
	e.phase("up (in the started sandbox)", func() { e.must("up") })
	pages := e.must("ssh", "client1", "--", "curl -s 192.168.4.5; echo; curl -s 192.168.4.5")
	if !strings.Contains(pages, "192.168.2.100") || !strings.Contains(pages, "apache web server2") {
		t.Errorf("the client's two requests did not reach both real servers:\n%s", pages)
	}
	e.phase("verify (in the started sandbox)", func() { e.must("verify") })
	if out, _ := exec.Command("ip", "-o", "link").Output(); strings.Contains(string(out), paths.MgmtBridge("tedu")) {
		t.Errorf("the lab's bridge %s is in the root namespace", paths.MgmtBridge("tedu"))
	}
	e.phase("sandbox stop", func() { e.stopSandbox(home, st) })

	// A sandbox whose daemons died: reported gone, cleared by the next start.
	st = e.startSandbox(home, name)
	for _, p := range st.Daemons {
		syscall.Kill(p.PID, syscall.SIGKILL)
	}
	for deadline := time.Now().Add(10 * time.Second); st.Running() && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if out, code := combined(bin, "sandbox", "status"); code != 1 || !strings.Contains(out, "is gone") {
		t.Errorf("status of a killed sandbox: exit %d\n%s", code, out)
	}
	st = e.startSandbox(home, name)
	e.stopSandbox(home, st)
}

// startSandbox starts the sandbox and checks its record and namespace.
func (e *e2e) startSandbox(home, name string) *sandbox.State {
	e.t.Helper()
	e.must("sandbox", "start", "--name", name)
	st, err := sandbox.Load(home)
	if err != nil || st == nil || st.Name != name || len(st.Daemons) != 2 || len(st.Gone()) != 0 {
		e.t.Fatalf("the record after start: %+v, %v", st, err)
	}
	if _, err := os.Stat("/run/netns/" + name); err != nil {
		e.t.Fatalf("no namespace after start: %v", err)
	}
	e.must("sandbox", "status")
	return st
}

// stopSandbox stops it and checks that nothing of it is left.
func (e *e2e) stopSandbox(home string, st *sandbox.State) {
	e.t.Helper()
	e.must("sandbox", "stop")
	if rec, _ := sandbox.Load(home); rec != nil {
		e.t.Errorf("the record is left after stop: %+v", rec)
	}
	if _, err := os.Stat("/run/netns/" + st.Name); !os.IsNotExist(err) {
		e.t.Errorf("namespace %s is left after stop: %v", st.Name, err)
	}
	if st.Running() {
		e.t.Errorf("daemons of the sandbox still run after stop: %+v", st.Daemons)
	}
	if _, code := e.run("sandbox", "status"); code != 1 {
		e.t.Errorf("sandbox status after stop: exit %d, want 1", code)
	}
}

// combined runs lvslab and returns its stdout and stderr together, and its
// exit code.
func combined(bin string, args ...string) (string, int) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	return string(out), 0
}
