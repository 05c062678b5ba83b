package verify

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/roles/keepalived"
	"github.com/lvslab/lvslab/roles/shell"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// LoopInterval is the client loop's pace: a request every 100 ms.
const LoopInterval = 100 * time.Millisecond

// Sample is one request of the client loop: when it left (the client's
// clock, seconds), whether it was answered and by which node's page.
type Sample struct {
	At   float64 `json:"at"`
	OK   bool    `json:"ok"`
	Node string  `json:"node,omitempty"`
}

// LoopCommand is the drill's client loop: a request to url every interval
// (at most n, and none after about limit), request k from ports[k] (the
// kernel's choice when 0 or beyond ports), each line "MARKER TIME RC BODY"
// with the client's clock in seconds when it left and 0 when it was
// answered. It is bash, so that a request costs one process (curl) and
// nothing else: the clock is $EPOCHREALTIME, the pace a read with a timeout
// on a FIFO nobody writes to (no sleep process). Each curl runs in the
// background, its body and its -w line in files of its own, read after the
// loop: one that hangs on a VIP nobody holds does not hold back the next,
// so the gap is read to one interval (a loop that waited was read to half
// a second). A request gives up connecting after half a second (a LAN
// connect takes a millisecond; a SYN lost in the gap is sent again only
// after 1 s), so an answer means the VIP answered within half a second of
// its time. %{http_code} (000: no answer) rather than %{exitcode}, which
// EL 8's curl lacks.
func LoopCommand(marker, url string, ports []uint16, n int, interval, limit time.Duration) string {
	step := interval.Microseconds()
	// A client too slow to keep the pace stops sending at limit less the
	// last request's time, and still prints what it has.
	stop := max(limit-2*time.Second, interval)
	words := make([]string, len(ports))
	for i, p := range ports {
		words[i] = strconv.Itoa(int(p))
	}
	script := fmt.Sprintf(`export LC_ALL=C; P=(%s); d=$(mktemp -d) || exit 1; mkfifo "$d/p" && exec 9<>"$d/p"; `+
		`s=${EPOCHREALTIME/./}; e=$((s + %d)); i=0; while [ $i -lt %d ] && [ ${EPOCHREALTIME/./} -lt $e ]; do `+
		`w=$((s + i*%d - ${EPOCHREALTIME/./})); if [ $w -gt 0 ]; then printf -v w '%%d.%%06d' $((w/1000000)) $((w%%1000000)); read -t "$w" -u 9; fi; `+
		`i=$((i+1)); p=${P[i-1]:-0}; lp=; [ "$p" = 0 ] || lp="--local-port $p"; `+
		`curl -s -m 1.5 --connect-timeout 0.5 $lp -o "$d/b$i" -w "$EPOCHREALTIME %%{http_code}" %s > "$d/w$i" 2>/dev/null & done; wait; `+
		`for ((j=1; j<=i; j++)); do t=; c=; b=; read -r t c < "$d/w$j"; [ -n "$t" ] || continue; `+
		`[ -f "$d/b$j" ] && read -r -d '' b < "$d/b$j"; b=${b//$'\n'/ }; rc=0; [ "$c" != 000 ] || rc=1; `+
		`printf '%%s %%s %%s %%s\n' %s "$t" "$rc" "${b:0:200}"; done; rm -rf "$d"`,
		strings.Join(words, " "), stop.Microseconds(), n, step, shell.Quote(url), marker)
	// The outer bound only guards a bash that hangs: killed, it would print
	// nothing, so the loop stops sending by itself first.
	return bound(limit+5*time.Second, "bash -c "+shell.Quote(script)) + "; true"
}

// ParseLoop reads LoopCommand's lines; mapper names the node of a page.
func ParseLoop(marker, out string, mapper *Mapper) []Sample {
	var out2 []Sample
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, marker+" ")
		if !ok {
			continue
		}
		f := strings.SplitN(rest, " ", 3)
		if len(f) < 2 {
			continue
		}
		at, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		s := Sample{At: at, OK: f[1] == "0"}
		if s.OK && len(f) == 3 && mapper != nil {
			s.Node = mapper.Node(strings.TrimSpace(f[2]))
		}
		out2 = append(out2, s)
	}
	// The requests run side by side: their lines come as they end.
	slices.SortStableFunc(out2, func(a, b Sample) int { return cmp.Compare(a.At, b.At) })
	return out2
}

// Outage is the gap a failover leaves in the client loop: the last answer
// before the first failure, the first answer after the last failure,
// and the requests that failed.
type Outage struct {
	Requests int     `json:"requests"`
	Failed   int     `json:"failed"`
	LastOK   float64 `json:"last_ok,omitempty"`
	FirstOK  float64 `json:"first_ok,omitempty"`
	// Seconds is FirstOK - LastOK: the failover time the client saw (0
	// when no request failed).
	Seconds float64 `json:"seconds"`
	// Before and After are the nodes whose page answered last before and
	// first after the gap (a VRRP-only pair: the old and the new master).
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Recovered: an answer came after the last failure.
	Recovered bool `json:"recovered"`
	// FromStart: the loop's first request failed, so the gap began before
	// the loop did; LastOK is then the first request's time and Seconds a
	// lower bound.
	FromStart bool `json:"from_start,omitempty"`
	// Stalled is the longest time between two requests the loop sent, when
	// over StallLimit: the client VM got no CPU (a loaded host under TCG)
	// and the gaps and failures of that stretch are the host's.
	Stalled float64 `json:"stalled,omitempty"`
}

