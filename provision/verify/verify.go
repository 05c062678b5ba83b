// Package verify proves from the client node that an LVS lab's scheduler
// distributes requests as it promises: it sends a bounded loop of requests
// to each service's VIP, maps every reply back to the web node that served
// it, compares what it saw with what the scheduler guarantees (pure
// functions, see Expect and Judge), and cross-checks the director's
// counters and the forwarding mode's plumbing (ARP for DR/TUN, routes for
// NAT). The failure drill (Drill) breaks and repairs one web node and
// proves each step with the same machinery.
package verify

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// Options of a verification run.
type Options struct {
	// Requests per service (MinRequests..MaxRequests); DefaultRequests when 0.
	Requests int
	// Prober is ProberFast (default) or ProberCurl.
	Prober string
	// Timeout bounds each service's request loop; derived from Requests and
	// the prober when 0.
	Timeout time.Duration
	// Client names the client node; the lab's first client when empty.
	Client string
	// Services limits the run to these service names; all when empty.
	Services []string
	// VRRPSettle bounds the wait for a keepalived service's VRRP to settle
	// before it is judged (SettledVRRP; 0: the protocol's master-down time
	// with room, negative: none).
	VRRPSettle time.Duration
	// Quick is the proof of a "check my work" loop (check.Quick): the
	// scheduler's promise is still judged from a short request loop (twice
	// the service's weight sum, at most DefaultRequests, unless Requests is
	// set), but what costs round trips and what check's node facts already
	// judge is skipped (QuickSkips).
	Quick bool
}

// QuickSkips says what a quick run does not do.
const QuickSkips = "the director's counters (ipvsadm --stats, read again after the loop and waited for), the read of the ports the client and the director hold (the loop's ports are a block of their own), the lanes (ip route get on the client and each real server, the director's ipvsadm -Lnc) and the real servers' plumbing (VIP holder, ARP sysctls, NAT gateway: check's node facts judge them)"

// quickRequests is a quick run's loop length for a service: two rounds
// of its weights, enough for every scheduler's promise to show.
func quickRequests(ls labService) int {
	sum := 0
	for _, sv := range ls.servers {
		sum += max(sv.rs.Weight, 1)
	}
	return min(max(2*sum, 2*len(ls.servers), MinRequests), DefaultRequests)
}

const maxBoundSecs = 1800

// ErrCannotRun marks errors that mean "could not run" (report.ExitCannot).
var ErrCannotRun = errors.New("could not verify")

func cannot(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCannotRun, fmt.Sprintf(format, a...))
}

// Report is the outcome of a run.
type Report struct {
	Lab      string           `json:"lab"`
	Client   string           `json:"client"`
	Director string           `json:"director"`
	Prober   string           `json:"prober"`
	Requests int              `json:"requests"`
	Pass     bool             `json:"pass"`
	Services []*ServiceReport `json:"services"`
	Checks   []report.Check   `json:"checks"` // checks not tied to one service
	// Quick says what a quick run skipped (Options.Quick).
	Quick string `json:"quick,omitempty"`
}

// ServiceReport is one service's result.
type ServiceReport struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	Mode      string `json:"mode"`
	Scheduler string `json:"scheduler"`
	// LabScheduler is the lab's scheduler when the director runs another.
	LabScheduler string         `json:"lab_scheduler,omitempty"`
	Persistence  int            `json:"persistence,omitempty"`
	Servers      []ServerResult `json:"servers"`
	// Counts is replies served per web node.
	Counts map[string]int `json:"counts"`
	// Sequence is the node that served each request; "!" for a failure
	// whose server is unknown, "!node" for one attributed by elimination.
	Sequence []string `json:"sequence"`
	// Failures counts requests without a good reply.
	Failures    int              `json:"failures"`
	Replies     []Reply          `json:"replies"`
	Expectation ipvs.Expectation `json:"expectation"`
	Checks      []report.Check   `json:"checks"`
	Seconds     float64          `json:"seconds"`
	// Skipped says why the service was not probed.
	Skipped string `json:"skipped,omitempty"`
}

