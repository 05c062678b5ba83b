package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/lab"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
)

// issue 14: an unknown command is exit code 2, names the nearest command.
func TestUnknownCommandSuggestsNearest(t *testing.T) {
	cases := []struct{ args, want []string }{
		{[]string{"frobnicate"}, []string{`lvslab: unknown command "frobnicate"`, `"lvslab --help" lists the commands`}},
		{[]string{"valdiate"}, []string{`unknown command "valdiate". Did you mean "validate"?`}},
		{[]string{"help", "statsu"}, []string{`unknown command "statsu". Did you mean "status"?`}},
		{[]string{"image", "bulid"}, []string{`lvslab image: unknown command "bulid". Did you mean "build"?`, `"lvslab image --help"`}},
		{[]string{"drill", "fial", "web1"}, []string{`lvslab drill: unknown command "fial". Did you mean "fail"?`}},
	}
	for _, c := range cases {
		code, _, stderr := lvslab(t, c.args...)
		if code != 2 {
			t.Errorf("lvslab %s: exit code %d, want 2", strings.Join(c.args, " "), code)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("lvslab %s: stderr %q lacks %q", strings.Join(c.args, " "), stderr, w)
			}
		}
		if strings.Contains(stderr, "sandbox-inner") {
			t.Errorf("lvslab %s suggests a hidden command: %q", strings.Join(c.args, " "), stderr)
		}
	}
	if code, stdout, _ := lvslab(t); code != 0 || !strings.Contains(stdout, "COMMANDS:") {
		t.Errorf("lvslab alone: exit %d, want 0 and the help", code)
	}
	if code, stdout, _ := lvslab(t, "help", "plan"); code != 0 || !strings.Contains(stdout, "lvslab plan") {
		t.Errorf("lvslab help plan: exit %d\n%s", code, stdout)
	}
}

