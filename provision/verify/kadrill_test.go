package verify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/topology/testkit/shtest"
)

func kdrill(t *testing.T, w *world, step, node string, opts DrillOptions) *DrillReport {
	t.Helper()
	w.acted = make(chan struct{})
	var log bytes.Buffer
	d, err := Drill(context.Background(), w.lab, w.dial, step, node, opts, &log)
	if err != nil {
		t.Fatalf("drill %s %s: %v", step, node, err)
	}
	return d
}

func drillCheck(t *testing.T, d *DrillReport, name string) report.Check {
	t.Helper()
	for _, c := range d.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, d.Checks)
	return report.Check{}
}

// The master fails the three ways: the VIP moves to lvs2, the client's gap
// is measured against its target, and restore shows preemption back.
func TestDrillKeepalivedFailover(t *testing.T) {
	for _, tc := range []struct {
		how    string
		gap    string
		failed int
		target float64
		cmd    string
		killed bool
	}{
		{HowStop, "0.20 s", 1, 1, "lvs1: systemctl stop keepalived", false},
		{HowKill, "3.60 s", 35, 4.2, "lvs1: systemctl kill -s KILL keepalived", true},
		{HowNICDown, "3.60 s", 35, 4.2, "lvs1: ip link set eth0 down", false},
	} {
		t.Run(tc.how, func(t *testing.T) {
			w := newWorld(t, "tedu-keepalived-dr")
			d := kdrill(t, w, DrillFail, "lvs1", DrillOptions{How: tc.how})
			if !strings.Contains(strings.Join(d.Actions, "\n"), tc.cmd) {
				t.Errorf("actions %v", d.Actions)
			}
			moved := drillCheck(t, d, "VIP moved")
			if moved.Status != report.Pass || !strings.Contains(moved.Detail, "lvs1 -> lvs2") || strings.Contains(moved.Detail, "still carries") != tc.killed {
				t.Errorf("VIP moved: %+v", moved)
			}
			ft := drillCheck(t, d, "failover time")
			if ft.Status != report.Pass || !strings.Contains(ft.Detail, tc.gap) {
				t.Errorf("failover time: %+v", ft)
			}
			if d.Outage == nil || d.Outage.Failed != tc.failed || d.Target < tc.target-0.05 || d.Target > tc.target+0.05 {
				t.Errorf("outage %+v, target %.2f", d.Outage, d.Target)
			}
			if !d.Pass {
				t.Errorf("fail step: %v", drillFailures(d))
			}
			// verify after it: the backup holds the VIP, the master is down.
			held := check(t, d.Verify, vipHeld)
			if tc.killed {
				if held.Status != report.Fail || !strings.Contains(held.Detail, "lvs1 (keepalived inactive) still carry") {
					t.Errorf("stale VIP after kill: %+v", held)
				}
			} else if held.Status != report.Pass || !strings.Contains(held.Detail, "the lab's MASTER lvs1 is down") {
				t.Errorf("verify after %s: %+v", tc.how, held)
			}
			d = kdrill(t, w, DrillRestore, "lvs1", DrillOptions{})
			if c := drillCheck(t, d, "preemption"); c.Status != report.Pass || !strings.Contains(c.Detail, "lvs1 holds the VIP: the higher priority took it back") {
				t.Errorf("preemption: %+v", c)
			}
			if !d.Pass {
				t.Errorf("restore: %v", drillFailures(d))
			}
		})
	}
}

