package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/lab"
	"github.com/lvslab/lvslab/provision/paths"
)

// runLifecycle runs "lvslab ARGS" with the up, down and status commands.
func runLifecycle(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := &cli.App{Name: "lvslab", Writer: &out, ErrWriter: &out,
		Commands:       []*cli.Command{upCommand(), downCommand(), statusCommand(), lsCommand(), verifyCommand()},
		ExitErrHandler: func(*cli.Context, error) {}} // no os.Exit in tests
	err := app.Run(append([]string{"lvslab"}, args...))
	return out.String(), err
}

// defineStopped defines the tedu-nat lab's networks and one stopped node on
// test:///default (a stopped node is never probed over the network), under
// a fresh LVSLAB_HOME. The commands open their own connections; the one
// opened here, returned, keeps the mock's state alive between them until
// the test ends.
func defineStopped(t *testing.T) *libvirt.Connect {
	t.Helper()
	t.Setenv(paths.EnvHome, t.TempDir())
	conn, err := libvirt.NewConnect("test:///default")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	lab, err := labs.Load("tedu-nat")
	if err != nil {
		t.Fatal(err)
	}
	for _, nw := range lab.Networks {
		mustDefine(t, conn.NetworkDefineXML)(host.NetworkXML(lab, nw))
	}
	mustDefine(t, conn.DomainDefineXML)(host.DomainXML(lab, lab.Node("web1"), host.DomainSpec{Type: "test",
		Overlay: "/p/tedu_web1.qcow2", Seed: "/p/tedu_web1.seed.iso", ConsoleLog: t.TempDir() + "/tedu-web1.log"}))
	return conn
}

// mustDefine defines a libvirt object with def from the XML it is given
// (or fails the test on either error) and frees it.
func mustDefine[T interface{ Free() error }](t *testing.T, def func(string) (T, error)) func(string, error) {
	return func(x string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		o, err := def(x)
		if err != nil {
			t.Fatal(err)
		}
		o.Free()
	}
}

func TestStatusAndDownCommands(t *testing.T) {
	defineStopped(t)

	// A VM that is shut off is exit code 1, named, with the way out; the
	// lab file its tags name lists the nodes that have no VM at all.
	out, err := runLifecycle(t, "status", "--connect", "test:///default", "--output", "json")
	if coder, ok := err.(cli.ExitCoder); !ok || coder.ExitCode() != 1 ||
		err.Error() != `lvslab status: lab tedu: client1 has no VM, lvs1 has no VM, web1's VM is shut off, web2 has no VM ("lvslab up tedu-nat" starts and configures them)` {
		t.Fatalf("status of a stopped lab: %v", err)
	}
	var st []lab.LabStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The tags name the lab file: its nodes are listed, those without a VM
	// as missing, with their lab addresses.
	if len(st) != 1 || st[0].Lab != "tedu" || len(st[0].Nodes) != 4 || st[0].Nodes[2].State != "shut off" || st[0].Nodes[0].State != "missing" ||
		len(st[0].Nodes[2].Addresses) != 1 || len(st[0].Networks) != 2 {
		t.Errorf("status %+v", st)
	}
	out, err = runLifecycle(t, "ls", "--connect", "test:///default")
	if err != nil || !regexp.MustCompile(`(?m)^tedu\s+tedu-nat\s+0/1\s+-$`).MatchString(out) {
		t.Errorf("ls: %v\n%s", err, out)
	}
	// With the lab file, the nodes without a VM show as missing.
	out, err = runLifecycle(t, "status", "--connect", "test:///default", "tedu-nat")
	if err == nil || !strings.Contains(err.Error(), "client1 has no VM, lvs1 has no VM, web1's VM is shut off, web2 has no VM") {
		t.Fatalf("status with the lab file: %v", err)
	}
	for _, want := range []string{"lab tedu (from embedded:tedu-nat)", "client1", "missing", "web1", "shut off", "network tedu-private1"} {
		if !strings.Contains(out, want) {
			t.Errorf("status text lacks %q:\n%s", want, out)
		}
	}

	// "tedu" is no lab file: it is the lab's name.
	out, err = runLifecycle(t, "down", "--connect", "test:///default", "tedu")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"removed domain tedu-web1", "removed network tedu-private1", "removed network tedu-private2", "lab tedu removed"} {
		if !strings.Contains(out, want) {
			t.Errorf("down output lacks %q:\n%s", want, out)
		}
	}
	out, err = runLifecycle(t, "down", "--connect", "test:///default", "tedu-nat")
	if err != nil || !strings.Contains(out, "nothing of lab tedu was left") {
		t.Errorf("second down: %v\n%s", err, out)
	}
	out, err = runLifecycle(t, "status", "--connect", "test:///default")
	if err != nil || !strings.Contains(out, "no lvslab lab found") {
		t.Errorf("status after down: %v\n%s", err, out)
	}
}

func TestDownSelector(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // error substring, or "" for success
	}{
		{[]string{"down", "--name", "x", "--all"}, "give one of LAB (or --lab LAB) and --all"},
		{[]string{"down", "-l", "x", "--all"}, "give one of LAB (or --lab LAB) and --all"},
		{[]string{"down", "--lab", "b", "a"}, "two labs given, a and --lab b: give one"},
		{[]string{"down", "a", "b"}, "one of LAB"},
		{[]string{"down", "./no/such.yaml"}, "no/such.yaml"},
		{[]string{"status", "--output", "yaml"}, "--output"},
		{[]string{"up", "--as", "Bad_Name", "tedu-nat"}, "--as \"Bad_Name\": a lab name is"},
		{[]string{"verify", "nosuchlab"}, "no lab named nosuchlab runs here"},
		{[]string{"ls", "extra"}, "takes no argument"},
	} {
		args := append([]string{c.args[0], "--connect", "test:///default"}, c.args[1:]...)
		_, err := runLifecycle(t, args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.args, err, c.want)
		}
	}
}

func TestLifecycleHelp(t *testing.T) {
	for _, cmd := range []string{"up", "down", "status"} {
		out, err := runLifecycle(t, cmd, "--help")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "--connect") {
			t.Errorf("%s --help:\n%s", cmd, out)
		}
	}
	// up --help lists the steps of the pipeline itself, in order.
	out, _ := runLifecycle(t, "up", "--help")
	at := 0
	for _, s := range lab.Stages() {
		i := strings.Index(out[at:], "   "+s.Name+" ")
		if i < 0 {
			t.Fatalf("up --help does not list stage %s after position %d:\n%s", s.Name, at, out)
		}
		at += i + len(s.Name)
	}
}