// issue 13: both reproductions of the flag-order bug.
func TestPlanValueFlagsBeforeLab(t *testing.T) {
	code, out, stderr := lvslab(t, "plan", "--format", "script", "--node", "lvs1", "tedu-nat")
	if code != 0 || !strings.HasPrefix(out, "#!/bin/sh\n") || !strings.Contains(out, "node lvs1 ") || strings.Contains(out, "node web1 ") {
		t.Fatalf("plan --format script --node lvs1 tedu-nat: exit %d, %s\n%.300s", code, stderr, out)
	}
	code, out, stderr = lvslab(t, "plan", "--os", "rhel", "--format", "json", "tedu-dr")
	var plan struct {
		Lab   string `json:"lab"`
		Nodes []any  `json:"nodes"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &plan) != nil || plan.Lab != "tedu" || len(plan.Nodes) != 4 {
		t.Fatalf("plan --os rhel --format json tedu-dr: exit %d, %s\n%.300s", code, stderr, out)
	}
}

// plan and graph take -o like every other command; --format still works.
func TestOutputFlagAndOldFormatAlias(t *testing.T) {
	for _, c := range [][2][]string{
		{{"plan", "tedu-dr", "-o", "script", "--node", "lvs1"}, {"plan", "tedu-dr", "--format", "script", "--node", "lvs1"}},
		{{"plan", "-o", "json", "tedu-nat"}, {"plan", "-f", "json", "tedu-nat"}},
		{{"graph", "tedu-dr", "--output", "mermaid"}, {"graph", "tedu-dr", "--format=mermaid"}},
	} {
		code1, out1, _ := lvslab(t, c[0]...)
		code2, out2, _ := lvslab(t, c[1]...)
		if code1 != 0 || code2 != 0 || out1 != out2 || out1 == "" {
			t.Errorf("%q (exit %d) and %q (exit %d) differ", c[0], code1, c[1], code2)
		}
	}
	code, _, stderr := lvslab(t, "plan", "-o", "yaml")
	if code != 2 || !strings.Contains(stderr, `--output "yaml": use text, markdown, html, script or json`) {
		t.Errorf("plan -o yaml: exit %d, %q", code, stderr)
	}
	code, _, stderr = lvslab(t, "graph", "--format", "png")
	if code != 2 || !strings.Contains(stderr, `--format "png": use ascii, dot or mermaid`) {
		t.Errorf("graph --format png: exit %d, %q", code, stderr)
	}
	_, help, _ := lvslab(t, "plan", "--help")
	if !strings.Contains(help, "--output FORMAT, -o FORMAT") || strings.Contains(help, "--format value") {
		t.Errorf("plan --help shows:\n%s", help)
	}
}

func TestLabsAndImageListAsJSON(t *testing.T) {
	code, out, stderr := lvslab(t, "labs", "-o", "json")
	var list []labEntry
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("labs -o json: exit %d, %s\n%s", code, stderr, out)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Embedded)
		if l.Lab == "" || len(l.Nodes) == 0 || l.Default != (l.Embedded == labs.Default) {
			t.Errorf("entry %+v", l)
		}
	}
	if !slices.Equal(names, labs.Names()) {
		t.Errorf("labs -o json lists %v, want %v", names, labs.Names())
	}

	dir := t.TempDir()
	code, out, _ = lvslab(t, "image", "ls", "--dir", dir, "-o", "json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("image ls -o json on an empty store: exit %d, %q", code, out)
	}
	// A built image as the store keeps it: its manifest beside the disk.
	img := filepath.Join(dir, "debian-12")
	os.MkdirAll(img, 0o755)
	for _, f := range []string{"disk.qcow2", "vmlinuz", "initrd.img"} {
		os.WriteFile(filepath.Join(img, f), []byte("x"), 0o644)
	}
	os.WriteFile(filepath.Join(img, "image.json"), []byte(`{"name":"debian-12","suite":"bookworm","kernel_version":"6.1.0-28-amd64","disk_bytes":270000000}`), 0o644)
	code, out, stderr = lvslab(t, "image", "ls", "--dir", dir, "-o", "json")
	var images []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &images) != nil || len(images) != 1 ||
		images[0]["name"] != "debian-12" || images[0]["suite"] != "bookworm" || images[0]["dir"] != img {
		t.Errorf("image ls -o json: exit %d, %s\n%s", code, stderr, out)
	}
}

func TestVersionIsNeverDev(t *testing.T) {
	saved := version
	defer func() { version = saved }()
	version = "v1.4.0-3-gabc1234"
	if code, out, _ := lvslab(t, "--version"); code != 0 || out != "lvslab version v1.4.0-3-gabc1234\n" {
		t.Errorf("--version: %q", out)
	}
	version = ""
	if v := buildVersion(); v == "" || v == "dev" {
		t.Errorf("without -ldflags the version is %q", v)
	}
	// The Makefile's build stamps it from git.
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^build:.*\n\t\$\(GO\) build -ldflags '\$\(LDFLAGS\)'`).Match(mk) ||
		!regexp.MustCompile(`(?m)^LDFLAGS := -X main.version=\$\(VERSION\)`).Match(mk) ||
		!regexp.MustCompile(`(?m)^VERSION \?= \$\(shell git describe`).Match(mk) {
		t.Error("the Makefile's build does not stamp the version from git")
	}
}

// --quiet and --debug are global, before or after the command.
func TestGlobalFlagsAfterTheCommand(t *testing.T) {
	code, out, stderr := lvslab(t, "labs", "--quiet")
	if code != 0 || !strings.Contains(out, "tedu-nat") {
		t.Errorf("labs --quiet: exit %d %s", code, stderr)
	}
	if code, _, stderr := lvslab(t, "validate", "--debug", "--quiet"); code != 2 || !strings.Contains(stderr, "contradict") {
		t.Errorf("--debug --quiet: exit %d %q", code, stderr)
	}
	_, help, _ := lvslab(t, "--help")
	for _, w := range []string{"--debug", "--quiet", "completion", "-o json", "--dry-run"} {
		if !strings.Contains(help, w) {
			t.Errorf("lvslab --help does not teach %s", w)
		}
	}
}

