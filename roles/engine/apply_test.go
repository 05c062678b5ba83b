package engine

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// shippedSettleDelays is the schedule lvslab ships; the tests wait none.
var shippedSettleDelays = SettleDelays

func init() { SettleDelays = nil }

// TestApplyTwice: on every embedded lab, OS family and node, a first Apply
// changes things and a second one finds nothing to do and runs no command.
func TestApplyTwice(t *testing.T) {
	ctx := context.Background()
	for _, name := range labs.Names() {
		lab := rolestest.Lab(t, name)
		for _, osf := range catalog.OSFamilies {
			for _, st := range roles.Desired(lab) {
				t.Run(name+"/"+osf+"/"+st.Name, func(t *testing.T) {
					steps := catalog.Steps(st, osf)
					f := newFake()
					f.learn(steps)
					res, err := Apply(ctx, f, steps, nil)
					if err != nil {
						t.Fatalf("first apply: %v", err)
					}
					if res.Status() != StatusChanged || len(res.Steps) != len(steps) {
						t.Fatalf("first apply: %s, %d step results for %d steps", res.Status(), len(res.Steps), len(steps))
					}
					// Checks before applying come from surveys (one per change
					// at most); single checks only confirm what was applied.
					single, surveys := countChecks(f.ran)
					if changed := len(res.ChangedSteps()); single > changed || surveys > changed+1 {
						t.Errorf("first apply: %d single checks and %d surveys for %d changed steps", single, surveys, changed)
					}
					if st.IPVS != nil && !st.KeepalivedIPVS() { // keepalived's table: none here
						if d := ipvs.Differences(f.kernel.Services, st.IPVS); len(d) > 0 {
							t.Errorf("IPVS table after apply: %v", d)
						}
					}
					for _, s := range steps {
						if s.File == nil {
							continue
						}
						if got := f.files[s.File.Path]; string(got.data) != s.File.Content || got.mode != s.File.Mode {
							t.Errorf("%s: content or mode differs after apply", s.File.Path)
						}
					}
					f.ran, f.writes, f.reads = nil, nil, nil
					var events []Event
					res, err = Apply(ctx, f, steps, func(e Event) { events = append(events, e) })
					if err != nil {
						t.Fatalf("second apply: %v", err)
					}
					if res.Changed() {
						t.Errorf("second apply changed %v", res.ChangedSteps())
					}
					if cmds := f.commands(); len(cmds) > 0 || len(f.writes) > 0 {
						t.Errorf("second apply ran %q and wrote %q", cmds, f.writes)
					}
					// Every check, file and the IPVS table answered in one round trip.
					if len(f.ran) != 1 || len(f.reads) > 0 {
						t.Errorf("second apply made %d calls and read %q, want 1 survey: %q", len(f.ran), f.reads, f.ran)
					}
					if len(events) != len(steps) {
						t.Errorf("%d events for %d steps", len(events), len(steps))
					}
					for _, e := range events {
						if e.Status != StatusUnchanged {
							t.Errorf("event %+v", e)
						}
					}
				})
			}
		}
	}
}

func directorSteps(t *testing.T, lab, osf string) (*roles.NodeState, []catalog.Step) {
	l := rolestest.Lab(t, lab)
	st := roles.DesiredFor(l, l.Director())
	return st, catalog.Steps(st, osf)
}

func ipvsStep(t *testing.T, steps []catalog.Step) []catalog.Step {
	for _, s := range steps {
		if s.Kind == catalog.KindIPVS {
			return []catalog.Step{s}
		}
	}
	t.Fatal("no IPVS step")
	return nil
}

// configured is a fake director after a first Apply of its steps.
func configured(t *testing.T, lab string) (*fakeExec, []catalog.Step) {
	t.Helper()
	_, steps := directorSteps(t, lab, catalog.Debian)
	f := newFake()
	f.learn(steps)
	if _, err := Apply(context.Background(), f, steps, nil); err != nil {
		t.Fatal(err)
	}
	return f, steps
}

func TestApplyIPVSWholeWhenEmpty(t *testing.T) {
	f, _ := configured(t, "tedu-nat")
	var ipvsCmds []string
	for _, c := range f.commands() {
		if strings.HasPrefix(c, "ipvsadm") {
			ipvsCmds = append(ipvsCmds, c)
		}
	}
	rolestest.Eq(t, "commands", ipvsCmds, []string{"ipvsadm -C", "ipvsadm-restore < /etc/ipvsadm.rules"})
}