// A gap over the target fails the drill's verdict; nopreempt keeps the
// VIP on the backup after the restore.
func TestDrillKeepalivedTargetsAndNoPreempt(t *testing.T) {
	w := newWorld(t, "tedu-keepalived-dr")
	w.lab.Services[0].Keepalived.NoPreempt = true
	d := kdrill(t, w, DrillFail, "lvs1", DrillOptions{How: HowStop})
	w.gap = 0
	if d.Pass != true {
		t.Fatalf("fail: %v", drillFailures(d))
	}
	d = kdrill(t, w, DrillRestore, "lvs1", DrillOptions{})
	if c := drillCheck(t, d, "preemption"); c.Status != report.Pass || !strings.Contains(c.Detail, "nopreempt: lvs2 keeps the VIP") {
		t.Errorf("nopreempt: %+v", c)
	}

	o := OutageOf([]Sample{{At: 1, OK: true}, {At: 1.1}, {At: 6.1, OK: true}})
	cs := routerVerdict(w.lab.Services[0], DrillFail, HowKill, "lvs1", VRRPState{Holders: []string{"lvs1"}}, VRRPState{Holders: []string{"lvs2"}}, o, FailoverTarget(HowKill, w.lab.Services[0].Keepalived, 50), false)
	if cs[1].Status != report.Fail || !strings.Contains(cs[1].Detail, "5.10 s") || !strings.Contains(cs[1].Detail, "over the target 4.2 s") {
		t.Errorf("over the target: %+v", cs[1])
	}
	// A loop that sent nothing for 21 s (the client VM starved of CPU):
	// its failures are the host's, and the FAIL says so; a loop that
	// kept its pace has no stall.
	var paced, starved []Sample
	for i := range 40 {
		at := 1 + float64(i)/10
		paced = append(paced, Sample{At: at, OK: i < 10 || i > 20})
		if i >= 20 {
			at += 21
		}
		starved = append(starved, Sample{At: at, OK: i < 19 || i > 25})
	}
	if o := OutageOf(paced); o.Stalled != 0 {
		t.Errorf("a paced loop stalled: %+v", o)
	}
	o = OutageOf(starved)
	if o.Stalled < 21 || o.Stalled > 21.2 {
		t.Errorf("stall: %+v", o)
	}
	hv := healthVerdict(w.lab.Services[0], DrillRestore, "web1", "lvs1", "192.168.4.100", time.Second, 27*time.Second, starved, o)
	if c := hv[len(hv)-1]; c.Status != report.Fail || !strings.Contains(c.Detail, "the client loop stalled 21.1 s") {
		t.Errorf("restore with a stalled loop: %+v", c)
	}
	// Judged as printed: 1.004 s is "1.00 s", within the 1 s target.
	o = Outage{Requests: 3, Failed: 1, Seconds: 1.004, Recovered: true}
	if cs := routerVerdict(w.lab.Services[0], DrillFail, HowStop, "lvs1", VRRPState{Holders: []string{"lvs1"}}, VRRPState{Holders: []string{"lvs2"}}, o, time.Second, false); cs[1].Status != report.Pass {
		t.Errorf("1.004 s against 1 s: %+v", cs[1])
	}
	if o := OutageOf([]Sample{{At: 1, OK: true}, {At: 1.1}}); o.Recovered {
		t.Errorf("no answer after the failures: %+v", o)
	}
	// A loop that begins inside the gap: a lower bound from its start, and
	// a FAIL (it passed as "0.00 s" in make e2e-keepalived).
	o = OutageOf([]Sample{{At: 1}, {At: 1.1}, {At: 1.5, OK: true, Node: "web1"}})
	if !o.FromStart || o.Seconds < 0.49 || o.Seconds > 0.51 {
		t.Errorf("from the start: %+v", o)
	}
	cs = routerVerdict(w.lab.Services[0], DrillRestore, HowStop, "lvs1", VRRPState{Holders: []string{"lvs2"}}, VRRPState{Holders: []string{"lvs1"}}, o, 4*time.Second, false)
	if cs[1].Status != report.Fail || !strings.Contains(cs[1].Detail, "first request failed (2 of 3 in all)") {
		t.Errorf("from the start: %+v", cs[1])
	}
}

// The VRRP-only pair: the page says which router answered, before and
// after the gap.
func TestDrillKeepalivedWeb(t *testing.T) {
	w := newWorld(t, "tedu-keepalived-web")
	d := kdrill(t, w, DrillFail, "web1", DrillOptions{How: HowKill})
	if d.Outage.Before != "web1" || d.Outage.After != "web2" {
		t.Errorf("outage %+v", d.Outage)
	}
	if c := drillCheck(t, d, "failover time"); c.Status != report.Pass || !strings.Contains(c.Detail, "3.60 s") {
		t.Errorf("failover: %+v", c)
	}
}

// drill fail web1 on the health-checked service: keepalived takes web1
// out (here at the third read of lvs1's table, 1 s), the failures stop
// there, and restore puts it back with no failure.
func TestDrillKeepalivedHealthCheck(t *testing.T) {
	w := newWorld(t, "tedu-keepalived-dr")
	d := kdrill(t, w, DrillFail, "web1", DrillOptions{})
	out := drillCheck(t, d, "keepalived takes web1 out")
	if out.Status != report.Pass || !strings.Contains(out.Detail, "after 1.0 s (target 27 s") {
		t.Errorf("takes out: %+v", out)
	}
	if c := drillCheck(t, d, "no failed request after it"); c.Status != report.Pass {
		t.Errorf("after: %+v", c)
	}
	if d.Outage.Failed == 0 {
		t.Error("the window before keepalived acts has failures")
	}
	if !d.Pass {
		t.Errorf("fail web1: %v", drillFailures(d))
	}
	d = kdrill(t, w, DrillRestore, "web1", DrillOptions{})
	if c := drillCheck(t, d, "keepalived puts web1 back"); c.Status != report.Pass {
		t.Errorf("back: %+v", c)
	}
	if !d.Pass {
		t.Errorf("restore web1: %v", drillFailures(d))
	}
	for _, node := range []string{"lvs1", "web1"} {
		if _, err := Drill(context.Background(), w.lab, w.dial, DrillHeal, node, DrillOptions{}, nil); err == nil {
			t.Errorf("heal of %s under keepalived must not run: keepalived heals by itself", node)
		}
	}
}