// status is exit code 1 when a VM is not running or SSH does not answer.
func TestStatusVerdict(t *testing.T) {
	up := lab.NodeStatus{Node: "lvs1", State: "running", SSH: "192.168.4.5:22"}
	mute := lab.NodeStatus{Node: "web1", State: "running", SSHError: "i/o timeout"}
	if err := statusVerdict([]*lab.LabStatus{{Lab: "tedu", Nodes: []lab.NodeStatus{up}}}); err != nil {
		t.Errorf("all up: %v", err)
	}
	if err := statusVerdict(nil); err != nil {
		t.Errorf("no lab: %v", err)
	}
	err := statusVerdict([]*lab.LabStatus{{Lab: "tedu", File: "labs/my.yaml", Nodes: []lab.NodeStatus{up, mute}}})
	if coder, ok := err.(cli.ExitCoder); !ok || coder.ExitCode() != 1 ||
		err.Error() != `lvslab status: lab tedu: web1 does not answer SSH ("lvslab up labs/my.yaml" starts and configures them)` {
		t.Errorf("SSH down: %v", err)
	}
	// A node cut off: the causes its guest agent read, and up restores it.
	cut := lab.NodeStatus{Node: "web1", State: "running", SSHError: "cut off",
		Causes: []access.Cause{{Kind: access.CauseNICDown, Text: "mgmt0 is down"}, {Kind: access.CauseSSHDStopped, Text: "sshd is stopped"}}}
	if err := statusVerdict([]*lab.LabStatus{{Lab: "tedu", File: "labs/my.yaml", Nodes: []lab.NodeStatus{up, cut}}}); err == nil ||
		err.Error() != `lvslab status: lab tedu: web1 does not answer SSH: mgmt0 is down and sshd is stopped ("lvslab up labs/my.yaml" starts and configures them, and restores lvslab's access through the guest agent)` {
		t.Errorf("cut off: %v", err)
	}
}

func TestUpDryRunFlags(t *testing.T) {
	_, help, _ := lvslab(t, "up", "--help")
	if !strings.Contains(help, "--dry-run ") || strings.Contains(help, "--dry-run, -n") || !strings.Contains(help, "changing nothing") {
		t.Errorf("up --help does not teach --dry-run:\n%s", help)
	}
	if code, _, stderr := lvslab(t, "up", "tedu-nat", "-o", "json"); code != 2 || !strings.Contains(stderr, "-o json goes with --dry-run") {
		t.Errorf("up -o json without --dry-run: exit %d %q", code, stderr)
	}
}