func TestApplyIPVSSchedulerChangeIsOneEdit(t *testing.T) {
	st, steps := directorSteps(t, "tedu-nat", catalog.Debian)
	f := newFake()
	cur := ipvs.Normalize(st.IPVS)
	cur[0].SchedName = ipvs.WeightedRoundRobin
	f.kernel.Services = cur
	res, err := Apply(context.Background(), f, ipvsStep(t, steps), nil)
	if err != nil {
		t.Fatal(err)
	}
	rolestest.Eq(t, "commands", f.commands(), []string{"ipvsadm -E -t 192.168.4.5:80 -s rr"})
	rolestest.Eq(t, "result", res.Status(), StatusChanged)
}

func TestApplyIPVSReadBackMismatch(t *testing.T) {
	st, steps := directorSteps(t, "tedu-nat", catalog.Debian)
	f := newFake()
	cur := ipvs.Normalize(st.IPVS)
	cur[0].Destinations[1].Weight = 7
	f.kernel.Services = cur
	f.kernel.Frozen = true
	_, err := Apply(context.Background(), f, ipvsStep(t, steps), nil)
	if err == nil {
		t.Fatal("no error when the table read back differs")
	}
	for _, want := range []string{`step "ipvs"`, "read back differs", "192.168.2.200:80 -m -w 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestApplyCheckStillFailing(t *testing.T) {
	steps := []catalog.Step{{Name: "x", Check: "false-check", Apply: []string{"do-nothing"}, Kind: catalog.KindService}}
	f := newFake() // never learns: the check keeps failing
	defer func(n int) { SettleAttempts = n }(SettleAttempts)
	SettleAttempts = 3
	res, err := Apply(context.Background(), f, steps, nil)
	if err == nil || !strings.Contains(err.Error(), "false-check") {
		t.Fatalf("err = %v", err)
	}
	checks, surveys := countChecks(f.ran)
	// Once in the first survey, then three attempts after applying: the
	// survey that comes with the commands, and two more surveys.
	if surveys != 4 || checks != 0 {
		t.Errorf("%d surveys and %d checks run", surveys, checks)
	}
	rolestest.Eq(t, "status", res.Steps[0].Status, StatusFailed)
}

func TestApplyRewritesDriftedFile(t *testing.T) {
	f, steps := configured(t, "tedu-nat")
	want := f.files[catalog.SysctlFile].data
	f.files[catalog.SysctlFile] = fakeFile{data: []byte("net.ipv4.ip_forward = 0\nnet.ipv4.ip_forward = 0\n"), mode: 0o644}
	f.ran, f.writes = nil, nil
	res, err := Apply(context.Background(), f, steps, nil)
	if err != nil {
		t.Fatal(err)
	}
	rolestest.Eq(t, "changed", res.ChangedSteps(), []string{"sysctl"})
	rolestest.Eq(t, "writes", f.writes, []string{catalog.SysctlFile})
	rolestest.Eq(t, "commands", f.commands(), findStepNamed(steps, "sysctl").Apply)
	rolestest.Eq(t, "content", string(f.files[catalog.SysctlFile].data), string(want))
}

func TestApplyReaddressInOneRestart(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-dr")
	st := rolestest.State(t, lab, "web1")
	steps := catalog.Steps(st, catalog.Debian)
	f := newFake()
	f.learn(steps)
	if _, err := Apply(context.Background(), f, steps, nil); err != nil {
		t.Fatal(err)
	}
	// Both interfaces change with one networkd restart, run in the session
	// itself: it rides on the management NIC, which no step touches.
	restarts := 0
	for _, c := range f.commands() {
		if strings.HasPrefix(c, "systemctl restart systemd-networkd") {
			restarts++
		}
	}
	rolestest.Eq(t, "networkd restarts", restarts, 1)
}

// A network step whose check passes only a moment after its commands is
// surveyed again (with the steps after it) until it does, and the next
// step is judged from that fresh survey.
func TestApplySettlesBySurveying(t *testing.T) {
	steps := []catalog.Step{
		{Name: "addr", Kind: catalog.KindNetwork, Check: "c1", Apply: []string{"a1"}},
		{Name: "two", Check: "c2", Apply: []string{"a2"}},
	}
	f := newFake()
	f.learn(steps)
	f.slow = map[string]int{"c1": 1}
	res, err := Apply(context.Background(), f, steps, nil)
	if err != nil {
		t.Fatal(err)
	}
	rolestest.Eq(t, "changed", res.ChangedSteps(), []string{"addr", "two"})
	rolestest.Eq(t, "commands", f.commands(), []string{"a1", "a2"})
	var surveys, checks int
	for _, c := range f.ran {
		switch {
		case isSurvey(c):
			surveys++
		case strings.HasPrefix(c, "if { "):
			checks++
		}
	}
	// The first survey, the one with a1 (c1 not yet), the retry, the one with a2.
	if surveys != 4 || checks != 0 {
		t.Errorf("%d surveys and %d single checks", surveys, checks)
	}
}

func TestApplyStopsAtFailure(t *testing.T) {
	steps := []catalog.Step{
		{Name: "one", Check: "c1", Apply: []string{"a1"}},
		{Name: "two", Check: "c2", Apply: []string{"a2"}},
	}
	f := newFake()
	f.passing["c1"] = true
	res, err := Apply(context.Background(), f, steps, nil)
	if err == nil || !strings.Contains(err.Error(), `step "two"`) {
		t.Fatalf("err = %v", err)
	}
	rolestest.Eq(t, "results", len(res.Steps), 2)
	rolestest.Eq(t, "first", res.Steps[0].Status, StatusUnchanged)
}

func TestDetectOS(t *testing.T) {
	cases := map[string]string{
		"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n":        catalog.Debian,
		"ID=ubuntu\nID_LIKE=debian\n":                                        catalog.Debian,
		"NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"": catalog.RHEL,
		"ID=\"centos\"\nID_LIKE=\"rhel fedora\"\n":                           catalog.RHEL,
		"ID=fedora\n": catalog.RHEL,
		"ID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\n": catalog.RHEL,
	}
	for text, want := range cases {
		f := newFake()
		f.files["/etc/os-release"] = fakeFile{data: []byte(text)}
		got, err := DetectOS(context.Background(), f)
		if err != nil || got != want {
			t.Errorf("DetectOS(%q) = %q, %v; want %q", text, got, err, want)
		}
	}
	f := newFake()
	f.files["/etc/os-release"] = fakeFile{data: []byte("ID=alpine\n")}
	if _, err := DetectOS(context.Background(), f); err == nil || !strings.Contains(err.Error(), "alpine") {
		t.Errorf("alpine: %v", err)
	}
	if _, err := DetectOS(context.Background(), newFake()); err == nil {
		t.Error("no os-release: no error")
	}
}

// Configure reads os-release in its first survey and applies the steps of
// the family it names: lvslab's Debian images in one survey, another
// family in a second one with that family's steps.
func TestConfigureDetectsOS(t *testing.T) {
	st, _ := directorSteps(t, "tedu-nat", catalog.Debian)
	for release, want := range map[string]string{"ID=debian\n": catalog.Debian, "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n": catalog.RHEL} {
		f := newFake()
		f.files["/etc/os-release"] = fakeFile{data: []byte(release)}
		f.learn(catalog.Steps(st, want))
		var asked []string
		osf, res, err := Configure(context.Background(), f, func(osf, owner string) []catalog.Step {
			asked = append(asked, osf)
			return catalog.StepsFor(st, osf, owner)
		}, nil)
		if err != nil || osf != want {
			t.Fatalf("%q: Configure = %q, %v; want %q", release, osf, err, want)
		}
		if !slices.Equal(asked, slices.Compact([]string{catalog.Debian, want})) {
			t.Errorf("%q: steps asked for %q", release, asked)
		}
		rolestest.Eq(t, "steps", len(res.Steps), len(catalog.Steps(st, want)))
		f.ran = nil
		if _, res, err = Configure(context.Background(), f, func(osf, owner string) []catalog.Step { return catalog.StepsFor(st, osf, owner) }, nil); err != nil || res.Changed() {
			t.Errorf("%q: again: %v, changed %v", release, err, res.ChangedSteps())
		}
		if surveys := len(slices.DeleteFunc(f.ran, func(c string) bool { return !isSurvey(c) })); surveys != len(asked) {
			t.Errorf("%q: again: %d surveys, want %d", release, surveys, len(asked))
		}
	}
	for release, want := range map[string]string{"": "no /etc/os-release", "ID=alpine\n": "alpine"} {
		f := newFake()
		if release != "" {
			f.files["/etc/os-release"] = fakeFile{data: []byte(release)}
		}
		if _, _, err := Configure(context.Background(), f, func(osf, owner string) []catalog.Step { return catalog.StepsFor(st, osf, owner) }, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", release, err, want)
		}
	}
}

// TestApplyThresholdsReadBack: "ipvsadm -Sn" does not show thresholds; the
// read-back takes them from "ipvsadm -Ln --thresholds", so a lab with
// thresholds converges and stays unchanged.
func TestApplyThresholdsReadBack(t *testing.T) {
	lab, err := topology.Load("rich.yaml", []byte(rolestest.RichLab))
	if err != nil {
		t.Fatal(err)
	}
	steps := catalog.Steps(roles.DesiredFor(lab, lab.Director()), catalog.Debian)
	f := newFake()
	f.learn(steps)
	if _, err := Apply(context.Background(), f, steps, nil); err != nil {
		t.Fatal(err)
	}
	f.ran = nil
	res, err := Apply(context.Background(), f, steps, nil)
	if err != nil || res.Changed() {
		t.Fatalf("second apply: %v, changed %v, ran %v", err, res.ChangedSteps(), f.commands())
	}
	f.kernel.Services[0].Dest("10.0.1.11:8080").UpperThreshold = 1
	if _, err := Apply(context.Background(), f, ipvsStep(t, steps), nil); err != nil {
		t.Fatal(err)
	}
	rolestest.Eq(t, "commands", f.commands(), []string{"ipvsadm -e -t 10.0.0.100:80 -r 10.0.1.11:8080 -m -w 3 -x 100 -y 10"})
}

func findStepNamed(steps []catalog.Step, name string) catalog.Step {
	for _, s := range steps {
		if s.Name == name {
			return s
		}
	}
	return catalog.Step{}
}

// calls counts the round trips (Run) an executor is asked for.
type calls struct {
	guest.Executor
	runs int
}

func (c *calls) Run(ctx context.Context, cmd string) (string, error) {
	c.runs++
	return c.Executor.Run(ctx, cmd)
}

// A change costs one round trip besides its file: rr -> wrr on a
// configured director is the survey, then the ipvsadm edit with the
// survey that reads the table back; a re-run is one survey.
func TestApplyRoundTrips(t *testing.T) {
	f, _ := configured(t, "tedu-nat")
	lab := rolestest.Lab(t, "tedu-nat")
	lab.Services[0].Scheduler = "wrr"
	steps := catalog.Steps(roles.DesiredFor(lab, lab.Node("lvs1")), catalog.Debian)
	f.ran, f.writes = nil, nil
	c := &calls{Executor: f}
	res, err := Apply(context.Background(), c, steps, nil)
	if err != nil {
		t.Fatal(err)
	}
	rolestest.Eq(t, "changed", res.ChangedSteps(), []string{"ipvs rules file", "ipvs"})
	rolestest.Eq(t, "commands", f.commands(), []string{"ipvsadm -E -t 192.168.4.5:80 -s wrr"})
	rolestest.Eq(t, "round trips", c.runs, 2)
	c.runs = 0
	if res, err := Apply(context.Background(), c, steps, nil); err != nil || res.Changed() {
		t.Fatalf("again: %v, changed %v", err, res.ChangedSteps())
	}
	rolestest.Eq(t, "round trips again", c.runs, 1)
}

// After a network or service change the first reads come soon (most
// changes settle within a fraction of a second), then every second, for
// about as long as lvslab always waited (29 s).
func TestSettleSchedule(t *testing.T) {
	defer func(d []time.Duration) { SettleDelays = d }(SettleDelays)
	SettleDelays = shippedSettleDelays
	var waits []time.Duration
	var total time.Duration
	for n := 1; n < SettleAttempts; n++ {
		waits = append(waits, settleDelay(n))
		total += settleDelay(n)
	}
	ms := time.Millisecond
	rolestest.Eq(t, "first waits", waits[:6], []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second})
	if total < 29*time.Second || total > 31*time.Second {
		t.Errorf("a step that never settles is given up after %v of waits, want about 30 s", total)
	}

	// Apply waits that way: a step that settles on the fourth read
	// waited 0.1, 0.2 and 0.4 s.
	steps := []catalog.Step{{Name: "addr", Kind: catalog.KindNetwork, Check: "c1", Apply: []string{"a1"}}}
	f := newFake()
	f.learn(steps)
	f.slow = map[string]int{"c1": 3}
	defer func(s func(context.Context, time.Duration) error) { sleep = s }(sleep)
	waits = nil
	sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	if _, err := Apply(context.Background(), f, steps, nil); err != nil {
		t.Fatal(err)
	}
	rolestest.Eq(t, "waits", waits, []time.Duration{100 * ms, 200 * ms, 400 * ms})
}
