package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
	"github.com/lvslab/lvslab/topology/ipvs/ipvstest"
	"github.com/lvslab/lvslab/topology/testkit/cases"
)

func drill(t *testing.T, w *world, step, node string, quiesce bool) *DrillReport {
	t.Helper()
	var log bytes.Buffer
	d, err := Drill(context.Background(), w.lab, w.dial, step, node, DrillOptions{Quiesce: quiesce}, &log)
	if err != nil {
		t.Fatalf("drill %s: %v", step, err)
	}
	return d
}

func drillFailures(d *DrillReport) []string {
	var out []string
	for _, c := range d.Checks {
		if c.Status == report.Fail {
			out = append(out, c.Name+": "+c.Detail)
		}
	}
	return out
}

func TestDrillDRWLC(t *testing.T) {
	// The exercise: wlc 1:2 in DR, stop web1's web server, see its share
	// refused, take it out with ipvsadm -d, then bring it back.
	w := newWorld(t, "tedu-dr")
	d := drill(t, w, DrillFail, "web1", false)
	if !d.Pass || d.ExitCode() != 0 {
		t.Fatalf("fail step: %v", drillFailures(d))
	}
	if d.Actions[0] != "web1: systemctl stop apache2" {
		t.Errorf("actions %v", d.Actions)
	}
	s := d.Verify.Services[0]
	if s.Failures != 4 || s.Counts["web2"] != 8 {
		t.Errorf("fail: %d failures, counts %v", s.Failures, s.Counts)
	}
	if d.Verify.Pass {
		t.Error("verify itself must report the refused requests")
	}

	d = drill(t, w, DrillHeal, "web1", false)
	if !d.Pass {
		t.Fatalf("heal step: %v", drillFailures(d))
	}
	if d.Actions[0] != "lvs1: ipvsadm -d -t 192.168.4.15:80 -r 192.168.4.100:80" {
		t.Errorf("actions %v", d.Actions)
	}
	if s := d.Verify.Services[0]; s.Failures != 0 || s.Counts["web2"] != 12 {
		t.Errorf("heal: %+v", s.Counts)
	}
	// heal again: nothing to do, still healed
	d = drill(t, w, DrillHeal, "web1", false)
	if !d.Pass || !strings.Contains(d.Actions[0], "not a real server of") {
		t.Errorf("heal twice: %v %v", d.Actions, drillFailures(d))
	}

	d = drill(t, w, DrillRestore, "web1", false)
	if !d.Pass {
		t.Fatalf("restore step: %v", drillFailures(d))
	}
	want := []string{"web1: systemctl start apache2", "lvs1: ipvsadm -a -t 192.168.4.15:80 -r 192.168.4.100:80 -g -w 1"}
	if strings.Join(d.Actions, "|") != strings.Join(want, "|") {
		t.Errorf("actions %v", d.Actions)
	}
	if !d.Verify.Pass {
		t.Errorf("after restore verify must be clean: %v", failed(d.Verify))
	}
	if s := d.Verify.Services[0]; s.Counts["web1"] == 0 {
		t.Errorf("restored web1 serves nothing: %v", s.Counts)
	}
}

func TestDrillNATRoundRobinQuiesce(t *testing.T) {
	w := newWorld(t, "tedu-nat")
	if d := drill(t, w, DrillFail, "web1", true); !d.Pass || d.Verify.Services[0].Failures != 6 {
		t.Fatalf("fail: %v", drillFailures(d))
	}
	d := drill(t, w, DrillHeal, "web1", true)
	if !d.Pass || d.Actions[0] != "lvs1: ipvsadm -e -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 0" {
		t.Fatalf("heal --quiesce: %v %v", d.Actions, drillFailures(d))
	}
	if c := d.Checks[0]; !strings.Contains(c.Detail, "quiesced (weight 0)") {
		t.Errorf("heal check: %+v", c)
	}
	d = drill(t, w, DrillRestore, "web1", false)
	if !d.Pass || d.Actions[1] != "lvs1: ipvsadm -e -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1" {
		t.Fatalf("restore: %v %v", d.Actions, drillFailures(d))
	}
	if s := d.Verify.Services[0]; s.Counts["web1"] != 6 || s.Counts["web2"] != 6 {
		t.Errorf("restore: %v", s.Counts)
	}
	// restore again: nothing to change
	d = drill(t, w, DrillRestore, "web1", false)
	if !d.Pass || !strings.Contains(d.Actions[0], "already active") || !strings.Contains(d.Actions[1], "already") {
		t.Errorf("restore twice: %v", d.Actions)
	}
}