// The download across the failure: with sync on it survives (same
// checksum), with sync off it breaks, the negative control; both pass,
// each contrary outcome fails.
func TestDrillKeepalivedConnectionSync(t *testing.T) {
	for _, sync := range []bool{true, false} {
		w := newWorld(t, "tedu-keepalived-dr")
		w.sync = sync
		d := kdrill(t, w, DrillFail, "lvs1", DrillOptions{How: HowStop, Download: true})
		c := drillCheck(t, d, "download across the failover")
		want := map[bool]string{true: "sync on: the 4 MiB download survived", false: "the negative control): the download broke"}[sync]
		if c.Status != report.Pass || !strings.Contains(c.Detail, want) {
			t.Errorf("sync %v: %+v", sync, c)
		}
		// With sync the master fails only once the backup has the connection.
		if learned := strings.Contains(strings.Join(d.Actions, "\n"), "lvs2: the download's connection 192.168.4.10:32100 is in its table"); learned != sync {
			t.Errorf("sync %v: the wait for the backup's entry %v: %v", sync, learned, d.Actions)
		}
	}
}

// A download's failure is the master's lab NIC down unless --how says
// otherwise; a clean stop whose router resets the download itself is
// named as such, not as a backup that did not know the connection.
func TestDrillKeepalivedDownloadFailure(t *testing.T) {
	w := newWorld(t, "tedu-keepalived-dr")
	w.sync, w.stopResets = true, true
	d := kdrill(t, w, DrillFail, "lvs1", DrillOptions{Download: true})
	if !strings.Contains(strings.Join(d.Actions, "\n"), "lvs1: ip link set eth0 down") {
		t.Errorf("the download's default failure: %v", d.Actions)
	}
	if c := drillCheck(t, d, "download across the failover"); c.Status != report.Pass {
		t.Errorf("nic-down with sync: %+v", c)
	}
	kdrill(t, w, DrillRestore, "lvs1", DrillOptions{})
	d = kdrill(t, w, DrillFail, "lvs1", DrillOptions{Download: true, How: HowStop})
	c := drillCheck(t, d, "download across the failover")
	if c.Status != report.Fail || !strings.Contains(c.Detail, "lvs1 reset it itself (its TCP OutRsts rose), not the backup") || !strings.Contains(c.Detail, "--how nic-down") {
		t.Errorf("a stop that resets: %+v", c)
	}
}

// The negative control after a run with sync: lvs2 still holds the entry
// its sync daemon learned from the first download's port, which would
// carry a new connection from that port without sync; the download takes
// another port, and breaks.
func TestDrillKeepalivedDownloadAvoidsStaleEntries(t *testing.T) {
	w := newWorld(t, "tedu-keepalived-dr")
	w.holdDownloadPort("lvs2", DownloadPorts[0])
	d := kdrill(t, w, DrillFail, "lvs1", DrillOptions{How: HowStop, Download: true, Sync: "off"})
	if c := drillCheck(t, d, "download across the failover"); c.Status != report.Pass || !strings.Contains(c.Detail, "broke") {
		t.Errorf("sync off with a stale entry: %+v", c)
	}
	if !slices.ContainsFunc(w.log, func(l string) bool { return strings.Contains(l, fmt.Sprintf("--local-port %d ", DownloadPorts[0]+1)) }) {
		t.Error("the download did not take the next port")
	}
}

// A download cut by its own time limit is neither outcome: the drill says
// the client was too slow, with sync on or off.
func TestDrillKeepalivedDownloadOutOfTime(t *testing.T) {
	for _, sync := range []bool{true, false} {
		w := newWorld(t, "tedu-keepalived-dr")
		w.sync, w.slowClient = sync, true
		d := kdrill(t, w, DrillFail, "lvs1", DrillOptions{How: HowStop, Download: true})
		if c := drillCheck(t, d, "download across the failover"); c.Status != report.Fail || !strings.Contains(c.Detail, "did not end in time") {
			t.Errorf("sync %v: %+v", sync, c)
		}
	}
}