// ServerResult is one real server's line of the table.
type ServerResult struct {
	Node string `json:"node"`
	RIP  string `json:"rip"`
	// Weight is the live weight on the director; LabWeight the lab's.
	Weight    int  `json:"weight"`
	LabWeight int  `json:"lab_weight"`
	InTable   bool `json:"in_table"`
	// Expected is the nominal share; Min..Max what the scheduler allows.
	Expected float64 `json:"expected"`
	Min      int     `json:"min"`
	Max      int     `json:"max"`
	Seen     int     `json:"seen"`
	// Failed are failed requests attributed to this server.
	Failed int `json:"failed"`
	// StatsDelta is the director's connection counter delta; -1 unknown.
	StatsDelta int `json:"stats_delta"`
}

// AllChecks lists every check of the report, service checks tagged.
func (r *Report) AllChecks() []report.Check {
	out := append([]Check(nil), r.Checks...)
	for _, s := range r.Services {
		for _, c := range s.Checks {
			c.Service = s.Name
			out = append(out, c)
		}
	}
	return out
}

func (r *Report) finish() {
	r.Pass = true
	for _, c := range r.AllChecks() {
		if c.Status == report.Fail {
			r.Pass = false
		}
	}
}

// ExitCode maps a run's outcome to the command's exit code: a run that
// could not happen (an error, no report) is report.ExitCannot whatever it
// saw, else report's rule on whether a verdict failed.
func ExitCode(r *Report, err error) int {
	if err != nil || r == nil {
		return report.ExitCannot
	}
	return report.Code(!r.Pass, false)
}

// normalize validates options and fills defaults.
func (o Options) normalize() (Options, error) {
	if o.Requests == 0 {
		o.Requests = DefaultRequests
	}
	if o.Requests < MinRequests || o.Requests > MaxRequests {
		return o, cannot("--requests %d is out of range %d..%d", o.Requests, MinRequests, MaxRequests)
	}
	if o.Prober == "" {
		o.Prober = ProberFast
	}
	if !slices.Contains(Probers, o.Prober) {
		return o, cannot("--prober %q: use %s", o.Prober, strings.Join(Probers, " or "))
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout(o.Prober, o.Requests)
	}
	if o.Timeout < time.Second || o.Timeout > maxBoundSecs*time.Second {
		return o, cannot("--timeout %s is out of range 1s..%ds", o.Timeout, maxBoundSecs)
	}
	return o, nil
}

// DefaultTimeout is the loop's time bound: generous for a slow TCG guest
// (one curl process there costs ~0.16 s), and bounded.
func DefaultTimeout(prober string, n int) time.Duration {
	per := 100 * time.Millisecond
	if prober == ProberCurl {
		per = 500 * time.Millisecond
	}
	return min(30*time.Second+time.Duration(n)*per, maxBoundSecs*time.Second)
}

// labService is a lab service with its real servers resolved, and the
// IPVS service the director must hold for it.
type labService struct {
	svc     *topology.Service
	want    ipvs.Service
	servers []labServer
}

type labServer struct {
	node   *topology.Node
	rs     *topology.RealServer
	dest   ipvs.Destination // as the director must hold it
	rip    netip.Addr
	ripKey string // "RIP:port" as ipvsadm lists it
}

