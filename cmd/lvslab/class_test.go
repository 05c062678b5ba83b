package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision"
	"github.com/lvslab/lvslab/provision/class"
)

// runClass runs "lvslab class ARGS"; stdout and the exit code.
func runClass(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, progress bytes.Buffer
	app := &cli.App{Name: "lvslab", Writer: &out, ErrWriter: &progress, Commands: []*cli.Command{classCommand()},
		ExitErrHandler: func(*cli.Context, error) {}}
	err := app.Run(append([]string{"lvslab", "class"}, args...))
	code := 0
	if coder, ok := err.(cli.ExitCoder); ok {
		code = coder.ExitCode()
		out.WriteString(err.Error())
	} else if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if progress.Len() > 0 && !strings.Contains(strings.Join(args, " "), "json") {
		t.Fatalf("progress on stderr: %s", progress.String())
	}
	return out.String(), code
}

// A class over test:///default (where alice's copy exists, stopped, its
// record lost: only its tags say it is the class's) and a host that does
// not answer.
func TestClassCommands(t *testing.T) {
	home := t.TempDir()
	t.Setenv(provision.EnvHome, home)
	conn, err := libvirt.NewConnect("test:///default")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	lab, err := labs.Load("tedu-nat")
	if err != nil {
		t.Fatal(err)
	}
	lab.Name = "lvs-alice"
	mustDefine(t, conn.DomainDefineXML)(provision.DomainXML(lab, lab.Node("web1"), provision.DomainSpec{Type: "test",
		Overlay: "/p/a.qcow2", Seed: "/p/a.iso", ConsoleLog: t.TempDir() + "/a.log", Mgmt: "10.250.0.12"}))
	if err := provision.MarkCopy(conn, "lvs-alice", "lvs", "alice"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "class.yaml")
	os.WriteFile(file, []byte("name: lvs\nlab: tedu-nat\nstudents: [alice, bob]\nhosts:\n  - uri: test:///default\n  - uri: test+tcp://127.0.0.1:1/default\n"), 0o644)

	// The mock host reports a few MiB free: bob's copy fits nowhere, which
	// is said, per host, before anything is made.
	out, code := runClass(t, "up", file)
	for _, want := range []string{"class lvs does not fit: 1 of 2 copies have no host (bob)", "  test:///default: 1 copies placed, 3 MiB free", "  test+tcp://127.0.0.1:1/default: 0 copies placed, unreachable: cannot connect"} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("up: exit %d, missing %q in:\n%s", code, want, out)
		}
	}
	if _, err := os.Stat(class.RecordPath(home, "lvs")); !os.IsNotExist(err) {
		t.Errorf("a class that does not fit was recorded: %v", err)
	}

	// status: alice's copy found by its tags, its VMs not running; bob has
	// no copy. The table, JSON and the HTML page all say so.
	page := filepath.Join(t.TempDir(), "status.html")
	out, code = runClass(t, "status", "-o", "json", "--html", page, file)
	if code != 1 {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	var rep class.Report
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Rows) != 2 || rep.Rows[0].Host != "test:///default" || len(rep.Rows[0].Checks) != 4 || rep.Rows[1].Error == "" {
		t.Fatalf("%+v", rep)
	}
	if c, _ := rep.Rows[0].Cell("web1"); c.Status != "fail" || c.Detail != "web1's VM is shut off" {
		t.Errorf("web1: %+v", c)
	}
	if c, _ := rep.Rows[0].Cell("lvs1"); c.Detail != "lvs1 has no VM" {
		t.Errorf("lvs1: %+v", c)
	}
	if html, err := os.ReadFile(page); err != nil || !strings.Contains(string(html), `data-student="bob"`) {
		t.Errorf("page: %v", err)
	}
	out, code = runClass(t, "status", "--student", "carol", file)
	if code != 2 || !strings.Contains(out, "--student carol: not a student of class lvs (alice, bob)") {
		t.Errorf("status --student carol: %d %s", code, out)
	}

	// One ssh_config for the class: alice's node by its copy's name; bob
	// has no copy, which is said.
	out, code = runClass(t, "ssh-config", file)
	if code != 1 || !strings.Contains(out, "Host lvs-alice-web1\n  HostName 10.250.0.12\n") || strings.Contains(out, "Host lvs-alice-web1 web1") ||
		!strings.Contains(out, "lvslab class ssh-config: no copy for bob: no copy recorded") {
		t.Errorf("ssh-config: %d\n%s", code, out)
	}

	// down finds alice's copy by its tags alone and removes it.
	out, code = runClass(t, "down", file)
	if code != 0 || !strings.Contains(out, "[alice] down lvs-alice on test:///default") || !strings.Contains(out, "class lvs down: PASS, 1 of 1 students passed") {
		t.Fatalf("down: exit %d\n%s", code, out)
	}
	if copies, _ := provision.ClassCopies(conn, "lvs"); len(copies) != 0 {
		t.Errorf("left: %v", copies)
	}
	if _, err := os.Stat(class.RecordPath(home, "lvs")); !os.IsNotExist(err) {
		t.Errorf("record left: %v", err)
	}

	// A wrong class file is exit code 2, placed.
	os.WriteFile(file, []byte("name: lvs\nlab: tedu-nat\nstudent: [a]\n"), 0o644)
	if out, code = runClass(t, "check", file); code != 2 || !strings.Contains(out, `class.yaml:3:1: student: unknown field "student" (did you mean "students"?)`) {
		t.Errorf("check of a wrong file: %d %s", code, out)
	}
}
