package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/class/serve"

	"github.com/urfave/cli/v2"
	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision/class"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
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

// classHost is a fresh LVSLAB_HOME and a connection to test:///default
// that keeps the mock's state alive between the commands' own connections.
func classHost(t *testing.T) (string, *libvirt.Connect) {
	t.Helper()
	home := t.TempDir()
	t.Setenv(paths.EnvHome, home)
	conn, err := libvirt.NewConnect("test:///default")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return home, conn
}

// A class over test:///default (where alice's copy exists, stopped, its
// record lost: only its tags say it is the class's) and a host that does
// not answer.
func TestClassCommands(t *testing.T) {
	home, conn := classHost(t)
	lab, err := labs.Load("tedu-nat")
	if err != nil {
		t.Fatal(err)
	}
	lab.Name = "lvs-alice"
	mustDefine(t, conn.DomainDefineXML)(host.DomainXML(lab, lab.Node("web1"), host.DomainSpec{Type: "test",
		Overlay: "/p/a.qcow2", Seed: "/p/a.iso", ConsoleLog: t.TempDir() + "/a.log", Mgmt: "10.250.0.12", Class: "lvs", Student: "alice"}))
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
	if _, err := os.Stat(paths.InHome(home).ClassRecord("lvs")); !os.IsNotExist(err) {
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

	// check and verify find alice's copy too (its VMs do not run: an
	// error row, not "no copy recorded").
	for cmd, want := range map[string]string{"check": "web1's VM lvs-alice-web1 is shut off", "verify": "node client1 of lab lvs-alice has no VM"} {
		out, code = runClass(t, cmd, "-o", "json", file)
		var rep class.Report
		if err := json.NewDecoder(strings.NewReader(out)).Decode(&rep); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		if len(rep.Rows) != 2 {
			t.Fatalf("%s: %+v", cmd, rep)
		}
		said := rep.Rows[0].Error
		for _, c := range rep.Rows[0].Checks {
			said += "\n" + c.Detail
		}
		if code == 0 || rep.Rows[0].Host != "test:///default" || !strings.Contains(said, want) {
			t.Errorf("%s: exit %d, alice's row lacks %q: %+v", cmd, code, want, rep.Rows)
		}
	}

	// down finds alice's copy by its tags alone and removes it.
	out, code = runClass(t, "down", file)
	if code != 0 || !strings.Contains(out, "[alice] down lvs-alice on test:///default") || !strings.Contains(out, "class lvs down: PASS, 1 of 1 students passed") {
		t.Fatalf("down: exit %d\n%s", code, out)
	}
	if copies, _ := host.ClassCopies(conn, "lvs"); len(copies) != 0 {
		t.Errorf("left: %v", copies)
	}
	if _, err := os.Stat(paths.InHome(home).ClassRecord("lvs")); !os.IsNotExist(err) {
		t.Errorf("record left: %v", err)
	}

	// A wrong class file is exit code 2, placed.
	os.WriteFile(file, []byte("name: lvs\nlab: tedu-nat\nstudent: [a]\n"), 0o644)
	if out, code = runClass(t, "check", file); code != 2 || !strings.Contains(out, `class.yaml:3:1: student: unknown field "student" (did you mean "students"?)`) {
		t.Errorf("check of a wrong file: %d %s", code, out)
	}
}

// class up hands the class and student to up, which writes them into the
// copy's tags as it defines its VMs; so it refuses a copy whose VMs are
// another class's (class lvs-a's copy of student b and class lvs's of
// student a-b are both lvs-a-b), and leaves that class's copy as it was.
func TestClassUpWritesItsMark(t *testing.T) {
	home, conn := classHost(t)
	// The lab on a disk file of its own: no image store needed.
	dir := t.TempDir()
	src, err := labs.Get("tedu-nat")
	if err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(dir, "disk.img")
	os.WriteFile(disk, make([]byte, 1<<20), 0o644)
	os.WriteFile(filepath.Join(dir, "lab.yaml"), bytes.Replace(src, []byte("image: debian-12"), []byte("image: "+disk), 1), 0o644)
	lab, err := labs.Load(filepath.Join(dir, "lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lab.Name = "lvs-a-b"
	mustDefine(t, conn.DomainDefineXML)(host.DomainXML(lab, lab.Node("web1"), host.DomainSpec{Type: "test",
		Overlay: "/p/b.qcow2", Seed: "/p/b.iso", ConsoleLog: dir + "/b.log", Mgmt: "10.250.0.12", Class: "lvs-a", Student: "b"}))
	// Class lvs placed a-b on the mock host before (its few MiB free
	// would place nothing new).
	rec, err := class.ReadRecord(paths.InHome(home), "lvs")
	if err != nil {
		t.Fatal(err)
	}
	rec.Set("a-b", "test:///default", "lvs-a-b")
	if err := rec.Write(paths.InHome(home)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "class.yaml")
	os.WriteFile(file, []byte("name: lvs\nlab: lab.yaml\nstudents: [a-b]\nhosts:\n  - uri: test:///default\n"), 0o644)

	out, code := runClass(t, "up", "--accel", "tcg", file)
	want := `domain lvs-a-b-web1 is student b's copy of class lvs-a, not student a-b's of class lvs: lvslab will not take it over; "lvslab class down" with class lvs-a's file (or "lvslab down lvs-a-b") removes it, or rename the class`
	if code != 1 || !strings.Contains(out, "[a-b] up FAILED: "+want) {
		t.Fatalf("up: exit %d, want %q in:\n%s", code, want, out)
	}
	if copies, _ := host.ClassCopies(conn, "lvs"); len(copies) != 0 {
		t.Errorf("class lvs took over: %v", copies)
	}
	if copies, _ := host.ClassCopies(conn, "lvs-a"); len(copies) != 1 || copies["lvs-a-b"] != "b" {
		t.Errorf("class lvs-a's copy: %v", copies)
	}
	inv, err := host.DiscoverLab(conn, "", "lvs-a-b")
	if err != nil || len(inv.Domains) != 1 {
		t.Fatalf("the refused up changed the copy: %+v %v", inv, err)
	}
}

// class credentials prints each new passphrase once: a second run prints
// JSON with no slip (not nothing), --rotate-all gives everyone a new one,
// and only hashes stay on disk.
func TestClassCredentials(t *testing.T) {
	home := t.TempDir()
	t.Setenv(paths.EnvHome, home)
	file := filepath.Join(t.TempDir(), "class.yaml")
	os.WriteFile(file, []byte("name: lvs\nlab: tedu-nat\nstudents: [alice, bob]\nhosts:\n  - uri: test:///default\n"), 0o644)
	slips := func(args ...string) []serve.Slip {
		t.Helper()
		out, code := runClass(t, append([]string{"credentials", "-o", "json"}, append(args, file)...)...)
		var s []serve.Slip
		if err := json.Unmarshal([]byte(out), &s); code != 0 || err != nil {
			t.Fatalf("class credentials %v: exit %d, %v: %q", args, code, err, out)
		}
		return s
	}
	first := slips()
	if len(first) != 3 || first[0].Name != serve.Teacher {
		t.Fatalf("first slips: %+v, want the teacher's, alice's and bob's", first)
	}
	if again := slips(); len(again) != 0 {
		t.Errorf("a second run printed passphrases again: %+v", again)
	}
	rotated := slips("--rotate-all")
	if len(rotated) != 3 || rotated[1].Passphrase == first[1].Passphrase {
		t.Errorf("--rotate-all: %+v", rotated)
	}
	data, err := os.ReadFile(paths.InHome(home).CredentialsFile("lvs"))
	if err != nil || strings.Contains(string(data), rotated[1].Passphrase) {
		t.Errorf("the credentials file holds a passphrase in clear (err %v)", err)
	}
}

// issue 25: class validate checks a class file as validate checks a lab:
// every problem at file:line:col, exit code 1; a valid one is said so.
func TestClassValidate(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "class.yaml"), filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("name: lvs\nlab: tedu-nat\nstudents: [alice, bob]\nhosts:\n  - uri: qemu+ssh://root@hv1/system\n"), 0o644)
	os.WriteFile(bad, []byte("name: lvs\nlab: tedu-nat\nstudent: [a]\nbatch: 99\n"), 0o644)
	code, out, stderr := lvslab(t, "class", "validate", good)
	if code != 0 || out != good+`: class "lvs" is valid: lab "tedu" (embedded:tedu-nat), 2 students, 1 hosts`+"\n" {
		t.Errorf("a valid class file: exit %d, %q %q", code, out, stderr)
	}
	code, out, stderr = lvslab(t, "class", "validate", bad)
	for _, want := range []string{bad + `:3:1: student: unknown field "student" (did you mean "students"?)`, bad + ":4:8: batch: 99: copies brought up at a time, 1 to 64"} {
		if code != 1 || out != "" || !strings.Contains(stderr, want) {
			t.Errorf("a wrong class file: exit %d, stdout %q, stderr lacks %q:\n%s", code, out, want, stderr)
		}
	}
	code, _, stderr = lvslab(t, "class", "validate", filepath.Join(dir, "none.yaml"))
	if code != 1 || !strings.Contains(stderr, "no class file") {
		t.Errorf("no class file: exit %d, %q", code, stderr)
	}
}