// Run verifies every (selected) service of a running lab.
func Run(ctx context.Context, lab *topology.Lab, dial guest.Dialer, opts Options) (*Report, error) {
	quickN := opts.Quick && opts.Requests == 0
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	client, err := pickClient(lab, opts.Client)
	if err != nil {
		return nil, err
	}
	services, vrrpOnly, err := selectServices(lab, opts.Services)
	if err != nil {
		return nil, err
	}
	dir := lab.Director()
	if dir == nil && len(services) > 0 {
		return nil, cannot("lab %s has no director node", lab.Name)
	}
	mapper, err := labMapper(lab)
	if err != nil {
		return nil, cannot("lab %s: %v", lab.Name, err)
	}
	rep := &Report{Lab: lab.Name, Client: client.Name, Prober: opts.Prober, Requests: opts.Requests}
	if opts.Quick {
		rep.Quick = QuickSkips
		if quickN {
			rep.Requests = 0
		}
	}
	cx, err := dial(client.Name)
	if err != nil {
		return nil, cannot("cannot reach client %s: %v", client.Name, err)
	}
	var dx guest.Executor
	if len(services) > 0 {
		rep.Director = dir.Name
		if dx, err = dial(dir.Name); err != nil {
			return nil, cannot("cannot reach director %s: %v", dir.Name, err)
		}
	}
	nodeChecks := newRealServerFacts(dial)
	for _, ls := range services {
		sx := dx
		var v VRRPState
		if ls.svc.Keepalived != nil {
			// The scheduler's promise and counters are the VRRP master's:
			// it holds the VIP and schedules every request.
			v = SettledVRRP(ctx, lab, ls.svc, dial, opts.VRRPSettle)
			if h := v.Holder(); h != "" && h != dir.Name {
				if sx, err = dial(h); err != nil {
					return nil, cannot("cannot reach director %s: %v", h, err)
				}
				rep.Director = h
			}
		}
		o := opts
		if quickN {
			o.Requests = quickRequests(ls)
			rep.Requests = max(rep.Requests, o.Requests)
		}
		sr, err := verifyService(ctx, lab, ls, cx, sx, mapper, o)
		if err != nil {
			return nil, err
		}
		if sr.Skipped == "" && !opts.Quick {
			sr.Checks = append(sr.Checks, plumbingChecks(ctx, lab, ls, client, cx, nodeChecks)...)
			sr.Checks = append(sr.Checks, laneChecks(ctx, lab, ls, client, cx, sx, dial)...)
			if ls.svc.Keepalived != nil {
				sr.Checks = append(sr.Checks, keepalivedChecks(ctx, lab, ls.svc, v, client, cx, dial)...)
			}
		}
		rep.Services = append(rep.Services, sr)
	}
	for _, s := range vrrpOnly {
		rep.Services = append(rep.Services, vrrpServiceReport(ctx, lab, s, client, cx, dial, mapper, opts))
	}
	rep.finish()
	return rep, nil
}

func pickClient(lab *topology.Lab, name string) (*topology.Node, error) {
	if name != "" {
		n := lab.Node(name)
		if n == nil {
			return nil, cannot("lab %s has no node %s", lab.Name, name)
		}
		return n, nil
	}
	cs := lab.NodesWithRole(topology.RoleClient)
	if len(cs) == 0 {
		return nil, cannot("lab %s has no client node (role client) to send requests from; add one or pass --client", lab.Name)
	}
	return cs[0], nil
}

func labMapper(lab *topology.Lab) (*Mapper, error) {
	pages := map[string]string{}
	for _, n := range lab.NodesWithRole(topology.RoleWeb) {
		pages[n.Name] = n.Page
	}
	return NewMapper(pages)
}

// selectServices are the IPVS services asked for, then the VRRP-only ones.
func selectServices(lab *topology.Lab, names []string) ([]labService, []*topology.Service, error) {
	var out []labService
	var vrrpOnly []*topology.Service
	for _, s := range lab.VRRPServices {
		if len(names) == 0 || slices.Contains(names, s.Name) {
			vrrpOnly = append(vrrpOnly, s)
		}
	}
	for _, s := range lab.Services {
		if len(names) > 0 && !slices.Contains(names, s.Name) {
			continue
		}
		ls := labService{svc: s, want: roles.IPVSService(lab, s)}
		for _, r := range s.RealServers {
			n := lab.Node(r.Node)
			if n == nil {
				continue
			}
			d := ls.want.Destinations[len(ls.servers)]
			ls.servers = append(ls.servers, labServer{node: n, rs: r, dest: d, rip: d.Address, ripKey: d.Key()})
		}
		out = append(out, ls)
	}
	for _, n := range names {
		named := func(s *topology.Service) bool { return s.Name == n }
		if !slices.ContainsFunc(lab.Services, named) && !slices.ContainsFunc(lab.VRRPServices, named) {
			return nil, nil, cannot("lab %s has no service %s", lab.Name, n)
		}
	}
	if len(out) == 0 && len(vrrpOnly) == 0 {
		return nil, nil, cannot("lab %s has no service to verify", lab.Name)
	}
	return out, vrrpOnly, nil
}

