package lab

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology/ipvs/ipvstest"
)

// surveyFake is a node as the survey sees it: configured as st wants
// (every check passes, every file and the IPVS table as desired) or fresh.
// It fails the test on anything but reading.
type surveyFake struct {
	t          *testing.T
	configured bool
	files      map[string]string
	kernel     *ipvstest.Kernel
	mu         sync.Mutex
	changed    []string
}

func newSurveyFake(t *testing.T, st *roles.NodeState, configured bool) *surveyFake {
	f := &surveyFake{t: t, configured: configured, files: map[string]string{"/etc/os-release": "ID=debian\n"}, kernel: ipvstest.New(nil)}
	if configured {
		for _, s := range catalog.Steps(st, catalog.Debian) {
			if s.File != nil {
				f.files[s.File.Path] = s.File.Content
			}
		}
		f.kernel = ipvstest.New(st.IPVS)
	}
	return f
}

func (f *surveyFake) Run(_ context.Context, cmd string) (string, error) {
	// A survey: a guest.Probe, answered section by section.
	if before, marker, sections, ok := guest.ReadScript(cmd); ok && before == "" {
		var out strings.Builder
		for _, sec := range sections {
			name, body := sec.Name, sec.Script
			out.WriteString(guest.Frame(marker, name))
			switch {
			case name == "os":
				out.WriteString(f.files["/etc/os-release"])
			case name == "files":
				list, _, _ := strings.Cut(strings.TrimPrefix(body, "set --; for f in "), "; do")
				for _, p := range strings.Fields(list) {
					if data, ok := f.files[strings.Trim(p, "'")]; ok {
						fmt.Fprintf(&out, "%x  %s\n", sha256.Sum256([]byte(data)), strings.Trim(p, "'"))
					}
				}
			case strings.HasPrefix(name, "check "):
				verdict := "lvslab-check-differs"
				if f.configured {
					verdict = "lvslab-check-ok"
				}
				out.WriteString(verdict + "\n")
			case name == "ipvs":
				rules, _ := f.kernel.Run("ipvsadm -Sn")
				out.WriteString(rules)
			}
		}
		return out.String(), nil
	}
	if strings.HasPrefix(cmd, "if { ") {
		if f.configured {
			return "lvslab-check-ok\n", nil
		}
		return "lvslab-check-differs\n", nil
	}
	if ipvstest.Handles(cmd) && (strings.Contains(cmd, "-S") || strings.Contains(cmd, "-L") || strings.HasPrefix(cmd, "ipvsadm-save")) {
		return f.kernel.Run(cmd)
	}
	f.mu.Lock()
	f.changed = append(f.changed, cmd)
	f.mu.Unlock()
	return "", nil
}

func (f *surveyFake) ReadFile(_ context.Context, path string) ([]byte, bool, error) {
	data, ok := f.files[path]
	return []byte(data), ok, nil
}

func (f *surveyFake) WriteFile(_ context.Context, path string, _ []byte, _ fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changed = append(f.changed, "write "+path)
	return nil
}

func draft(p *Plan, node string) NodeDraft {
	for _, d := range p.Nodes {
		if d.Node == node {
			return d
		}
	}
	return NodeDraft{}
}