// StallLimit is the longest pause between two of the loop's requests
// (ten intervals) that still times keepalived rather than the host.
const StallLimit = time.Second

// stallNote is what a timing FAIL adds when the loop stalled.
func (o Outage) stallNote() string {
	if o.Stalled == 0 {
		return ""
	}
	return fmt.Sprintf("; the client loop stalled %.1f s (no request sent: the client VM had no CPU), so this is the host's timing, not keepalived's: run the drill on a less loaded host", o.Stalled)
}

// OutageOf measures the gap in samples.
func OutageOf(samples []Sample) Outage {
	o := Outage{Requests: len(samples)}
	for i := 1; i < len(samples); i++ {
		if d := samples[i].At - samples[i-1].At; d > StallLimit.Seconds() && d > o.Stalled {
			o.Stalled = d
		}
	}
	first, last := -1, -1
	for i, s := range samples {
		if !s.OK {
			o.Failed++
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		o.Recovered = len(samples) > 0
		return o
	}
	for i := first - 1; i >= 0; i-- {
		if samples[i].OK {
			o.LastOK, o.Before = samples[i].At, samples[i].Node
			break
		}
	}
	for i := last + 1; i < len(samples); i++ {
		if samples[i].OK {
			o.FirstOK, o.After, o.Recovered = samples[i].At, samples[i].Node, true
			break
		}
	}
	if first == 0 {
		o.FromStart, o.LastOK = true, samples[0].At
	}
	if o.Recovered {
		o.Seconds = o.FirstOK - o.LastOK
	}
	return o
}

// FailoverTarget is the promise for a failover, by how the master
// failed: a clean stop's priority 0 advert makes the backup take over at
// once (1 s); a kill or a NIC down waits the master-down interval,
// 3 x advert_int + (256 - priority)/256 s (about 3.6 s with advert_int 1):
// 4 s.
func FailoverTarget(how string, k *topology.Keepalived, backupPriority int) time.Duration {
	if how == HowStop {
		return time.Second
	}
	down := 3*float64(k.AdvertInt) + float64(256-backupPriority)/256
	return time.Duration((down + 0.4) * float64(time.Second))
}

// HealthTarget bounds the time keepalived takes to take a real server out:
// delay_loop, then the failed check and its retries (each connect_timeout
// at most, delay_before_retry apart).
func HealthTarget(k *topology.Keepalived) time.Duration {
	c := k.Check
	if c == nil {
		return 0
	}
	secs := k.DelayLoop + (c.Retry+1)*c.ConnectTimeout + c.Retry*c.DelayBeforeRetry
	return time.Duration(secs) * time.Second
}

// keepalivedRouterOf is the keepalived service node is a router of.
func keepalivedRouterOf(lab *topology.Lab, node string) *topology.Service {
	for _, s := range lab.KeepalivedServices() {
		if s.Keepalived.Router(node) != nil {
			return s
		}
	}
	return nil
}

// healthCheckedOf is the keepalived service with a health check that node
// is a real server of.
func healthCheckedOf(lab *topology.Lab, node string) *topology.Service {
	for _, s := range lab.Services {
		if s.Keepalived == nil || s.Keepalived.Check == nil {
			continue
		}
		if slices.ContainsFunc(s.RealServers, func(r *topology.RealServer) bool { return r.Node == node }) {
			return s
		}
	}
	return nil
}

// drillNow and drillSleep are the drill's clock (tests replace them).
var (
	drillNow   = time.Now
	drillSleep = guest.Sleep
)

// loopRun is a client loop running while the drill acts.
type loopRun struct {
	marker string
	done   chan struct{}
	out    string
	err    error
}

// startLoop starts the client loop for about secs seconds.
// Its requests leave from source ports no router's IPVS table holds (see
// SourcePorts): a SYN from a port a router still holds in FIN_WAIT goes to
// that entry's real server unscheduled, which fails while that server is
// down (make e2e-keepalived: 7 of 268 requests, scattered over the health
// drill's restore).
func startLoop(ctx context.Context, lab *topology.Lab, s *topology.Service, dial guest.Dialer, cx guest.Executor, secs float64) *loopRun {
	l := &loopRun{marker: guest.NewMarker(), done: make(chan struct{})}
	n := int(secs / LoopInterval.Seconds())
	ports := loopPorts(ctx, s, dial, cx, n)
	// Each request costs the interval and up to 1.5 s more on a dead VIP.
	limit := time.Duration(secs*float64(time.Second)) + 15*time.Second
	go func() {
		defer close(l.done)
		l.out, l.err = cx.Run(ctx, LoopCommand(l.marker, URL(s.VIP.String(), s.Port), ports, n, LoopInterval, limit))
	}()
	return l
}

// loopPorts are n source ports that neither the client nor any router's
// table holds; none (the kernel's choice) for a VRRP-only service.
func loopPorts(ctx context.Context, s *topology.Service, dial guest.Dialer, cx guest.Executor, n int) []uint16 {
	if s.Mode == topology.ModeVRRP {
		return nil
	}
	return SourcePorts(takenPorts(ctx, s, dial, cx), n)
}

// takenPorts are the source ports the client's sockets and the routers'
// connection entries hold (a backup's entries include those its sync
// daemon learned, which live on after the connection ended).
func takenPorts(ctx context.Context, s *topology.Service, dial guest.Dialer, cx guest.Executor) []uint16 {
	var taken []uint16
	for _, r := range s.Keepalived.Routers {
		if x, err := dial(r.Node); err == nil {
			if tab, err := ipvs.New(x.Run).TableConns(ctx); err == nil {
				taken = append(taken, HeldPorts(tab.Conns)...)
			}
		}
	}
	if out, err := cx.Run(ctx, SocketsCommand); err == nil {
		taken = append(taken, SocketPorts(out)...)
	}
	return taken
}

func (l *loopRun) wait(mapper *Mapper) ([]Sample, error) {
	<-l.done
	if l.err != nil {
		return nil, l.err
	}
	return ParseLoop(l.marker, l.out, mapper), nil
}

// Warmup is how long the loop runs before the drill acts: the old
// master's answers before the gap.
const Warmup = 2 * time.Second

// routerDrill fails or restores a keepalived router while the client
// loop runs through the VIP, and measures the gap the client saw.
func routerDrill(ctx context.Context, lab *topology.Lab, dial guest.Dialer, s *topology.Service, step, node string, opts DrillOptions, act func(string, ...any)) (*DrillReport, error) {
	how, err := routerHow(step, node, opts.How, opts.Download)
	if err != nil {
		return nil, err
	}
	cx, mapper, err := drillClient(lab, dial, opts)
	if err != nil {
		return nil, err
	}
	x, err := dial(node)
	if err != nil {
		return nil, cannot("cannot reach %s: %v", node, err)
	}
	nic := lab.Node(node).NICFor(s.VIP)
	if nic == nil {
		return nil, cannot("%s has no NIC on the VIP's network", node)
	}
	rep := &DrillReport{Step: step, Node: node}
	before := ReadVRRP(ctx, lab, s, dial)
	act("%s: %s holds %s before the drill", node, orNobody(before.Holders), s.VIP)

	cmds, target := routerCommands(s, step, how, node, nic.Name)
	window := Warmup.Seconds() + target.Seconds() + 6
	if opts.Sync != "" {
		if err := setSync(ctx, lab, s, dial, opts.Sync, act); err != nil {
			return nil, err
		}
	}
	var dl *download
	if opts.Download && step == DrillFail {
		if dl, err = startDownload(ctx, lab, s, dial, cx, act); err != nil {
			return nil, err
		}
		window = max(window, dl.seconds+4)
	}
	loop := startLoop(ctx, lab, s, dial, cx, window)
	if err := drillSleep(ctx, Warmup); err != nil {
		return nil, err
	}
	if dl != nil && dl.sync {
		if err := dl.awaitSynced(ctx, s, dial, node, act); err != nil {
			return nil, err
		}
	}
	if dl != nil && dl.sync {
		// Only a broken download with sync asks who reset it.
		dl.failed, dl.how, dl.resets = node, how, outResets(ctx, x)
	}
	for _, c := range cmds {
		act("%s: %s", node, c)
		if _, err := x.Run(ctx, c); err != nil {
			return nil, cannot("%s: %v", node, err)
		}
	}
	samples, err := loop.wait(mapper)
	if err != nil {
		return nil, cannot("client loop: %v", err)
	}
	after := ReadVRRP(ctx, lab, s, dial)
	o := OutageOf(samples)
	rep.Outage = &o
	rep.Target = target.Seconds()
	act("client: %d requests, %d failed, gap %.2f s (target %.1f s)", o.Requests, o.Failed, o.Seconds, target.Seconds())
	rep.Checks = append(rep.Checks, routerVerdict(s, step, how, node, before, after, o, target, killedHolds(step, how, node, after))...)
	if dl != nil {
		rep.Checks = append(rep.Checks, dl.verdict(ctx, x))
	}
	killed := killedHolds(step, how, node, after)
	if err := rep.verifyAfter(ctx, lab, dial, opts, func(cs []report.Check) []report.Check {
		if killed {
			// A killed keepalived leaves its VIP: the drill said so above.
			cs = slices.DeleteFunc(slices.Clone(cs), func(c report.Check) bool { return strings.HasPrefix(c.Name, "one VRRP master holds") })
		}
		return cs
	}); err != nil {
		return nil, err
	}
	return rep, nil
}

// routerHow is how a router drill's step fails the router (--how): stop
// by default, nic-down with a download, whose question is whether the
// backup knows the connection. A clean stop answers another one: the
// stopping keepalived removes its IPVS rules (checker process) before it
// gives up the VIP (VRRP process), and its own TCP stack resets a packet
// of the download landing in between, sync or not (3 runs in 7 here).
// Heal is no step of a router's.
func routerHow(step, node, how string, download bool) (string, error) {
	if step == DrillHeal {
		return "", cannot("%s is a keepalived router: drill fail and restore it (keepalived heals by itself)", node)
	}
	if how == "" && download {
		how = HowNICDown
	}
	how = cmp.Or(how, HowStop)
	if !slices.Contains(Hows, how) {
		return "", cannot("--how %q: use %s", how, strings.Join(Hows, ", "))
	}
	return how, nil
}

// killedHolds: after a kill the old master still carries the VIP (nobody
// removed it); the backup's gratuitous ARP has moved the client anyway.
func killedHolds(step, how, node string, after VRRPState) bool {
	return step == DrillFail && how == HowKill && slices.Contains(after.Holders, node)
}

func lowestOther(k *topology.Keepalived, node string) int {
	p := 255
	for _, r := range k.Routers {
		if r.Node != node && r.Priority < p {
			p = r.Priority
		}
	}
	return p
}

func orNobody(v []string) string {
	if len(v) == 0 {
		return "nobody"
	}
	return strings.Join(v, ", ")
}

// routerVerdict: where the VIP went and the gap the client saw, against
// the target (printed; a gap over it is a FAIL of the drill, not of a
// test).
func routerVerdict(s *topology.Service, step, how, node string, before, after VRRPState, o Outage, target time.Duration, killed bool) []report.Check {
	k := s.Keepalived
	var out []report.Check
	holders := slices.DeleteFunc(slices.Clone(after.Holders), func(h string) bool { return killed && h == node })
	switch step {
	case DrillFail:
		name := "VIP moved"
		switch {
		case len(holders) != 1:
			out = append(out, failf(name, "after %s of %s the VIP %s is on %s: want exactly one other router", how, node, s.VIP, orNobody(after.Holders)))
		case holders[0] == node:
			out = append(out, failf(name, "%s still holds %s after %s", node, s.VIP, how))
		default:
			d := fmt.Sprintf("%s -> %s", orNobody(before.Holders), holders[0])
			if killed {
				d += fmt.Sprintf(" (%s, killed, still carries the VIP on its NIC: nobody removed it; the new master's gratuitous ARP moved the client)", node)
			}
			out = append(out, passf(name, "%s", d))
		}
	case DrillRestore:
		name := "preemption"
		master := k.Master().Node
		switch {
		case len(holders) != 1:
			out = append(out, failf(name, "the VIP %s is on %s after the restore", s.VIP, orNobody(after.Holders)))
		case k.NoPreempt && holders[0] != node:
			out = append(out, passf(name, "nopreempt: %s keeps the VIP, %s comes back as BACKUP", holders[0], node))
		case k.NoPreempt:
			out = append(out, failf(name, "nopreempt, yet %s took the VIP back", node))
		case node == master && holders[0] != node:
			out = append(out, failf(name, "%s (priority %d) is back but %s keeps the VIP: preemption did not happen", node, k.Router(node).Priority, holders[0]))
		default:
			out = append(out, passf(name, "%s holds the VIP: %s", holders[0], map[bool]string{true: "the higher priority took it back", false: "it never left"}[holders[0] == node && orNobody(before.Holders) != node]))
		}
	}
	name := "failover time"
	if step == DrillRestore {
		name = "preemption time"
	}
	switch {
	case !o.Recovered:
		out = append(out, failf(name, "%d of %d requests failed and none was answered after: the VIP does not answer", o.Failed, o.Requests))
	case o.FromStart:
		out = append(out, failf(name, "the loop's first request failed (%d of %d in all): the VIP did not answer before the drill acted, the first answer came %.2f s after the loop began (from %s); verify the lab first", o.Failed, o.Requests, o.Seconds, orNobody([]string{o.After})))
	case o.Failed == 0:
		out = append(out, passf(name, "no request failed (%d sent, one every %s): the gap was under one interval; target %.1f s", o.Requests, LoopInterval, target.Seconds()))
	case math.Round(o.Seconds*100)/100 > target.Seconds():
		// Judged as printed: "1.00 s, over the target 1.0 s" read as a
		// contradiction (1.004 s); the loop reads to 0.1 s anyway.
		out = append(out, failf(name, "%.2f s from the last answer (%s) to the first (%s), %d request(s) failed: over the target %.1f s%s", o.Seconds, orNobody([]string{o.Before}), orNobody([]string{o.After}), o.Failed, target.Seconds(), o.stallNote()))
	default:
		out = append(out, passf(name, "%.2f s from the last answer to the first, %d request(s) failed; target %.1f s", o.Seconds, o.Failed, target.Seconds()))
	}
	return out
}

// healthDrill fails or restores a real server of a health-checked
// keepalived service: the web server stopped (started), the client loop
// running through the VIP, and the holder's table read every half second
// until keepalived takes it out (puts it back).
func healthDrill(ctx context.Context, lab *topology.Lab, dial guest.Dialer, s *topology.Service, step, node string, opts DrillOptions, act func(string, ...any)) (*DrillReport, error) {
	if step == DrillHeal {
		return nil, cannot("%s's service is health-checked by keepalived: it heals by itself; drill fail and restore it", node)
	}
	cx, mapper, err := drillClient(lab, dial, opts)
	if err != nil {
		return nil, err
	}
	v := ReadVRRP(ctx, lab, s, dial)
	holder := v.Holder()
	if holder == "" {
		return nil, cannot("no single router holds %s (%s): verify the lab first", s.VIP, orNobody(v.Holders))
	}
	hx, err := dial(holder)
	if err != nil {
		return nil, cannot("cannot reach %s: %v", holder, err)
	}
	want := ipvsServiceOf(lab, s)
	var rip string
	for i, r := range s.RealServers {
		if r.Node == node {
			rip = want.Destinations[i].Key()
		}
	}
	rep := &DrillReport{Step: step, Node: node}
	target := HealthTarget(s.Keepalived)
	loop := startLoop(ctx, lab, s, dial, cx, Warmup.Seconds()+target.Seconds()+6)
	if err := drillSleep(ctx, Warmup); err != nil {
		return nil, err
	}
	verb := map[string]string{DrillFail: "stop", DrillRestore: "start"}[step]
	if err := webServer(ctx, dial, lab.Node(node), verb, act); err != nil {
		return nil, err
	}
	took, err := awaitTable(ctx, ipvs.New(hx.Run), holder, want.Key(), rip, step == DrillRestore, target+5*time.Second)
	if err != nil {
		return nil, err
	}
	samples, err := loop.wait(mapper)
	if err != nil {
		return nil, cannot("client loop: %v", err)
	}
	o := OutageOf(samples)
	rep.Outage, rep.Target = &o, target.Seconds()
	rep.Checks = append(rep.Checks, healthVerdict(s, step, node, holder, rip, took, target, samples, o)...)
	act("client: %d requests, %d failed; keepalived acted after %.1f s (target %.0f s)", o.Requests, o.Failed, took.Seconds(), target.Seconds())
	if err := rep.verifyAfter(ctx, lab, dial, opts, nil); err != nil {
		return nil, err
	}
	return rep, nil
}

func (d *DrillReport) finish() {
	d.Pass = true
	for _, c := range d.Checks {
		if c.Status == report.Fail {
			d.Pass = false
		}
	}
}

// ipvsServiceOf is the lab's IPVS service of s, destinations in the
// order of its real servers.
func ipvsServiceOf(lab *topology.Lab, s *topology.Service) ipvs.Service {
	ls, _, _ := selectServices(lab, []string{s.Name})
	return ls[0].want
}

// Connection sync: a long download through the VIP across the failure.

// Download's shape: DownloadSize bytes of a fixed text at DownloadRate
// bytes a second, about 16 s: the failure lands in its middle.
const (
	DownloadSize = 4 << 20
	DownloadRate = 256 << 10
	// DownloadRmem is the client's TCP receive buffer (min default max)
	// while the download runs, set through DownloadRmemSysctl.
	DownloadRmem       = "4096 16384 65536"
	DownloadRmemSysctl = "net.ipv4.tcp_rmem"
	// SyncWait bounds the wait for the backup to learn the download's
	// connection: the master's sync daemon sends a connection after its
	// third packet, in a message it flushes at the latest after 2 s.
	SyncWait     = 6 * time.Second
	downloadName = "lvslab-sync-drill"
)

// downloadContent is the command that prints the file's bytes, on the
// real servers (to write it) and on the client (its checksum).
func downloadContent() string {
	return fmt.Sprintf("yes %s | head -c %d", downloadName, DownloadSize)
}

type download struct {
	run     *loopRun
	seconds float64
	sync    bool
	port    uint16 // the client's source port
	// failed is the router the drill fails, how, and its TCP resets sent
	// (OutRsts) just before: whether it reset the download itself.
	failed, how string
	resets      int
}

// SNMPCommand prints the guest's protocol counters (TCP's OutRsts).
const SNMPCommand = "cat /proc/net/snmp"

// outResets is the TCP resets x's kernel has sent (OutRsts), or -1 when it
// cannot be read (the node already gone, an odd kernel).
func outResets(ctx context.Context, x guest.Executor) int {
	out, err := x.Run(ctx, SNMPCommand)
	if err != nil {
		return -1
	}
	var names []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		if i := slices.Index(names, "OutRsts"); i > 0 && i < len(f) {
			if n, err := strconv.Atoi(f[i]); err == nil {
				return n
			}
		}
	}
	return -1
}