// Probe sends n requests to urls in turn from the client with a prober,
// request k from source port ports[k] (see SourcePorts; nil: the kernel's
// choice), and returns the replies and the loop's wall time.
func Probe(ctx context.Context, cx guest.Executor, prober string, urls []string, ports []uint16, n int, limit time.Duration) ([]Reply, time.Duration, error) {
	var cmd string
	fr := NewFrames()
	switch prober {
	case ProberCurl:
		cmd = fr.CurlLoopCommand(urls, ports, n, limit)
	case ProberFast:
		cmd = fr.FastCommand(urls, ports, n, limit)
	default:
		return nil, 0, cannot("unknown prober %q", prober)
	}
	return runLoop(ctx, cx, fr, prober, cmd, n, limit)
}

// ProbeUDP sends n datagrams to vip on ports in turn from the client (a
// new socket each) and returns the replies and the loop's wall time.
func ProbeUDP(ctx context.Context, cx guest.Executor, vip netip.Addr, ports []uint16, n int, limit time.Duration) ([]Reply, time.Duration, error) {
	fr := NewFrames()
	return runLoop(ctx, cx, fr, ProberUDP, fr.UDPLoopCommand(vip.String(), ports, n, limit), n, limit)
}

// runLoop runs a prober's loop on the client and reads its replies.
func runLoop(ctx context.Context, cx guest.Executor, fr Frames, prober, cmd string, n int, limit time.Duration) ([]Reply, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, limit+30*time.Second)
	defer cancel()
	start := time.Now()
	out, err := cx.Run(ctx, cmd)
	took := time.Since(start)
	if err != nil {
		return nil, took, fmt.Errorf("request loop on the client: %w", err)
	}
	var replies []Reply
	if prober == ProberFast {
		replies, _ = fr.ParseFast(out)
	} else {
		replies = fr.ParseCurlLoop(out)
	}
	if len(replies) == 0 {
		if strings.Contains(out, "not found") {
			return nil, took, fmt.Errorf("the client cannot run the requests (are curl, bash and coreutils installed?): %s", strings.TrimSpace(out))
		}
	}
	// Requests the loop never reached (time bound) are failures too.
	for len(replies) < n {
		replies = append(replies, Reply{Index: len(replies) + 1, Exit: -1, Connects: -1,
			Err: fmt.Sprintf("not sent: the loop stopped at its time bound (%s)", limit)})
	}
	return replies[:n], took, nil
}

func verifyService(ctx context.Context, lab *topology.Lab, ls labService, cx, dx guest.Executor, mapper *Mapper, opts Options) (*ServiceReport, error) {
	s := ls.svc
	sr := &ServiceReport{Name: s.Name, Mode: s.Mode, Scheduler: s.Scheduler, Persistence: s.Persistence, Counts: map[string]int{}, Sequence: []string{}}
	urls := serviceURLs(s)
	sr.URL = strings.Join(urls, " ")
	key := ls.want.Key()
	lp, err := probeService(ctx, s, urls, cx, dx, opts)
	if err != nil {
		return nil, err
	}
	tsvc := ipvs.Find(lp.table.Services, key)
	dests, servers := tableDests(ls, tsvc)
	sr.Servers = servers
	if tsvc != nil {
		sr.Scheduler, sr.Persistence = tsvc.SchedName, tsvc.Persistence()
		if tsvc.SchedName != s.Scheduler {
			sr.LabScheduler = s.Scheduler
		}
	}
	if s.Keepalived == nil { // keepalived's tables: keepalivedChecks, health checks allowed for
		sr.Checks = append(sr.Checks, rulesCheck(ls, tsvc))
	}
	sr.Expectation = ipvs.Expect(sr.Scheduler, sr.Persistence, dests, opts.Requests, true)
	sr.Seconds = lp.took.Seconds()
	deltas := statsDeltas(ls, dests, nil, nil) // unknown: not read in a quick run
	if !opts.Quick {
		deltas, err = settledDeltas(ctx, dx, ls, dests, tsvc, key, len(lp.replies))
		if err != nil {
			return nil, cannot("director: %v", err)
		}
	}
	analyze(sr, dests, lp.replies, mapper, deltas, lp.prober)
	if s.FWMark != 0 {
		sr.Checks = append(sr.Checks, oneServiceCheck(s, key, lp.replies, deltas))
	}
	return sr, nil
}