func TestDryRunChangesNothing(t *testing.T) {
	conn, opts := fresh(t)
	lab := mustLab(t, "tedu-nat")
	dry := opts
	dry.VMsOnly = false // testOptions' Up configures nothing; the dry run surveys

	// Nothing yet: everything would be created, and nothing is.
	before := everything(t, conn)
	p, err := DryRun(context.Background(), conn, lab, dry)
	if err != nil {
		t.Fatal(err)
	}
	if got := everything(t, conn); !slices.Equal(got, before) {
		t.Errorf("the dry run changed libvirt: %v -> %v", before, got)
	}
	if _, err := os.Stat(opts.Paths.LabDir("tedu")); err == nil {
		t.Error("the dry run made the lab's state folder")
	}
	if !strings.HasPrefix(p.Pool, "create ") || !strings.HasPrefix(p.Identity, "create ") || len(p.Networks) != 3 || p.Networks[0].Action != ActionCreate || p.Networks[0].Name != "tedu_mgmt" {
		t.Errorf("fresh lab: pool %q, identity %q, networks %+v", p.Pool, p.Identity, p.Networks)
	}
	if d := draft(p, "web1"); d.VM.Action != ActionCreate || len(d.Create) != 2 || d.Surveyed || len(d.Changes) == 0 {
		t.Errorf("fresh web1: %+v", d)
	}

	// The lab is up; web1 was shut off, lvs1 is configured, the others fresh.
	if _, err := Up(context.Background(), conn, lab, opts); err != nil {
		t.Fatal(err)
	}
	d, err := conn.LookupDomainByName(paths.DomainName("tedu", "web1"))
	if err != nil {
		t.Fatal(err)
	}
	d.Destroy()
	d.Free()
	fakes := map[string]*surveyFake{}
	for _, st := range roles.Desired(lab) {
		fakes[st.Name] = newSurveyFake(t, st, st.Name == "lvs1")
	}
	dry.SurveyDial = func(_ context.Context, _ *access.Access, node string) (guest.Executor, error) {
		return fakes[node], nil
	}

	before = everything(t, conn)
	p, err = DryRun(context.Background(), conn, lab, dry)
	if err != nil {
		t.Fatal(err)
	}
	if got := everything(t, conn); !slices.Equal(got, before) {
		t.Errorf("the dry run changed libvirt: %v -> %v", before, got)
	}
	if p.Networks[0].Action != ActionReuse || !strings.HasPrefix(p.Identity, "reuse ") {
		t.Errorf("running lab: identity %q, networks %+v", p.Identity, p.Networks)
	}
	if d := draft(p, "web1"); d.VM.Action != ActionStart || d.VM.Detail != "now shut off" || d.Surveyed {
		t.Errorf("shut-off web1: %+v", d)
	}
	if d := draft(p, "lvs1"); !d.Surveyed || len(d.Changes) != 0 || d.Unchanged == 0 || d.Error != "" {
		t.Errorf("configured lvs1: %+v", d)
	}
	if d := draft(p, "web2"); !d.Surveyed || len(d.Changes) == 0 || d.Unchanged != 0 {
		t.Errorf("fresh web2: %+v", d)
	}

	// rr -> wrr: the director would get its rules file and one ipvsadm -E.
	wrr := mustLab(t, "tedu-nat")
	wrr.Services[0].Scheduler = "wrr"
	p, err = DryRun(context.Background(), conn, wrr, dry)
	if err != nil {
		t.Fatal(err)
	}
	var edits []string
	for _, c := range draft(p, "lvs1").Changes {
		edits = append(edits, c.Wrote+strings.Join(c.Commands, "; "))
	}
	if want := []string{"/etc/ipvsadm.rules", "ipvsadm -E -t 192.168.4.5:80 -s wrr"}; !slices.Equal(edits, want) {
		t.Errorf("rr -> wrr would %q, want %q", edits, want)
	}
	for node, f := range fakes {
		if len(f.changed) > 0 {
			t.Errorf("the dry run changed %s: %q", node, f.changed)
		}
	}
	var text strings.Builder
	WritePlan(&text, p)
	for _, w := range []string{"dry run: nothing was changed", "node web1: start VM tedu-web1 (now shut off)",
		"node lvs1: reuse VM tedu-lvs1 (running)", "configure: 2 of ", "ipvsadm -E -t 192.168.4.5:80 -s wrr"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("the plan lacks %q:\n%s", w, text.String())
		}
	}
}

// What up would refuse, the dry run refuses too.
func TestDryRunRefusesWhatUpRefuses(t *testing.T) {
	conn, opts := upLab(t, mustLab(t, "tedu-nat"))
	other := mustLab(t, "tedu-nat")
	other.Node("web1").NICs = other.Node("web1").NICs[:1]
	_, err := DryRun(context.Background(), conn, other, opts)
	if err == nil || !strings.Contains(err.Error(), "lvslab down tedu") {
		t.Errorf("changed NICs: %v", err)
	}
}