// DownloadPorts are the client's source ports of the download: below the
// kernel's ephemeral range (32768-60999) and verify's (61000-65535). The
// download takes the first that nothing holds: a backup keeps the entry
// its sync daemon learned of an earlier download, and would carry a new
// connection from that port without sync (the negative control survived).
var DownloadPorts = [2]uint16{32100, 32199}

// downloadPort is the first of DownloadPorts not taken.
func downloadPort(taken []uint16) (uint16, error) {
	for p := DownloadPorts[0]; p <= DownloadPorts[1]; p++ {
		if !slices.Contains(taken, p) {
			return p, nil
		}
	}
	return 0, cannot("every source port %d-%d of the download is held by the client or a router's table: try again in two minutes", DownloadPorts[0], DownloadPorts[1])
}

// awaitSynced waits until a router other than node (the one about to
// fail) holds the download's connection, learned from the master's sync
// daemon: failing the master before would test the sync's flush time, not
// whether it works. It says how long that took, or that it did not come.
func (dl *download) awaitSynced(ctx context.Context, s *topology.Service, dial guest.Dialer, node string, act func(string, ...any)) error {
	start := drillNow()
	for {
		for _, r := range s.Keepalived.Routers {
			if r.Node == node {
				continue
			}
			x, err := dial(r.Node)
			if err != nil {
				return cannot("cannot reach %s: %v", r.Node, err)
			}
			tab, err := ipvs.New(x.Run).TableConns(ctx)
			if err != nil {
				return cannot("%s: %v", r.Node, err)
			}
			for _, c := range tab.Conns {
				if c.State == "ESTABLISHED" && c.Source.Port() == dl.port {
					act("%s: the download's connection %s is in its table (connection sync) after %.1f s", r.Node, c.Source, drillNow().Sub(start).Seconds())
					return nil
				}
			}
		}
		if drillNow().Sub(start) >= SyncWait {
			act("no router but %s has the download's connection after %s", node, SyncWait)
			return nil
		}
		if err := drillSleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// docroots are where the web servers of both families serve from.
var docroots = []string{"/var/www/html", "/usr/share/nginx/html"}

// startDownload writes the file on every real server, reads whether
// connection sync runs (the kernel's sync daemons on the routers), and
// starts the rate-limited download on the client.
func startDownload(ctx context.Context, lab *topology.Lab, s *topology.Service, dial guest.Dialer, cx guest.Executor, act func(string, ...any)) (*download, error) {
	for _, r := range s.RealServers {
		x, err := dial(r.Node)
		if err != nil {
			return nil, cannot("cannot reach %s: %v", r.Node, err)
		}
		var parts []string
		for _, d := range docroots {
			parts = append(parts, fmt.Sprintf("[ ! -d %s ] || %s > %s/%s", d, downloadContent(), d, downloadName))
		}
		if _, err := x.Run(ctx, strings.Join(parts, "; ")); err != nil {
			return nil, cannot("%s: writing the download: %v", r.Node, err)
		}
	}
	dl := &download{seconds: float64(DownloadSize) / float64(DownloadRate)}
	var err error
	if dl.port, err = downloadPort(takenPorts(ctx, s, dial, cx)); err != nil {
		return nil, err
	}
	dl.sync = syncRuns(ctx, s, dial, ReadVRRP(ctx, lab, s, dial).Holder(), act)
	url := URL(s.VIP.String(), s.Port) + downloadName
	marker := guest.NewMarker()
	dl.run = &loopRun{marker: marker, done: make(chan struct{})}
	// curl's --limit-rate only slows its reads: with the kernel's default
	// receive buffer (tcp_rmem up to 6 MiB) the whole file arrives in the
	// first second and the failure meets no data in flight (the negative
	// control "survived"). A 64 KiB buffer, for this download only, keeps
	// the transfer and its ACKs going through the VIP to the end.
	// From a source port of its own, so that a router's table shows which
	// entry is the download's.
	cmd := fmt.Sprintf("o=$(sysctl -n %[1]s); trap 'sysctl -qw %[1]s=\"$o\"' EXIT HUP TERM; sysctl -qw %[1]s=%[2]s; "+
		"f=$(mktemp); curl -s --local-port %[8]d --limit-rate %[3]d -m %[4]d -o \"$f\" %[5]s; rc=$?; s=$(sha256sum < \"$f\" | cut -c1-64); n=$(stat -c %%s \"$f\"); rm -f \"$f\"; "+
		"w=$(%[6]s | sha256sum | cut -c1-64); echo %[7]s \"$s\" \"$w\" \"$n\" \"$rc\"",
		DownloadRmemSysctl, shell.Quote(DownloadRmem), DownloadRate, int(dl.seconds)+30, shell.Quote(url), downloadContent(), marker,
		dl.port)
	act("client: curl --limit-rate %d %s (%.0f s), connection sync %s", DownloadRate, url, dl.seconds, map[bool]string{true: "on (lvs_sync_daemon)", false: "off"}[dl.sync])
	go func() {
		defer close(dl.run.done)
		dl.run.out, dl.run.err = cx.Run(ctx, cmd)
	}()
	return dl, nil
}

// verdict: with sync the download survives the failover (same checksum);
// without it it breaks (the negative control): either way as expected
// passes, and the report says which.
func (dl *download) verdict(ctx context.Context, failed guest.Executor) report.Check {
	<-dl.run.done
	name := "download across the failover"
	if dl.run.err != nil {
		return failf(name, "client: %v", dl.run.err)
	}
	var got, want, size, rc string
	for _, line := range strings.Split(dl.run.out, "\n") {
		if f := strings.Fields(line); len(f) == 5 && f[0] == dl.run.marker {
			got, want, size, rc = f[1], f[2], f[3], f[4]
		}
	}
	if want == "" {
		return failf(name, "the client printed no checksum: %q", strings.TrimSpace(dl.run.out))
	}
	survived := got == want
	if !survived && rc == "28" {
		// Neither outcome: the client did not keep the pace, nothing broke.
		return failf(name, "the download did not end in time (curl -m, exit 28) after %s of %d bytes: the client was too slow to judge connection sync; run the drill again on a less loaded host", size, DownloadSize)
	}
	text := map[bool]string{true: "survived (same sha256 " + want[:12] + "...)",
		false: fmt.Sprintf("broke after %s of %d bytes (curl exit %s)", size, DownloadSize, rc)}[survived]
	switch {
	case dl.sync && survived:
		return passf(name, "connection sync on: the %d MiB download %s", DownloadSize>>20, text)
	case dl.sync && dl.resetBy(ctx, failed):
		return failf(name, "connection sync on, yet the download %s: %s reset it itself (its TCP OutRsts rose), not the backup: with --how %s keepalived removes %s's IPVS rules before it gives up the VIP, and a packet landing in between meets no rule; fail it with --how %s or %s to test the sync", text, dl.failed, dl.how, dl.failed, HowNICDown, HowKill)
	case dl.sync:
		return failf(name, "connection sync on, yet the download %s: the backup did not know the connection (lvs_sync_daemon on both routers, same interface and syncid?)", text)
	case survived:
		return failf(name, "connection sync off, yet the download %s: the negative control did not break (did the VIP move during it?)", text)
	default:
		return passf(name, "connection sync off (the negative control): the download %s, as expected: the backup's IPVS does not know the connection and resets it", text)
	}
}

// resetBy: the failed router sent TCP resets while the download ran.
func (dl *download) resetBy(ctx context.Context, failed guest.Executor) bool {
	if dl.resets < 0 {
		return false
	}
	return outResets(ctx, failed) > dl.resets
}

func short12(s string) string {
	if len(s) > 12 {
		return s[:12] + "..."
	}
	return s
}

// SyncSettle is how long the drill waits after switching connection sync:
// the sync threads start on reload and a connection is synced after its
// third packet.
const SyncSettle = 3 * time.Second

// setSync rewrites every router's keepalived.conf as the lab renders it
// with connection sync on or off, and reloads keepalived where it runs.
func setSync(ctx context.Context, lab *topology.Lab, s *topology.Service, dial guest.Dialer, mode string, act func(string, ...any)) error {
	if mode != "on" && mode != "off" {
		return cannot("--sync %q: use on or off", mode)
	}
	if s.Mode == topology.ModeVRRP {
		return cannot("--sync: a VRRP-only service has no IPVS connections to sync")
	}
	was := s.Keepalived.Sync
	s.Keepalived.Sync = mode == "on"
	defer func() { s.Keepalived.Sync = was }()
	for _, r := range s.Keepalived.Routers {
		conf, ok := keepalived.Config(lab, r.Node)
		if !ok {
			continue
		}
		x, err := dial(r.Node)
		if err != nil {
			return cannot("cannot reach %s: %v", r.Node, err)
		}
		act("%s: %s with connection sync %s, systemctl reload keepalived", r.Node, keepalived.Path, mode)
		if err := x.WriteFile(ctx, keepalived.Path, []byte(conf), 0o644); err != nil {
			return cannot("%s: write %s: %v", r.Node, keepalived.Path, err)
		}
		if _, err := x.Run(ctx, "! systemctl is-active -q keepalived || systemctl reload keepalived"); err != nil {
			return cannot("%s: %v", r.Node, err)
		}
		if mode == "off" {
			// The reload leaves the kernel's sync daemons running: the
			// negative control would sync all the same.
			act("%s: %s", r.Node, ipvs.StopDaemonsCommand)
			if err := ipvs.New(x.Run).StopSyncDaemons(ctx); err != nil {
				return cannot("%s: %v", r.Node, err)
			}
		}
	}
	return drillSleep(ctx, SyncSettle)
}

// syncRuns reads every router's kernel sync daemons: connection sync runs
// when the holder runs a master daemon and another router a backup one.
func syncRuns(ctx context.Context, s *topology.Service, dial guest.Dialer, holder string, act func(string, ...any)) bool {
	master, backup := false, false
	for _, r := range s.Keepalived.Routers {
		x, err := dial(r.Node)
		if err != nil {
			continue
		}
		ds, err := ipvs.New(x.Run).SyncDaemons(ctx)
		if err != nil {
			act("%s: %v", r.Node, err)
			continue
		}
		var words []string
		for _, d := range ds {
			words = append(words, d.String())
			master = master || d.State == "master" && r.Node == holder
			backup = backup || d.State == "backup" && r.Node != holder
		}
		act("%s: sync daemons: %s", r.Node, orNone(words))
	}
	return master && backup
}

func orNone(v []string) string {
	if len(v) == 0 {
		return "none"
	}
	return strings.Join(v, "; ")
}

// routerCommands are what a drill step runs on the router node (its NIC
// nicName the VIP's), and the target for the gap the client sees.
func routerCommands(s *topology.Service, step, how, node, nicName string) ([]string, time.Duration) {
	k := s.Keepalived
	var cmds []string
	target := FailoverTarget(how, k, lowestOther(k, node))
	switch step {
	case DrillFail:
		switch how {
		case HowStop:
			cmds = []string{"systemctl stop keepalived"}
		case HowKill:
			// The unit's main process and its children, at once: no
			// last advert, the VIP left where it was.
			cmds = []string{"systemctl kill -s KILL keepalived"}
		case HowNICDown:
			cmds = []string{"ip link set " + nicName + " down"}
		}
	case DrillRestore:
		// Whatever fail did: the NIC up, a VIP a killed keepalived left
		// removed, keepalived started.
		cmds = []string{"ip link set " + nicName + " up",
			fmt.Sprintf("systemctl is-active -q keepalived || ip -4 addr del %s/%d dev %s 2>/dev/null || :", s.VIP, s.VIPPrefix, nicName)}
		if s.Mode != topology.ModeVRRP {
			// A killed keepalived's rules too: it programs them afresh.
			cmds = append(cmds, "systemctl is-active -q keepalived || "+ipvs.ClearCommand)
		}
		cmds = append(cmds, "systemctl is-active -q keepalived || systemctl start keepalived")
		target = FailoverTarget(HowKill, k, k.Router(node).Priority)
	}
	return cmds, target
}

// healthVerdict: keepalived took the real server out (put it back) within
// the target, and no request failed after it did.
func healthVerdict(s *topology.Service, step, node, holder, rip string, took, target time.Duration, samples []Sample, o Outage) []report.Check {
	var out []report.Check
	what := map[string]string{DrillFail: "takes " + node + " out", DrillRestore: "puts " + node + " back"}[step]
	name := "keepalived " + what
	switch {
	case took < 0:
		out = append(out, failf(name, "%s's table still %s %s after %s: is the %s running (keepalived.conf's real_server)?", holder, map[string]string{DrillFail: "has", DrillRestore: "lacks"}[step], rip, target+5*time.Second, s.Keepalived.Check.Type))
	case took > target:
		out = append(out, failf(name, "after %.1f s, over the target %.0f s (delay_loop + checks and retries)", took.Seconds(), target.Seconds()))
	default:
		out = append(out, passf(name, "after %.1f s (target %.0f s: delay_loop %d + (retry %d + 1) x connect_timeout %d + retry x delay_before_retry %d)", took.Seconds(), target.Seconds(), s.Keepalived.DelayLoop, s.Keepalived.Check.Retry, s.Keepalived.Check.ConnectTimeout, s.Keepalived.Check.DelayBeforeRetry))
	}
	// After keepalived acted, no request fails: the failures end before the
	// loop does, and the loop's tail (past the removal) is all answers.
	tail := 0
	for i := len(samples) - 1; i >= 0 && samples[i].OK; i-- {
		tail++
	}
	name = "no failed request after it"
	switch {
	case step == DrillRestore && o.Failed > 0:
		out = append(out, failf(name, "%d request(s) failed while %s came back%s", o.Failed, node, o.stallNote()))
	case tail == 0 || !o.Recovered && o.Failed > 0:
		out = append(out, failf(name, "the loop's last request failed: requests still reach %s%s", node, o.stallNote()))
	default:
		out = append(out, passf(name, "%d request(s) failed (the window before keepalived acted), then %d answered in a row", o.Failed, tail))
	}
	return out
}

// drillClient reaches the client a drill's loop runs on, with the mapper
// that names the real server of each answer.
func drillClient(lab *topology.Lab, dial guest.Dialer, opts DrillOptions) (guest.Executor, *Mapper, error) {
	client, err := pickClient(lab, opts.Verify.Client)
	if err != nil {
		return nil, nil, err
	}
	cx, err := dial(client.Name)
	if err != nil {
		return nil, nil, cannot("cannot reach client %s: %v", client.Name, err)
	}
	mapper, err := labMapper(lab)
	if err != nil {
		return nil, nil, cannot("%v", err)
	}
	return cx, mapper, nil
}

// CounterFold is how long verify waits after the drill's loop: the kernel
// folds its per-CPU IPVS counters into what ipvsadm shows every 2 s, so a
// table read at once lags behind the loop, and verify would count the
// loop's last connections as its own (seen in make e2e-keepalived:
// "scheduled 8 connections to web2, the client saw 6").
const CounterFold = 2500 * time.Millisecond

// verifyAfter runs verify after a drill: its checks, each service's
// (through keep, when set, first), that do not pass as the drill's
// others; then the drill's verdict.
func (d *DrillReport) verifyAfter(ctx context.Context, lab *topology.Lab, dial guest.Dialer, opts DrillOptions, keep func([]report.Check) []report.Check) error {
	if err := drillSleep(ctx, CounterFold); err != nil {
		return err
	}
	vr, err := Run(ctx, lab, dial, opts.Verify)
	if err != nil {
		return err
	}
	d.Verify = vr
	d.Checks = append(d.Checks, othersPass(vr.Checks)...)
	for _, sr := range vr.Services {
		cs := sr.Checks
		if keep != nil {
			cs = keep(cs)
		}
		d.Checks = append(d.Checks, tagAll(sr.Name, othersPass(cs))...)
	}
	d.finish()
	return nil
}

// awaitTable reads the holder's IPVS table every half second, up to limit,
// until the real server rip of the service key is in it (in) or out of it
// (!in): how long that took, or -1.
func awaitTable(ctx context.Context, h *ipvs.Handle, holder, key, rip string, in bool, limit time.Duration) (time.Duration, error) {
	start := drillNow()
	for drillNow().Sub(start) < limit {
		rules, err := h.Rules(ctx)
		if err != nil {
			return 0, cannot("%s: %v", holder, err)
		}
		has := false
		if svc := ipvs.Find(rules, key); svc != nil && svc.Dest(rip) != nil {
			has = true
		}
		if has == in {
			return drillNow().Sub(start), nil
		}
		if err := drillSleep(ctx, 500*time.Millisecond); err != nil {
			return 0, err
		}
	}
	return -1, nil
}