// serviceURLs are the addresses a service is asked on: a firewall-mark
// service on each marked port in turn (one scheduler sees them all).
func serviceURLs(s *topology.Service) []string {
	var urls []string
	for _, p := range s.ClientPorts() {
		if s.Protocol == "udp" {
			urls = append(urls, "udp://"+netip.AddrPortFrom(s.VIP, p).String())
		} else {
			urls = append(urls, URL(s.VIP.String(), p))
		}
	}
	return urls
}

// loopResult is one service's request loop and the director's table
// beside it.
type loopResult struct {
	table   ipvs.Table
	replies []Reply
	took    time.Duration
	prober  string
}

// probeService sends a service's request loop and reads the director's
// table. A full run reads the table and the client's sockets first, then
// sends the loop from ports neither holds. A quick run sends the loop at
// once from a block of ports of its own (QuickPorts) and reads the table
// meanwhile: the loop changes no rule, and the counters are not judged.
func probeService(ctx context.Context, s *topology.Service, urls []string, cx, dx guest.Executor, opts Options) (*loopResult, error) {
	quick := opts.Quick && (s.Protocol == "udp" || QuickPortsFit(opts.Requests))
	lp := &loopResult{prober: opts.Prober}
	var tableErr error
	tableRead := make(chan struct{})
	var ports []uint16
	if quick {
		go func() {
			defer close(tableRead)
			lp.table.Services, tableErr = ipvs.New(dx.Run).Table(ctx)
		}()
		ports = QuickPorts(opts.Requests, time.Now())
	} else {
		lp.table, tableErr = ipvs.New(dx.Run).TableConns(ctx)
		close(tableRead)
		if tableErr != nil {
			return nil, cannot("director: %v", tableErr)
		}
		if s.Protocol != "udp" {
			sockets, err := cx.Run(ctx, SocketsCommand)
			if err != nil {
				return nil, cannot("client: %v", err)
			}
			ports = SourcePorts(append(HeldPorts(lp.table.Conns), SocketPorts(sockets)...), opts.Requests)
		}
	}
	var err error
	if s.Protocol == "udp" {
		lp.prober = ProberUDP
		lp.replies, lp.took, err = ProbeUDP(ctx, cx, s.VIP, s.ClientPorts(), opts.Requests, opts.Timeout)
	} else {
		lp.replies, lp.took, err = Probe(ctx, cx, lp.prober, urls, ports, opts.Requests, opts.Timeout)
	}
	<-tableRead
	if tableErr != nil {
		return nil, cannot("director: %v", tableErr)
	}
	if err != nil {
		return nil, cannot("%v", err)
	}
	return lp, nil
}

// oneServiceCheck: the requests to every marked port were answered and
// counted by the one firewall-mark service (its counters grew by all of
// them), so the ports share one rotation (the scheduler checks above judge
// it over the ports' requests in turn).
func oneServiceCheck(s *topology.Service, key string, replies []Reply, deltas []int) report.Check {
	name := "one service for ports " + portWords(s.Ports)
	answered := map[int]int{}
	for k, r := range replies {
		if r.OK() {
			answered[k%len(s.Ports)]++
		}
	}
	for i, p := range s.Ports {
		if answered[i] == 0 {
			return failf(name, "no request to port %d was answered: are the marks on the director (nft list table ip lvslab) and does the real server listen on %d?", p, p)
		}
	}
	if !allKnown(deltas) {
		return skipf(name, "the director's counters of %s are not known", key)
	}
	sum := 0
	for _, d := range deltas {
		sum += d
	}
	if sum != len(replies) {
		return failf(name, "%s counted %d connections for %d requests over ports %s: requests to some port were not marked %d and went elsewhere", key, sum, len(replies), portWords(s.Ports), s.FWMark)
	}
	return passf(name, "%d requests over ports %s, every one scheduled by %s (ipvsadm --stats +%d)", len(replies), portWords(s.Ports), key, sum)
}

