package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// configureAs applies a lab's steps for node to g, as up does.
func configureAs(t *testing.T, g *simGuest, lab, node string) {
	t.Helper()
	configureState(t, g, rolestest.State(t, rolestest.Lab(t, lab), node), lab)
}

// configureState applies the steps of st, a node of lab, to g, as up does.
func configureState(t *testing.T, g *simGuest, st *roles.NodeState, lab string) {
	t.Helper()
	node := st.Name
	if _, err := Apply(context.Background(), g, catalog.Steps(st, catalog.Debian), nil); err != nil {
		t.Fatalf("%s as %s: %v", node, lab, err)
	}
	g.reads, g.systemctls = 0, 0
	res, err := Apply(context.Background(), g, catalog.Steps(st, catalog.Debian), nil)
	if err != nil || res.Changed() {
		t.Fatalf("%s as %s: a second run changes %v (%v)", node, lab, res.ChangedSteps(), err)
	}
	if g.reads > 0 {
		t.Errorf("%s as %s: a second run read %d files whole: the survey's checksums should answer", node, lab, g.reads)
	}
	if g.systemctls > 1 {
		t.Errorf("%s as %s: a second run started systemctl %d times: one read of every unit should answer", node, lab, g.systemctls)
	}
}

// The in-place switch of the references: the same four VMs go NAT -> DR
// -> NAT with up, and after each switch every node is exactly what a
// freshly built lab of that kind is (files, kernel settings, addresses,
// links, units, IPVS table), nothing of the other lab left.
func TestUpConvergesBothWaysNATDRNAT(t *testing.T) {
	SettleAttempts = 1
	for _, st := range roles.Desired(rolestest.Lab(t, "tedu-nat")) {
		t.Run(st.Name, func(t *testing.T) {
			fresh := func(lab string) string {
				g := newGuest(st)
				configureAs(t, g, lab, st.Name)
				return g.state()
			}
			g := newGuest(st)
			for _, lab := range []string{"tedu-nat", "tedu-dr", "tedu-nat"} {
				configureAs(t, g, lab, st.Name)
				if got, want := g.state(), fresh(lab); got != want {
					t.Errorf("%s after switching to %s differs from a fresh one:\n%s", st.Name, lab, lineDiff(got, want))
				}
			}
		})
	}
}

// lineDiff lists the lines only one side has: "-" switched, "+" fresh.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var out []string
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// labAs is an embedded lab with its services switched to another mode: the
// same VMs (lab name, NICs, MACs) in TUN, say.
func labAs(t *testing.T, name, mode string) *topology.Lab {
	t.Helper()
	data, err := labs.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	lab, err := topology.Load(name+"-as-"+mode, []byte(strings.ReplaceAll(string(data), "mode: dr", "mode: "+mode)))
	if err != nil {
		t.Fatal(err)
	}
	return lab
}

// Leaving TUN in place (up on a running TUN lab with the DR or NAT file)
// takes back what TUN set: rp_filter back at the distribution's value,
// ipip unloaded (tunl0 and its VIP gone), its modules-load file removed.
// The simulated guest's distribution sets rp_filter 2, as Ubuntu's and
// RHEL's sysctl.d do, so that TUN's 0 shows.
func TestUpLeavesTUN(t *testing.T) {
	SettleAttempts = 1
	tun := labAs(t, "tedu-dr", topology.ModeTUN)
	for _, next := range []string{"tedu-dr", "tedu-nat"} {
		for _, node := range []string{"web1", "lvs1"} {
			t.Run(next+"/"+node, func(t *testing.T) {
				apply := func(g *simGuest, lab *topology.Lab) {
					t.Helper()
					st := rolestest.State(t, lab, node)
					for range 2 {
						if _, err := Apply(context.Background(), g, catalog.Steps(st, catalog.Debian), nil); err != nil {
							t.Fatalf("%s as %s: %v", node, lab.Name, err)
						}
					}
				}
				fresh := newGuest(rolestest.State(t, tun, node))
				apply(fresh, rolestest.Lab(t, next))
				g := newGuest(rolestest.State(t, tun, node))
				apply(g, tun)
				if node == "web1" && !strings.Contains(g.state(), "addr tunl0") {
					t.Fatalf("the TUN lab put no VIP on tunl0:\n%s", g.state())
				}
				apply(g, rolestest.Lab(t, next))
				if got, want := g.state(), fresh.state(); got != want {
					t.Errorf("%s after leaving TUN for %s differs from a fresh one:\n%s", node, next, lineDiff(got, want))
				}
			})
		}
	}
}

