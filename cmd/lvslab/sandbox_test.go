package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/sandbox"
)

// Which command lines run inside a started sandbox: the commands that talk
// to libvirt (they take --connect), unless a libvirt was named or they run
// in a sandbox already.
func TestRunsInSandbox(t *testing.T) {
	app := newApp()
	none := func(string) string { return "" }
	for _, c := range []struct {
		args string
		want bool
	}{
		{"up", true},
		{"up tedu-dr --as alice", true},
		{"deploy tedu-nat", true}, // a field word for up
		{"--debug status", true},
		{"-q ls", true},
		{"ssh web1", true},
		{"ssh c", true}, // a node named like connect's short flag
		{"ssh web1 -- ls -c /", true},
		{"verify tedu -r 20 --loop-timeout 30s", true},
		{"--progress json up", true},
		{"status -l tedu", true},
		{"check --node web1", true},
		{"drill fail web1 --lab tedu-dr", true},
		{"ipvs stats", true},
		{"down --all", true},
		{"up --connect qemu:///session", false},
		{"up -c qemu:///session", false},
		{"status --connect=qemu+ssh://root@hv1/system", false},
		{"up --help", false},
		{"ls -h", false},
		{"up --generate-bash-completion", false},
		{"labs", false},
		{"validate my.yaml", false},
		{"plan tedu-nat", false},
		{"image build", false},
		{"class up class.yaml", false},
		{"sandbox start", false},
		{"sandbox -- lvslab up", false},
		{"help up", false},
		{"", false},
		{"frobnicate", false},
	} {
		args := append([]string{"lvslab"}, strings.Fields(c.args)...)
		if got := runsInSandbox(app, args, none); got != c.want {
			t.Errorf("lvslab %s: in the sandbox %v, want %v", c.args, got, c.want)
		}
	}
	for _, env := range []string{"LIBVIRT_DEFAULT_URI", sandbox.EnvName} {
		getenv := func(k string) string {
			if k == env {
				return "set"
			}
			return ""
		}
		if runsInSandbox(app, []string{"lvslab", "up"}, getenv) {
			t.Errorf("with $%s set, up runs in the started sandbox", env)
		}
	}
}

// sandboxHome is an lvslab home of the test's own, with no sandbox
// running from the test's point of view.
func sandboxHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv(paths.EnvHome, home)
	t.Setenv(sandbox.EnvName, "")
	return home
}

func TestSandboxWithoutARunningSandbox(t *testing.T) {
	sandboxHome(t)
	if code, _, stderr := lvslab(t, "sandbox", "status"); code != 1 || !strings.Contains(stderr, noSandbox()+` ("lvslab sandbox start" starts one)`) {
		t.Errorf("status: exit %d %q", code, stderr)
	}
	if code, stdout, _ := lvslab(t, "sandbox", "stop"); code != 0 || stdout != noSandbox()+"\n" {
		t.Errorf("stop: exit %d %q", code, stdout)
	}
	if code, _, stderr := lvslab(t, "sandbox"); code != 2 || !strings.Contains(stderr, "start, shell, status, stop, or -- COMMAND") {
		t.Errorf("sandbox alone: exit %d %q", code, stderr)
	}
}

// A record whose daemons are gone: status says so (exit 1) and stop clears
// it.
func TestSandboxStaleRecord(t *testing.T) {
	home := sandboxHome(t)
	name := fmt.Sprintf("lvslab-unit-%d", os.Getpid()) // no such namespace
	record := fmt.Sprintf(`{"name": %q, "started": "2026-01-02T03:04:05Z", "daemons": [{"name": "libvirtd", "pid": 1073741824, "start": 5}]}`, name)
	if err := os.WriteFile(filepath.Join(home, sandbox.StateFileName), []byte(record), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := lvslab(t, "sandbox", "status")
	if code != 1 || !strings.Contains(stdout, "libvirtd  pid 1073741824 gone") ||
		!strings.Contains(stderr, "sandbox "+name+`: libvirtd is gone ("lvslab sandbox stop" removes what is left`) {
		t.Errorf("status of a dead sandbox: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := lvslab(t, "sandbox", "stop"); code != 0 || stdout != "sandbox "+name+" stopped: its labs, daemons and network namespace are gone\n" {
		t.Errorf("stop of a dead sandbox: exit %d %q %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(home, sandbox.StateFileName)); !os.IsNotExist(err) {
		t.Errorf("the record is left: %v", err)
	}
	os.WriteFile(filepath.Join(home, sandbox.StateFileName), []byte("{"), 0o644)
	if code, _, stderr := lvslab(t, "sandbox", "status"); code != 2 || !strings.Contains(stderr, "damaged") {
		t.Errorf("status of a damaged record: exit %d %q", code, stderr)
	}
}

// The README, the Makefile and the helps that speak of the sandbox say the
// same: a workstation's own libvirtd needs none, "sandbox start" once
// otherwise, and make lab leaves the lab running in it.
func TestSandboxAdviceAgrees(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	texts := goSources(t)
	texts["README"], texts["Makefile"] = string(readme), string(mk)
	for what, text := range texts {
		for _, bad := range []string{"sandbox -- lvslab up", "sandbox -- sh -c '$(BIN) up", `lvslab sandbox -- ...`} {
			if strings.Contains(text, bad) {
				t.Errorf("%s still advises %q, whose lab vanishes at once", what, bad)
			}
		}
	}
	need := strings.Join(strings.Fields(sandboxNeed), " ")
	for what, text := range map[string]string{"README": string(readme), "up --help": upCommand().Description, "sandbox --help": sandboxCommand().Description} {
		if !strings.Contains(strings.Join(strings.Fields(text), " "), need) {
			t.Errorf("%s does not say when a sandbox is needed as sandboxNeed does", what)
		}
	}
	if !strings.Contains(string(mk), "$(BIN) sandbox start") {
		t.Error("make lab does not start a sandbox that stays")
	}
}