func portWords(ports []uint16) string {
	var out []string
	for _, p := range ports {
		out = append(out, strconv.Itoa(int(p)))
	}
	return strings.Join(out, ", ")
}

// tableDests lists the destinations in the kernel's order, named after
// their lab node, followed by lab real servers missing from the table
// (weight 0 for the scheduler: they get nothing).
func tableDests(ls labService, tsvc *ipvs.Service) ([]ipvs.NamedDest, []ServerResult) {
	var dests []ipvs.NamedDest
	var servers []ServerResult
	used := map[string]bool{}
	nodeOf := func(addr string) (string, int) {
		for _, sv := range ls.servers {
			if sv.ripKey == addr {
				return sv.node.Name, sv.rs.Weight
			}
		}
		return addr, 0
	}
	if tsvc != nil {
		for _, d := range tsvc.Destinations {
			name, lw := nodeOf(d.Key())
			used[d.Key()] = true
			dests = append(dests, ipvs.NamedDest{Name: name, Destination: d})
			servers = append(servers, ServerResult{Node: name, RIP: d.Key(), Weight: d.Weight, LabWeight: lw, InTable: true, StatsDelta: -1})
		}
	}
	for _, sv := range ls.servers {
		if used[sv.ripKey] {
			continue
		}
		dests = append(dests, ipvs.NamedDest{Name: sv.node.Name})
		servers = append(servers, ServerResult{Node: sv.node.Name, RIP: sv.ripKey, LabWeight: sv.rs.Weight, StatsDelta: -1})
	}
	return dests, servers
}

func rulesCheck(ls labService, tsvc *ipvs.Service) report.Check {
	key := ls.want.Key()
	if tsvc == nil {
		return failf("director rules", "the director has no IPVS service %s (ipvsadm -Ln)", key)
	}
	var diffs []string
	if tsvc.SchedName != ls.want.SchedName {
		diffs = append(diffs, fmt.Sprintf("scheduler %s, lab says %s", tsvc.SchedName, ls.want.SchedName))
	}
	if tsvc.Persistence() != ls.want.Persistence() {
		diffs = append(diffs, fmt.Sprintf("persistence %d, lab says %d", tsvc.Persistence(), ls.want.Persistence()))
	}
	for _, sv := range ls.servers {
		d := tsvc.Dest(sv.ripKey)
		have, want := "", ipvs.ForwardName(sv.dest.ConnectionFlags)
		if d != nil {
			have = ipvs.ForwardName(d.ConnectionFlags)
		}
		switch {
		case d == nil:
			diffs = append(diffs, fmt.Sprintf("%s (%s) is not a real server", sv.node.Name, sv.ripKey))
		case d.Weight != sv.dest.Weight:
			diffs = append(diffs, fmt.Sprintf("%s has weight %d, lab says %d", sv.node.Name, d.Weight, sv.dest.Weight))
		case have != want:
			diffs = append(diffs, fmt.Sprintf("%s forwards by %s, lab says %s", sv.node.Name, have, want))
		}
	}
	for _, d := range tsvc.Destinations {
		if !slices.ContainsFunc(ls.servers, func(sv labServer) bool { return sv.ripKey == d.Key() }) {
			diffs = append(diffs, fmt.Sprintf("%s is a real server the lab does not have", d.Key()))
		}
	}
	if len(diffs) > 0 {
		return failf("director rules", "%s differs from the lab: %s", key, strings.Join(diffs, "; "))
	}
	return passf("director rules", "%s %s with %d real server(s), as in the lab", key, tsvc.SchedName, len(tsvc.Destinations))
}

// CounterSettle bounds the wait for the director's counters to catch up:
// the kernel folds its per-CPU IPVS counters into the totals ipvsadm shows
// only every 2 s (the rate estimator's tick), so a read right after the loop
// can lag behind it.
var CounterSettle = 5 * time.Second