func TestValidateAsJSON(t *testing.T) {
	code, out, _ := lvslab(t, "validate", "tedu-dr", "-o", "json")
	var v verdict
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || !v.Valid || v.Lab != "tedu" || len(v.Nodes) != 4 {
		t.Errorf("valid lab: exit %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_, src, _ := lvslab(t, "labs", "--show", "tedu-nat")
	src = strings.Replace(src, "scheduler: rr", "scheduler: polling", 1)
	os.WriteFile(bad, []byte(src), 0o644)
	code, out, _ = lvslab(t, "validate", bad, "-o", "json")
	v = verdict{}
	if code != 1 || json.Unmarshal([]byte(out), &v) != nil || v.Valid || len(v.Problems) == 0 {
		t.Fatalf("invalid lab: exit %d\n%s", code, out)
	}
	p := v.Problems[0]
	if p.File != bad || p.Line == 0 || p.Col == 0 || !strings.Contains(p.Path, "scheduler") || !strings.Contains(p.Message, "polling") {
		t.Errorf("problem %+v", p)
	}
	code, out, _ = lvslab(t, "validate", "/no/such/lab.yaml", "-o", "json")
	if code != 1 || !strings.Contains(out, `"valid": false`) || !strings.Contains(out, "does not exist") {
		t.Errorf("missing file: exit %d\n%s", code, out)
	}
}

// --quiet keeps down's result and drops its progress.
func TestQuietDown(t *testing.T) {
	defineStopped(t)
	code, out, stderr := lvslab(t, "down", "--connect", "test:///default", "tedu", "--quiet")
	if code != 0 || !strings.HasPrefix(out, "lab tedu removed (") || strings.Count(out, "\n") != 1 || strings.Contains(out, "removed domain") {
		t.Errorf("down --quiet: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// --progress json: down's progress is one JSON event per line on stderr
// (the --debug trace too), its result stays the text line on stdout; the
// default is the plain lines of before.
func TestProgressJSONDown(t *testing.T) {
	defineStopped(t)
	code, out, stderr := lvslab(t, "down", "--connect", "test:///default", "tedu", "--progress", "json", "--debug")
	defer progress.SetDebug(nil)
	if code != 0 || !strings.HasPrefix(out, "lab tedu removed (") || strings.Count(out, "\n") != 1 {
		t.Fatalf("down --progress json: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	types := map[string]int{}
	for line := range strings.Lines(stderr) {
		var ev struct{ Type, Kind, Name, Where string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("stderr line %q: %v", line, err)
		}
		types[ev.Type]++
		if ev.Type == "down.removed" && ev.Kind == "domain" && ev.Name != "tedu-web1" {
			t.Errorf("removed domain %q", ev.Name)
		}
	}
	if types["down.removed"] != 3 || types["debug.call"] == 0 {
		t.Errorf("events %v:\n%s", types, stderr)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "--progress", "fancy"}, `--progress "fancy": give one of auto, tty, plain, json`},
		{[]string{"status", "--quiet", "--progress", "plain"}, "--progress and --quiet contradict each other"},
	} {
		if code, _, stderr := lvslab(t, c.args...); code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %s", c.args, code, stderr)
		}
	}
}

// --debug, after the command too, turns the trace on for that run only.
func TestDebugFlagTracesLibvirt(t *testing.T) {
	t.Setenv(paths.EnvHome, t.TempDir())
	code, _, stderr := lvslab(t, "status", "--connect", "test:///default", "--debug")
	defer progress.SetDebug(nil)
	if code != 0 || !regexp.MustCompile(`(?m)^debug: libvirt: connect test:///default \(.*\)$`).MatchString(stderr) ||
		!strings.Contains(stderr, "debug: libvirt: list domains (") {
		t.Errorf("status --debug: exit %d, stderr:\n%s", code, stderr)
	}
	if _, _, stderr := lvslab(t, "status", "--connect", "test:///default"); strings.Contains(stderr, "debug:") {
		t.Errorf("without --debug: %s", stderr)
	}
}

// One flag name everywhere: every command whose output can be JSON takes
// it as -o/--output, and no other format flag is visible.
func TestOneOutputFlagEverywhere(t *testing.T) {
	for _, l := range leaves(nil, newApp().Commands) {
		var output cli.Flag
		for _, f := range l.cmd.Flags {
			names := f.Names()
			if slices.Contains(names, "output") {
				output = f
			}
			if vf, ok := f.(cli.VisibleFlag); ok && vf.IsVisible() && slices.Contains(names, "format") {
				t.Errorf("%s shows a --format flag: it is -o/--output", strings.Join(l.path, " "))
			}
		}
		if output == nil {
			continue
		}
		if !slices.Contains(output.Names(), "o") || !slices.Contains(output.(*choiceFlag).choices, "json") && l.cmd.Name != "graph" {
			t.Errorf("%s: %v", strings.Join(l.path, " "), output.Names())
		}
	}
	for _, want := range []string{"labs", "validate", "ls", "status", "check", "verify", "up"} {
		found := false
		for _, l := range leaves(nil, newApp().Commands) {
			if strings.Join(l.path, " ") == want {
				found = lookupFlag(l.cmd.Flags, "-o") != nil
			}
		}
		if !found {
			t.Errorf("%s has no -o", want)
		}
	}
}

// The words users of the field type (deploy, destroy, inspect, connect)
// lead to up, down, status and ssh.
func TestFieldWords(t *testing.T) {
	for word, cmd := range map[string]string{"deploy": "up", "destroy": "down", "inspect": "status", "connect": "ssh"} {
		code, stdout, _ := lvslab(t, word, "--help")
		if code != 0 || !strings.Contains(stdout, "lvslab "+cmd+" - ") {
			t.Errorf("lvslab %s --help: exit %d, want %s's help:\n%s", word, code, cmd, stdout)
		}
	}
}

// A lab that does not exist is a sentence naming "lvslab ls" and exit 1,
// not an empty table; a class file that does not exist is a sentence too.
func TestAnswersAboutWhatDoesNotExist(t *testing.T) {
	code, stdout, stderr := lvslab(t, "status", "bob", "--connect", "test:///default")
	if code != 1 || !strings.Contains(stderr, `no lab named bob runs here ("lvslab ls" lists them)`) || strings.Contains(stdout, "NODE") {
		t.Errorf("status bob: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = lvslab(t, "class", "status", filepath.Join(t.TempDir(), "nofile.yaml"))
	if code != 2 || !strings.Contains(stderr, "no class file") || strings.Contains(stderr, "stat ") {
		t.Errorf("class status nofile.yaml: exit %d, stderr %q", code, stderr)
	}
}