func TestDrillVerdictCatchesAWebServerThatDidNotStop(t *testing.T) {
	w := newWorld(t, "tedu-nat")
	d := drill(t, w, DrillFail, "web1", false)
	w.up["web1"] = true // something restarted it behind our back
	r := run(t, w, Options{})
	checks := DrillVerdict(DrillFail, "web1", false, r)
	if checks[0].Status != report.Fail || !strings.Contains(checks[0].Detail, "still answered") {
		t.Errorf("verdict: %+v", checks[0])
	}
	_ = d
	// healing without stopping: web1 keeps getting requests if it was not removed
	checks = DrillVerdict(DrillHeal, "web1", false, r)
	if checks[0].Status != report.Fail {
		t.Errorf("heal verdict: %+v", checks[0])
	}
}

func TestDrillVerdictRanges(t *testing.T) {
	mk := func(failures, min, max, failed int) *Report {
		return &Report{Services: []*ServiceReport{{
			Name: "web", Scheduler: "wrr", Failures: failures,
			Servers: []ServerResult{{Node: "web1", Min: min, Max: max, Failed: failed}, {Node: "web2", Seen: 12 - failures, Min: 8, Max: 8}},
		}}}
	}
	if c := DrillVerdict(DrillFail, "web1", false, mk(4, 4, 4, 4))[0]; c.Status != report.Pass {
		t.Errorf("exact share: %+v", c)
	}
	if c := DrillVerdict(DrillFail, "web1", false, mk(5, 4, 4, 5))[0]; c.Status != report.Pass {
		t.Errorf("share +1: %+v", c)
	}
	if c := DrillVerdict(DrillFail, "web1", false, mk(6, 4, 4, 6))[0]; c.Status != report.Fail {
		t.Errorf("share +2: %+v", c)
	}
	if c := DrillVerdict(DrillFail, "web1", false, mk(3, -1, -1, 3))[0]; c.Status != report.Pass {
		t.Errorf("no range, attributed: %+v", c)
	}
	if c := DrillVerdict(DrillFail, "web1", false, mk(3, -1, -1, 0))[0]; c.Status != report.Skip {
		t.Errorf("no range, not attributed: %+v", c)
	}
	if c := DrillVerdict(DrillFail, "nobody", false, mk(3, 4, 4, 3)); c[0].Status != report.Fail {
		t.Errorf("unknown node: %+v", c)
	}
}

func TestDrillRefusals(t *testing.T) {
	w := newWorld(t, "tedu-nat")
	for _, c := range []struct{ step, node, want string }{
		{"explode", "web1", "unknown drill step"},
		{DrillFail, "lvs1", "is a director node"},
		{DrillFail, "web9", "no node web9"},
	} {
		_, err := Drill(context.Background(), w.lab, w.dial, c.step, c.node, DrillOptions{}, nil)
		if !errors.Is(err, ErrCannotRun) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v", c.step, c.node, err)
		}
	}
	w.down["client1"] = true
	if _, err := Drill(context.Background(), w.lab, w.dial, DrillFail, "web1", DrillOptions{}, nil); !errors.Is(err, ErrCannotRun) || !w.up["web1"] {
		t.Errorf("an unreachable client must stop the drill before web1 is touched: %v", err)
	}
	w.down["client1"] = false
	w.down["web1"] = true
	if _, err := Drill(context.Background(), w.lab, w.dial, DrillFail, "web1", DrillOptions{}, nil); !errors.Is(err, ErrCannotRun) {
		t.Errorf("unreachable node: %v", err)
	}
}

func TestDrillOutputs(t *testing.T) {
	w := newWorld(t, "tedu-dr")
	d := drill(t, w, DrillFail, "web1", false)
	var b bytes.Buffer
	if err := WriteDrillText(&b, d); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"drill fail web1", "web1: systemctl stop apache2", "PASS web: refused share: 4 request(s) refused", "DRILL FAIL PASS"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("drill text lacks %q:\n%s", want, b.String())
		}
	}
	data, err := DrillJUnit(d, nil, "lvslab drill fail web1")
	if err != nil || !strings.Contains(string(data), `name="refused share"`) || strings.Contains(string(data), "<failure") {
		t.Errorf("drill junit: %v\n%s", err, data)
	}
}

