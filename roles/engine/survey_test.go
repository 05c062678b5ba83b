package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/rolestest"
)

// Survey (up --dry-run) finds what Apply would change and changes nothing:
// on a fresh node every step, on a configured one none, after an edit of
// the lab (rr -> wrr) only the saved rules file and the live table, with
// the ipvsadm edit it needs.
func TestSurveyChangesNothing(t *testing.T) {
	ctx := context.Background()
	lab := rolestest.Lab(t, "tedu-nat")
	st := rolestest.State(t, lab, "lvs1")
	steps := catalog.Steps(st, catalog.OSFamilies[0])
	f := newFake()
	f.learn(steps)

	fresh, err := Survey(ctx, f, steps)
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh.Steps) != len(steps) || len(fresh.ChangedSteps()) != len(steps) {
		t.Errorf("fresh node: %d of %d steps would change", len(fresh.ChangedSteps()), len(steps))
	}
	if cmds := f.commands(); len(cmds) != 0 || len(f.writes) != 0 || len(f.kernel.Services) != 0 {
		t.Fatalf("Survey changed the node: ran %q, wrote %q", cmds, f.writes)
	}

	if _, err := Apply(ctx, f, steps, nil); err != nil {
		t.Fatal(err)
	}
	same, err := Survey(ctx, f, steps)
	if err != nil || same.Changed() {
		t.Errorf("configured node: %v, would change %v", err, same.ChangedSteps())
	}

	lab.Services[0].Scheduler = "wrr"
	edited := catalog.Steps(roles.DesiredFor(lab, lab.Node("lvs1")), catalog.OSFamilies[0])
	f.ran, f.writes = nil, nil
	res, err := Survey(ctx, f, edited)
	if err != nil {
		t.Fatal(err)
	}
	var edits []string
	for _, sr := range res.Steps {
		if sr.Status != StatusChanged {
			continue
		}
		switch {
		case sr.Wrote != "":
			edits = append(edits, "write "+sr.Wrote)
		default:
			edits = append(edits, sr.Commands...)
		}
	}
	if want := []string{"write /etc/ipvsadm.rules", "ipvsadm -E -t 192.168.4.5:80 -s wrr"}; !slices.Equal(edits, want) {
		t.Errorf("rr -> wrr would %q, want %q", edits, want)
	}
	if cmds := f.commands(); len(cmds) != 0 || len(f.writes) != 0 || f.kernel.Services[0].SchedName != "rr" {
		t.Errorf("Survey changed the node: ran %q, wrote %q", cmds, f.writes)
	}
}

// The survey's checks read the node as the commands left it (host name,
// links, modules, settings, unit files): on a converged web server, each
// drift a student can make shows as that step changed, and only it.
func TestSurveySeesEachDrift(t *testing.T) {
	SettleAttempts = 1
	st := rolestest.State(t, rolestest.Lab(t, "tedu-nat"), "web1")
	steps := catalog.Steps(st, catalog.Debian)
	for _, tc := range []struct{ drift, step string }{
		{"hostname web9", "hostname"},
		{"ip link set eth0 up", "disable eth0"},
		{"modprobe ipip", "no stale vip"},
		{"sysctl -w net.ipv4.conf.eth1.rp_filter=0", "sysctl"},
		{"sysctl -w net.ipv4.conf.default.rp_filter=1", "sysctl"},
		{"systemctl disable --now apache2", "apache2"},
		{"write " + catalog.UDPUnit(53), "no stale udp"},
	} {
		g := newGuest(st)
		configureAs(t, g, "tedu-nat", "web1")
		if unit, ok := strings.CutPrefix(tc.drift, "write "); ok {
			g.files["/etc/systemd/system/"+unit] = "[Unit]\n"
		} else if _, err := g.Run(context.Background(), tc.drift); err != nil {
			t.Fatal(err)
		}
		res, err := Survey(context.Background(), g, steps)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.ChangedSteps(); !slices.Equal(got, []string{tc.step}) {
			t.Errorf("after %q the survey changes %q, want %q", tc.drift, got, tc.step)
		}
	}
}

// The packages check reads dpkg's status file as dpkg-query -W would
// answer: each package installed once, by its exact name; dpkg-query
// itself while a cut-short dpkg run's journal is pending.
func TestPackagesCheckReadsDpkgStatus(t *testing.T) {
	l := rolestest.Lab(t, "tedu-nat")
	st := rolestest.State(t, l, "web1")
	check := findStepNamed(catalog.Steps(st, catalog.Debian), "packages").Check
	para := func(pkg, status string) string {
		return "Package: " + pkg + "\nStatus: " + status + "\nArchitecture: amd64\nDescription: x\n Package: apache2\n\n"
	}
	for _, c := range []struct {
		name, status, journal string
		want                  bool
	}{
		{"the image", dpkgStatus(image.Packages), "", true},
		{"held, still installed", para("apache2", "hold ok installed"), "", true},
		{"fields before Status", "Package: apache2\nEssential: no\nProtected: no\nStatus: install ok installed\n\n", "", true},
		{"missing", para("apache2-bin", "install ok installed"), "", false},
		{"only a line of another's description", para("curl", "install ok installed"), "", false},
		{"removed, its configuration kept", para("apache2", "deinstall ok config-files"), "", false},
		{"half configured", para("apache2", "install ok half-configured"), "", false},
		{"twice (two architectures)", para("apache2", "install ok installed") + para("apache2", "install ok installed"), "", false},
		{"a pending journal: dpkg-query answers", para("apache2", "install ok unpacked"), "Package: apache2\n", true},
		{"no status file", "", "", false},
	} {
		g := newGuest(st)
		if c.status == "" {
			delete(g.files, catalog.DpkgStatus)
		} else {
			g.files[catalog.DpkgStatus] = c.status
		}
		if c.journal != "" {
			g.files["/var/lib/dpkg/updates/0000"] = c.journal
		}
		_, err := g.Run(context.Background(), catalog.Helpers(check)+check)
		if got := err == nil; got != c.want {
			t.Errorf("%s: the packages check says installed=%v, want %v (%v)", c.name, got, c.want, err)
		}
	}
}