// Configure reads os-release with the shell's own read: in a real shell,
// from /etc or, without it, /usr/lib; the last line needs no newline.
func TestConfigureReadsOSReleaseInTheShell(t *testing.T) {
	SettleAttempts = 1
	st := rolestest.State(t, rolestest.Lab(t, "tedu-nat"), "client1")
	stepsFor := func(osf, owner string) []catalog.Step { return catalog.StepsFor(st, osf, owner) }
	for _, path := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		g := newGuest(st)
		g.files[path] = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian"
		osf, _, err := Configure(context.Background(), g, stepsFor, nil)
		if err != nil || osf != catalog.Debian {
			t.Errorf("%s: Configure = %q, %v", path, osf, err)
		}
	}
}

// A survey right after the SSH login of a node still booting: apache2's
// start job is still running (it starts after sshd). The survey waits for
// the boot's jobs instead of finding apache2 down and restarting it; on a
// booted node with apache2 really stopped it does not wait, and starts it.
func TestSurveyWaitsForTheBootsLastUnits(t *testing.T) {
	SettleAttempts = 1
	st := rolestest.State(t, rolestest.Lab(t, "tedu-nat"), "web1")
	steps := catalog.Steps(st, catalog.Debian)
	g := newGuest(st)
	configureAs(t, g, "tedu-nat", "web1")

	g.active["apache2"], g.starting["apache2"] = false, true
	g.systemctls = 0
	res, err := Apply(context.Background(), g, steps, nil)
	if err != nil || res.Changed() {
		t.Fatalf("a node still starting apache2 was changed: %v (%v)", res.ChangedSteps(), err)
	}
	if !g.active["apache2"] || g.systemctls != 3 {
		t.Errorf("apache2 active %v after %d systemctl (want the read, the wait for the boot, the read again)", g.active["apache2"], g.systemctls)
	}

	g.active["apache2"] = false // stopped by hand on a booted node
	g.systemctls = 0
	res, err = Apply(context.Background(), g, steps, nil)
	if err != nil || !slices.Contains(res.ChangedSteps(), "apache2") || !g.active["apache2"] {
		t.Fatalf("a stopped apache2 was not started: %v (%v)", res.ChangedSteps(), err)
	}
}

// The course's next exercise on the same VMs: tedu-dr -> tedu-keepalived-dr
// -> tedu-dr. Under keepalived the director's hand rules, boot unit and
// eth0:0 alias go, keepalived holds the VIP and the table, and a second run
// changes nothing (keepalived's VIP is not a stray address); back in
// tedu-dr keepalived is stopped, disabled and its file gone, and every
// node is exactly a fresh tedu-dr one.
func TestUpConvergesToKeepalivedAndBack(t *testing.T) {
	SettleAttempts = 1
	dr, ka := rolestest.Lab(t, "tedu-dr"), rolestest.Lab(t, "tedu-keepalived-dr")
	for _, st := range roles.Desired(dr) {
		t.Run(st.Name, func(t *testing.T) {
			fresh := newGuest(st)
			configureAs(t, fresh, "tedu-dr", st.Name)
			g := newGuest(st)
			configureAs(t, g, "tedu-dr", st.Name)
			kst := rolestest.State(t, ka, st.Name)
			g.keepalivedTable = kst.IPVS
			configureAs(t, g, "tedu-keepalived-dr", st.Name)
			if kst.KeepalivedIPVS() {
				for _, p := range []string{catalog.IPVSUnitFile, catalog.DebianRulesFile} {
					if _, ok := g.files[p]; ok {
						t.Errorf("%s under keepalived keeps %s", st.Name, p)
					}
				}
				if g.enabled["lvslab-ipvs"] || !g.enabled["keepalived"] || !g.active["keepalived"] {
					t.Errorf("%s: units %v active %v", st.Name, g.enabled, g.active)
				}
				var eth0 []string
				for _, a := range g.addrs["eth0"] {
					eth0 = append(eth0, a.Prefix+" "+a.Label)
				}
				rolestest.Eq(t, st.Name+" eth0 under keepalived", eth0, []string{"192.168.4.5/24 eth0", "192.168.4.15/24 eth0"})
				if d := ipvs.Differences(g.kernel.Services, kst.IPVS); len(d) > 0 {
					t.Errorf("keepalived's table: %v", d)
				}
			}
			configureAs(t, g, "tedu-dr", st.Name)
			if got, want := g.state(), fresh.state(); got != want {
				t.Errorf("%s back in tedu-dr differs from a fresh one:\n%s", st.Name, lineDiff(got, want))
			}
		})
	}
}