// --sync on|off rewrites both routers' keepalived.conf before the failure:
// the positive run and the negative control on one lab.
func TestDrillKeepalivedSyncSwitch(t *testing.T) {
	w := newWorld(t, "tedu-keepalived-dr")
	d := kdrill(t, w, DrillFail, "lvs1", DrillOptions{How: HowStop, Download: true, Sync: "on"})
	if c := drillCheck(t, d, "download across the failover"); c.Status != report.Pass || !strings.Contains(c.Detail, "survived") {
		t.Errorf("sync on: %+v", c)
	}
	if w.lab.Services[0].Keepalived.Sync {
		t.Error("the lab in memory keeps its own sync setting")
	}
	kdrill(t, w, DrillRestore, "lvs1", DrillOptions{})
	d = kdrill(t, w, DrillFail, "lvs1", DrillOptions{How: HowStop, Download: true, Sync: "off"})
	if c := drillCheck(t, d, "download across the failover"); c.Status != report.Pass || !strings.Contains(c.Detail, "broke") {
		t.Errorf("sync off: %+v", c)
	}
	if !strings.Contains(strings.Join(d.Actions, "\n"), "lvs2: /etc/keepalived/keepalived.conf with connection sync off") {
		t.Errorf("actions %v", d.Actions)
	}
}

// The client loop in real bash with a curl that hangs its connect for a
// whole second on every third request (a VIP nobody holds): the requests
// still leave one interval apart, and every one is reported, in order.
func TestLoopCommandDoesNotWaitForAHangingRequest(t *testing.T) {
	shtest.Need(t, "bash")
	// curl -s -m T --connect-timeout T -o BODY -w FORMAT URL
	fake := `n=$( { flock 8; n=$(($(cat "$0.n" 2>/dev/null || echo 0) + 1)); echo $n > "$0.n"; echo $n; } 8>"$0.lock")
lp=0; while [ $# -gt 1 ]; do case $1 in -o) o=$2; shift;; -w) w=$2; shift;; --local-port) lp=$2; shift;; esac; shift; done
echo "$n $lp" >> "$0.ports"
if [ $((n % 3)) -eq 0 ]; then sleep 1; printf '%s' "$w" | sed 's/%{http_code}/000/'; exit 28; fi
echo "web$((n % 2 + 1))" > "$o"
printf '%s' "$w" | sed 's/%{http_code}/200/'
`
	dir := shtest.Stubs(t, map[string]string{"curl": fake})
	loop := func(n int, limit time.Duration) []byte {
		out, err := shtest.Command(LoopCommand("M", "http://192.0.2.1/", []uint16{61000, 61001}, n, 100*time.Millisecond, limit), "PATH="+dir+":"+os.Getenv("PATH")).Output()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return out
	}
	// A loop that cannot send all its requests by its limit stops sending
	// and still reports those it sent.
	if got := len(ParseLoop("M", string(loop(100, 2500*time.Millisecond)), nil)); got < 2 || got > 8 {
		t.Errorf("a loop of 100 requests stopped after 0.5 s reported %d", got)
	}
	os.Remove(filepath.Join(dir, "curl.n"))
	os.Remove(filepath.Join(dir, "curl.ports"))
	out := loop(9, 20*time.Second)
	// Requests 1 and 2 leave from the ports given, the others from the kernel's.
	b, _ := os.ReadFile(filepath.Join(dir, "curl.ports"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	slices.Sort(lines)
	if want := []string{"1 61000", "2 61001", "3 0", "4 0", "5 0", "6 0", "7 0", "8 0", "9 0"}; !slices.Equal(lines, want) {
		t.Errorf("source ports %q, want %q", lines, want)
	}
	mapper, err := NewMapper(map[string]string{"web1": "web1", "web2": "web2"})
	if err != nil {
		t.Fatal(err)
	}
	samples := ParseLoop("M", string(out), mapper)
	if len(samples) != 9 {
		t.Fatalf("%d samples, want 9:\n%s", len(samples), out)
	}
	failed := 0
	for i, s := range samples {
		if !s.OK {
			failed++
		} else if s.Node != "web1" && s.Node != "web2" {
			t.Errorf("request %d: page %q", i+1, s.Node)
		}
		if i > 0 {
			// A serial loop would leave a second after each hung request.
			if d := s.At - samples[i-1].At; d < 0 || d > 0.6 {
				t.Errorf("request %d left %.2f s after the one before:\n%s", i+1, d, out)
			}
		}
	}
	if failed != 3 {
		t.Errorf("%d failed, want 3:\n%s", failed, out)
	}
}