func TestPickUnit(t *testing.T) {
	apache := func(out string) (string, string) { return pickUnit(out, topology.WebApache) }
	cases.Strings(t, "pickUnit", cases.First(apache), map[string]string{
		"apache2 active\n":                 "apache2",
		"apache2 inactive\nnginx active\n": "nginx",
		"httpd inactive\n":                 "httpd",
		"":                                 "",
		"nginx failed\napache2 inactive\n": "apache2",
	})
}

// An nginx node of an image that has apache2 too: with both stopped (after
// the drill's fail), restore starts nginx, not apache2.
func TestPickUnitFollowsTheLab(t *testing.T) {
	if got, _ := pickUnit("apache2 inactive\nnginx inactive\n", topology.WebNginx); got != "nginx" {
		t.Errorf("nginx node: pickUnit chose %s", got)
	}
	if got, _ := pickUnit("apache2 inactive\nnginx active\n", topology.WebApache); got != "nginx" {
		t.Errorf("the active one goes first: %s", got)
	}
}

// TestDrillRestoreSpellsWhatUpSpells: the drill puts a real server back
// with the very line "lvslab up" and the handout use (the TUN line with
// its --tun-type), so a restored table equals a configured one.
func TestDrillRestoreSpellsWhatUpSpells(t *testing.T) {
	for _, name := range []string{"tedu-nat", "tedu-dr", "tedu-tun"} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, name)
			drill(t, w, DrillHeal, "web1", false)
			d := drill(t, w, DrillRestore, "web1", false)
			rip := w.dest("web1").Key()
			var want string
			for _, c := range ipvs.Commands(ipvs.Build(roles.DesiredFor(w.lab, w.lab.Director()).IPVS)) {
				if strings.Contains(c, " -r "+rip+" ") {
					want = "lvs1: " + c
				}
			}
			if want == "" || !slices.Contains(d.Actions, want) {
				t.Errorf("restore actions %v, want %q", d.Actions, want)
			}
			if name == "tedu-tun" && !strings.Contains(want, "-i -w 1 --tun-type ipip") {
				t.Errorf("the TUN line: %q", want)
			}
			if diff := ipvs.Differences(w.kernel.Services, roles.DesiredFor(w.lab, w.lab.Director()).IPVS); len(diff) > 0 {
				t.Errorf("restored table differs from the lab's: %v", diff)
			}
		})
	}
}

// kernelExec is a director whose only answers are its IPVS table's.
type kernelExec struct {
	runOnly
	k *ipvstest.Kernel
}

func (x kernelExec) Run(_ context.Context, cmd string) (string, error) { return x.k.Run(cmd) }

// TestHealAndRestoreEveryServiceOfTheNode: a node that serves two services
// leaves and rejoins both, also when one of them is already done.
func TestHealAndRestoreEveryServiceOfTheNode(t *testing.T) {
	lab, err := topology.Load("rich.yaml", []byte(rolestest.RichLab))
	if err != nil {
		t.Fatal(err)
	}
	want := roles.DesiredFor(lab, lab.Director()).IPVS
	k := ipvstest.New(want)
	dial := func(string) (guest.Executor, error) { return kernelExec{k: k}, nil }
	target, err := drillTargetOf(lab, "w1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	act := func(format string, a ...any) { acts = append(acts, fmt.Sprintf(format, a...)) }
	if _, err := k.Run("ipvsadm -d -t 10.0.0.100:80 -r 10.0.1.11:8080"); err != nil {
		t.Fatal(err)
	}
	if err := heal(context.Background(), dial, "dir", target, false, act); err != nil {
		t.Fatal(err)
	}
	rolestest.Eq(t, "heal", acts, []string{
		"dir: 10.0.1.11:8080 is not a real server of -t 10.0.0.100:80 any more",
		"dir: ipvsadm -d -u 10.0.0.100:53 -r 10.0.1.11:53",
	})
	acts = nil
	if err := restore(context.Background(), dial, "dir", target, act); err != nil {
		t.Fatal(err)
	}
	rolestest.Eq(t, "restore", acts, []string{
		"dir: ipvsadm -a -t 10.0.0.100:80 -r 10.0.1.11:8080 -m -w 3 -x 100 -y 10",
		"dir: ipvsadm -a -u 10.0.0.100:53 -r 10.0.1.11:53 -m -w 1",
	})
	if d := ipvs.Differences(k.Services, want); len(d) > 0 {
		t.Errorf("restored table differs: %v", d)
	}
}