// settledDeltas reads the table again until the counters account for every
// request sent (or CounterSettle passes) and returns the deltas.
func settledDeltas(ctx context.Context, dx guest.Executor, ls labService, dests []ipvs.NamedDest, before *ipvs.Service, key string, sent int) ([]int, error) {
	deadline := time.Now().Add(CounterSettle)
	for {
		after, err := ipvs.New(dx.Run).Table(ctx)
		if err != nil {
			return nil, err
		}
		deltas := statsDeltas(ls, dests, before, ipvs.Find(after, key))
		total := 0
		for _, d := range deltas {
			total += max(d, 0)
		}
		if total >= sent || !time.Now().Before(deadline) {
			return deltas, nil
		}
		select {
		case <-ctx.Done():
			return deltas, nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// statsDeltas is each destination's connection counter delta across the
// loop; -1 when unknown (not in one of the tables, or a counter reset).
func statsDeltas(ls labService, dests []ipvs.NamedDest, before, after *ipvs.Service) []int {
	out := make([]int, len(dests))
	for i := range out {
		out[i] = -1
	}
	if before == nil || after == nil {
		return out
	}
	for i, d := range before.Destinations {
		a := after.Dest(d.Key())
		if a == nil || a.Stats.Connections < d.Stats.Connections || i >= len(dests) {
			continue
		}
		out[i] = int(a.Stats.Connections - d.Stats.Connections)
	}
	return out
}

// analyze maps replies to servers, attributes failures with the
// director's counters, and judges.
func analyze(sr *ServiceReport, dests []ipvs.NamedDest, replies []Reply, mapper *Mapper, deltas []int, prober string) {
	m := mapReplies(sr, dests, replies, mapper)
	sr.Replies = replies
	sr.Failures = len(m.failed)
	counts, unattributed := m.attribute(sr, deltas)
	sr.Sequence = append(sr.Sequence, m.sequence(dests)...)
	for i := range sr.Servers {
		sr.Servers[i].Seen = m.served[i]
		sr.Servers[i].StatsDelta = deltas[i]
		sr.Servers[i].Expected = sr.Expectation.Share[i]
		sr.Servers[i].Min, sr.Servers[i].Max = -1, -1
		if sr.Expectation.Min != nil {
			sr.Servers[i].Min, sr.Servers[i].Max = sr.Expectation.Min[i], sr.Expectation.Max[i]
		}
	}

	sr.Checks = append(sr.Checks, repliesCheck(replies, m.failed))
	if len(m.unknown) > 0 {
		r := replies[m.unknown[0]]
		sr.Checks = append(sr.Checks, failf("pages", "%d reply(ies) match no web node's page, e.g. request %d: %q", len(m.unknown), r.Index, shorten(r.Body, 80)))
		unattributed += len(m.unknown)
	} else if len(m.failed) < len(replies) {
		sr.Checks = append(sr.Checks, passf("pages", "every reply is one web node's page"))
	}
	if prober == ProberFast {
		sr.Checks = append(sr.Checks, connectsCheck(replies))
	}
	sr.Checks = append(sr.Checks, Judge(sr.Expectation, dests, Observation{Counts: counts, Seq: m.seq, Unattributed: unattributed})...)
	sr.Checks = append(sr.Checks, statsCheck(dests, m.served, deltas, len(replies), len(m.failed)))
}

// mapped is the replies mapped onto the destinations.
type mapped struct {
	replies []Reply
	served  []int // replies each destination served
	seq     []int // the destination of each request; -1 unknown
	failed  []int // requests without a good reply
	unknown []int // replies whose page is no web node's
}

// mapReplies names the web node behind each good reply by its page.
func mapReplies(sr *ServiceReport, dests []ipvs.NamedDest, replies []Reply, mapper *Mapper) *mapped {
	idx := map[string]int{}
	for i, d := range dests {
		idx[d.Name] = i
	}
	m := &mapped{replies: replies, served: make([]int, len(dests)), seq: make([]int, len(replies))}
	for k := range replies {
		r := &replies[k]
		m.seq[k] = -1
		if !r.OK() {
			m.failed = append(m.failed, k)
			continue
		}
		r.Node = mapper.Node(r.Body)
		i, ok := idx[r.Node]
		if r.Node == "" || !ok {
			m.unknown = append(m.unknown, k)
			continue
		}
		m.served[i]++
		m.seq[k] = i
		sr.Counts[r.Node]++
	}
	return m
}

// attribute gives the failed requests to servers: the director counted
// every connection it scheduled; what a server did not answer is its
// failures. It returns each destination's scheduled requests and how many
// failures stay unattributed.
func (m *mapped) attribute(sr *ServiceReport, deltas []int) (counts []int, unattributed int) {
	counts = slices.Clone(m.served)
	if len(m.failed) == 0 || len(m.unknown) > 0 || !allKnown(deltas) {
		return counts, len(m.failed)
	}
	extra := make([]int, len(m.served))
	sum := 0
	for i := range extra {
		extra[i] = deltas[i] - m.served[i]
		if extra[i] < 0 {
			return counts, len(m.failed)
		}
		sum += extra[i]
	}
	if sum != len(m.failed) {
		return counts, len(m.failed)
	}
	var who []int
	for i := range extra {
		counts[i] += extra[i]
		if extra[i] > 0 {
			who = append(who, i)
		}
		sr.Servers[i].Failed = extra[i]
	}
	if len(who) == 1 {
		for _, k := range m.failed {
			m.seq[k] = who[0]
		}
	}
	return counts, 0
}

// sequence names the server of each request: "?" for a good reply from
// an unknown page, "!" for a failure, "!node" for one attributed.
func (m *mapped) sequence(dests []ipvs.NamedDest) []string {
	var out []string
	for k, r := range m.replies {
		switch {
		case r.OK() && m.seq[k] >= 0:
			out = append(out, dests[m.seq[k]].Name)
		case r.OK():
			out = append(out, "?")
		case m.seq[k] >= 0:
			out = append(out, "!"+dests[m.seq[k]].Name)
		default:
			out = append(out, "!")
		}
	}
	return out
}

func allKnown(d []int) bool {
	for _, v := range d {
		if v < 0 {
			return false
		}
	}
	return len(d) > 0
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func repliesCheck(replies []Reply, failed []int) report.Check {
	if len(failed) == 0 {
		return passf("replies", "%d of %d requests answered", len(replies), len(replies))
	}
	seen := map[string]int{}
	var order []string
	for _, k := range failed {
		e := replies[k].Err
		if e == "" {
			e = "HTTP status " + strconv.Itoa(replies[k].Status)
		}
		if seen[e] == 0 {
			order = append(order, e)
		}
		seen[e]++
	}
	var parts []string
	for _, e := range order {
		parts = append(parts, fmt.Sprintf("%dx %s", seen[e], e))
	}
	return failf("replies", "%d of %d requests failed: %s", len(failed), len(replies), strings.Join(parts, "; "))
}

func connectsCheck(replies []Reply) report.Check {
	known := 0
	for _, r := range replies {
		if r.Connects < 0 || !r.OK() {
			continue
		}
		known++
		if r.Connects != 1 {
			return failf("new connection per request", "request %d reused a connection (%d new): it was not a new scheduling decision", r.Index, r.Connects)
		}
	}
	if known == 0 {
		return skipf("new connection per request", "curl did not report its connections")
	}
	return passf("new connection per request", "every answered request opened its own TCP connection")
}

func statsCheck(dests []ipvs.NamedDest, served, deltas []int, requests, failures int) report.Check {
	if !allKnown(deltas) {
		return skipf("director counters", "the director's counters are not known for every real server")
	}
	sum := 0
	var parts []string
	for i, d := range dests {
		sum += deltas[i]
		parts = append(parts, fmt.Sprintf("%s +%d", d.Name, deltas[i]))
		if deltas[i] < served[i] {
			return failf("director counters", "%s answered %d request(s) but the director scheduled only %d to it: replies came from elsewhere", d.Name, served[i], deltas[i])
		}
		if failures == 0 && deltas[i] != served[i] {
			return failf("director counters", "the director scheduled %d connection(s) to %s, the client saw %d replies from it (other traffic to the VIP?)", deltas[i], d.Name, served[i])
		}
	}
	if sum != requests {
		return failf("director counters", "the director scheduled %d connections for %d requests (%s)", sum, requests, strings.Join(parts, ", "))
	}
	return passf("director counters", "ipvsadm --stats agrees with the client: %s", strings.Join(parts, ", "))
}
