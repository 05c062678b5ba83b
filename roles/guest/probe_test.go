package guest

import (
	"context"
	"io/fs"
	"os/exec"
	"strings"
	"testing"
)

// shExec runs scripts with this machine's sh: the probe's own shell code.
type shExec struct{}

func (shExec) Run(ctx context.Context, cmd string) (string, error) {
	out, err := exec.CommandContext(ctx, "sh", "-c", cmd).Output()
	return string(out), err
}
func (shExec) ReadFile(context.Context, string) ([]byte, bool, error) { return nil, false, nil }
func (shExec) WriteFile(context.Context, string, []byte, fs.FileMode) error {
	return nil
}

func TestProbeSplitsExactly(t *testing.T) {
	p := NewProbe()
	p.Section("no newline", "printf 'web1'")
	p.Section("newline", "printf 'web1\\n'")
	p.Section("empty", "")
	p.Section("lines", "echo a; echo; echo b")
	p.Section("fails", "false || "+p.Mark("fails missing"))
	p.Section("skipped", "true || "+p.Mark("skipped missing"))
	a, err := p.Run(context.Background(), shExec{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"no newline": "web1", "newline": "web1\n", "empty": "", "lines": "a\n\nb\n", "fails": "", "fails missing": ""} {
		if !a.Has(name) || a.Text(name) != want {
			t.Errorf("section %q: %v %q, want %q", name, a.Has(name), a.Text(name), want)
		}
	}
	if a.Has("skipped missing") {
		t.Error("a mark that did not run opened its section")
	}
	if got := a.Lines("lines"); strings.Join(got, "|") != "a||b" {
		t.Errorf("lines %q", got)
	}
	if a.Lines("empty") != nil || a.Lines("absent") != nil {
		t.Error("an empty or absent section has lines")
	}
	if a.Names()[0] != "no newline" {
		t.Errorf("names %v", a.Names())
	}
	if p2 := NewProbe(); p2.Marker() == p.Marker() {
		t.Error("two probes share a marker")
	}
}

// A hostile guest: what its commands print cannot pose as the probe.
func TestProbeHostileAnswers(t *testing.T) {
	p := NewProbe()
	p.Section("page", "cat index.html")
	p.Section("ipvs", "ipvsadm -Sn")
	p.Script()
	m := p.Marker()
	cases := map[string]string{
		"cut short":     Frame(m, "page") + "web1\n",
		"unasked":       Frame(m, "page") + Frame(m, "rules") + Frame(m, "end"),
		"twice":         Frame(m, "page") + Frame(m, "ipvs") + "-A -t 1.2.3.4:80 -s rr\n" + Frame(m, "ipvs") + Frame(m, "end"),
		"out of order":  Frame(m, "ipvs") + Frame(m, "page") + Frame(m, "end"),
		"mark cut":      Frame(m, "page") + "\n" + m + " end",
		"end is forged": Frame(m, "page") + Frame(m, "end") + Frame(m, "ipvs") + Frame(m, "end"),
		"far too long":  Frame(m, "page") + strings.Repeat("x", MaxAnswer) + Frame(m, "end"),
	}
	for what, out := range cases {
		if _, err := p.Parse(out); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
	// Another probe's marker, or the fixed prefix alone, is page text.
	page := Frame(markerPrefix+"0000000000000000", "ipvs") + "@@lvslab- end\n"
	a, err := p.Parse("banner\n" + Frame(m, "page") + page + Frame(m, "end"))
	if err != nil || a.Text("page") != page || a.Has("ipvs") {
		t.Errorf("page with other markers: %v %q", err, a.Text("page"))
	}
	big := strings.Repeat("y", MaxSection+10)
	a, err = p.Parse(Frame(m, "page") + big + Frame(m, "end"))
	if err != nil || len(a.Text("page")) != MaxSection || len(a.Cut) != 1 {
		t.Errorf("a long section is not cut: %v %d %v", err, len(a.Text("page")), a.Cut)
	}
}

func TestReadScript(t *testing.T) {
	p := NewProbe()
	p.Section("os", "cat /etc/os-release")
	p.Section("page", "cat p 2>/dev/null || "+p.Mark("page missing"))
	script := "{ true\n} || exit $?\n" + p.Script()
	before, marker, secs, ok := ReadScript(script)
	if !ok || before != "{ true\n} || exit $?\n" || marker != p.Marker() {
		t.Fatalf("ReadScript: %v %q %q", ok, before, marker)
	}
	var names []string
	for _, s := range secs {
		names = append(names, s.Name+"="+strings.TrimSpace(s.Script))
	}
	if got := strings.Join(names, ";"); got != "os=cat /etc/os-release;page=cat p 2>/dev/null || "+MarkCommand(marker, "page missing")+";end=" {
		t.Errorf("sections %s", got)
	}
	if _, _, _, ok := ReadScript("ipvsadm -Sn"); ok {
		t.Error("a command is no probe")
	}
}
