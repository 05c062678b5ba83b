package ipvs

// What a scheduler promises for a run of sequential requests from one
// client (verify judges the requests it sends against it).

import (
	"fmt"
	"slices"
	"strings"
)

// NamedDest is a destination as its scheduler sees it (weight, active and
// inactive connections) with a name for messages (its lab node); a
// service's are in the kernel's list order ("ipvsadm -Ln --nosort": the
// kernel puts the last added real server first).
type NamedDest struct {
	Name string
	Destination
}

// Named is a destination of that weight with no connections, named.
func Named(name string, weight int) NamedDest {
	return NamedDest{Name: name, Destination: Destination{Weight: weight}}
}

// Kind is the family of what a scheduler promises for sequential requests
// from one client.
type Kind string

const (
	// KindCycle: rr and wrr, a fixed repeating sequence.
	KindCycle Kind = "cycle"
	// KindLeast: lc and wlc, the fewest connections (inactive ones count).
	KindLeast Kind = "least"
	// KindSingle: one server takes every request (hashing, locality,
	// persistence, and sed/nq/fo/ovf with short sequential connections).
	KindSingle Kind = "single"
)

// Expectation is what a scheduler guarantees for n sequential requests
// from one client, given the destinations as they are before the requests.
type Expectation struct {
	Scheduler   string `json:"scheduler"`
	Persistence int    `json:"persistence,omitempty"`
	Kind        Kind   `json:"kind"`
	// Promise says in one sentence what the kernel guarantees.
	Promise string `json:"promise"`
	// Min and Max bound each destination's count (all scheduled requests,
	// failed ones included). Set for KindCycle, and for KindLeast from a
	// quiet table.
	Min []int `json:"min"`
	Max []int `json:"max"`
	// Share is the nominal count of each destination, for display.
	Share []float64 `json:"share"`
	// Cycles are the kernel sequences the observed one must be a window of
	// (one per possible list order; one when the order is known).
	Cycles [][]int `json:"-"`
	// Predicted is the exact sequence the kernel produces from the current
	// state, when it is deterministic and known.
	Predicted []int `json:"predicted"`
	// Candidates are the destinations that may take every request (KindSingle).
	Candidates []int `json:"candidates"`
	// Quiet tells whether no connection was on the table at the start.
	Quiet bool `json:"quiet"`
	// Start is the table state the expectation was computed from.
	Start []NamedDest `json:"-"`
}

// WindowRange returns, for each of n destinations, the fewest and the most
// times it appears in any window of length reqs of the repeating cycle.
func WindowRange(cycle []int, n, reqs int) (lo, hi []int) {
	lo, hi = make([]int, n), make([]int, n)
	if len(cycle) == 0 {
		return lo, hi
	}
	for i := range lo {
		lo[i] = -1
	}
	for r := range cycle {
		c := make([]int, n)
		for k := 0; k < reqs; k++ {
			c[cycle[(r+k)%len(cycle)]]++
		}
		for i := range c {
			if lo[i] < 0 || c[i] < lo[i] {
				lo[i] = c[i]
			}
			hi[i] = max(hi[i], c[i])
		}
	}
	return lo, hi
}

// MatchRotation tells whether seq is a window of the repeating cycle, and
// at which offset of the cycle it starts. Entries of seq below 0 (a
// request whose server is unknown) match anything.
func MatchRotation(cycle, seq []int) (offset int, ok bool) {
	if len(cycle) == 0 {
		return 0, len(seq) == 0
	}
next:
	for r := range cycle {
		for k, s := range seq {
			if s >= 0 && s != cycle[(r+k)%len(cycle)] {
				continue next
			}
		}
		return r, true
	}
	return 0, false
}

// simulate is SimulateLeast over named destinations.
func simulate(sched string, dests []NamedDest, n int) []int {
	ds := make([]Destination, len(dests))
	for i, d := range dests {
		ds[i] = d.Destination
	}
	return SimulateLeast(sched, ds, n)
}

// permutations calls f with every ordering of 0..n-1 (n small).
func permutations(n int, f func([]int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var rec func(int)
	rec = func(k int) {
		if k == n {
			f(p)
			return
		}
		for i := k; i < n; i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
}

// maxPermuted is the largest destination count for which every list order
// is tried when the kernel's order is unknown.
const maxPermuted = 6

// orders lists the list orders to consider: the given one when known,
// else every permutation (up to maxPermuted destinations).
func orders(n int, known bool) [][]int {
	if known || n > maxPermuted {
		id := make([]int, n)
		for i := range id {
			id[i] = i
		}
		return [][]int{id}
	}
	var out [][]int
	permutations(n, func(p []int) { out = append(out, append([]int(nil), p...)) })
	return out
}

// Expect computes what a scheduler promises for reqs sequential requests
// from one client. dests are in the kernel's list order when orderKnown.
func Expect(sched string, persistence int, dests []NamedDest, reqs int, orderKnown bool) Expectation {
	t := newTable(dests, reqs, orderKnown)
	e := Expectation{Scheduler: sched, Persistence: persistence, Start: dests, Quiet: t.quiet, Share: make([]float64, len(dests))}
	switch {
	case t.live == 0:
		e.Kind = KindSingle
		e.Promise = "no real server has a weight above 0: every request is refused"
		e.Min, e.Max = make([]int, len(dests)), make([]int, len(dests))
		return e
	case persistence > 0:
		e.Kind = KindSingle
		e.Candidates = liveIndices(dests)
		e.Promise = fmt.Sprintf("persistence %ds: every request from this client goes to the one server its first connection was given", persistence)
		return e
	}
	switch sched {
	case RoundRobin, WeightedRoundRobin:
		t.expectCycle(&e)
	case LeastConnection, WeightedLeastConnection:
		t.expectLeast(&e)
	case ShortestExpectedDelay, WeightedFailover, WeightedOverflow, NeverQueue:
		t.expectOne(&e)
	default: // lblc, lblcr, dh, sh, mh and anything unknown
		expectHashed(&e, dests)
	}
	if e.Kind == KindSingle && len(e.Candidates) > 0 {
		for _, c := range e.Candidates {
			e.Share[c] = float64(reqs) / float64(len(e.Candidates))
		}
	}
	return e
}

// table is the destinations an expectation starts from.
type table struct {
	dests      []NamedDest
	weights    []int
	sum, live  int // total weight, destinations of weight > 0
	reqs       int
	orderKnown bool
	quiet      bool // no connection on the table
}

func newTable(dests []NamedDest, reqs int, orderKnown bool) *table {
	t := &table{dests: dests, weights: make([]int, len(dests)), reqs: reqs, orderKnown: orderKnown, quiet: true}
	for i, d := range dests {
		t.weights[i] = d.Weight
		if d.ActiveConnections+d.InactiveConnections > 0 {
			t.quiet = false
		}
		if d.Weight > 0 {
			t.sum += d.Weight
			t.live++
		}
	}
	return t
}

// expectCycle: rr and wrr follow the kernel's cycle from wherever it is,
// over every list order the kernel may have when it is not known.
func (t *table) expectCycle(e *Expectation) {
	n := len(t.dests)
	e.Kind = KindCycle
	build := WRRCycle
	for i, w := range t.weights {
		switch {
		case e.Scheduler == WeightedRoundRobin:
			e.Share[i] = float64(t.reqs) * float64(w) / float64(t.sum)
		case w > 0:
			e.Share[i] = float64(t.reqs) / float64(t.live)
		}
	}
	if e.Scheduler == RoundRobin {
		build = RRCycle
	}
	for _, ord := range orders(n, t.orderKnown) {
		w := make([]int, n)
		for pos, idx := range ord {
			w[pos] = t.weights[idx]
		}
		c := build(w)
		for k := range c {
			c[k] = ord[c[k]]
		}
		e.Cycles = append(e.Cycles, c)
		lo, hi := WindowRange(c, n, t.reqs)
		if e.Min == nil {
			e.Min, e.Max = lo, hi
			continue
		}
		for i := range lo {
			e.Min[i], e.Max[i] = min(e.Min[i], lo[i]), max(e.Max[i], hi[i])
		}
	}
	if e.Scheduler == RoundRobin {
		e.Promise = fmt.Sprintf("round robin: each of the %d servers with weight > 0 in turn, equal shares (±1), a repeating sequence", t.live)
	} else {
		e.Promise = fmt.Sprintf("weighted round robin: shares in proportion to the weights %s, the kernel's repeating sequence %s", weightList(t.dests), e.cycleText(t.dests))
	}
}

// expectLeast: lc and wlc from a quiet table are simulated; from a busy
// one only their invariant holds (see leastInvariant).
func (t *table) expectLeast(e *Expectation) {
	e.Kind = KindLeast
	lc := e.Scheduler == LeastConnection
	for i, w := range t.weights {
		switch {
		case w <= 0:
		case lc:
			e.Share[i] = float64(t.reqs) / float64(t.live)
		default:
			e.Share[i] = float64(t.reqs) * float64(w) / float64(t.sum)
		}
	}
	how := "the server with the fewest connections (256 x active + inactive; closed ones stay inactive for about 2 minutes)"
	if !lc {
		how = "the server with the fewest connections per unit of weight (256 x active + inactive, divided by the weight)"
	}
	e.Promise = "each new connection goes to " + how
	if !e.Quiet {
		e.Promise += "; the table is not quiet (" + TableText(t.dests) + "), so servers with fewer connections catch up first"
		return
	}
	e.Min, e.Max = predictRange(e.Scheduler, t.dests, t.reqs, t.orderKnown)
	if t.orderKnown {
		e.Predicted = simulate(e.Scheduler, t.dests, t.reqs)
	}
	if lc {
		e.Promise += "; from a quiet table sequential requests even out: equal shares (±1)"
	} else {
		e.Promise += "; from a quiet table sequential requests follow the weights " + weightList(t.dests)
	}
}

// expectOne: sed, nq, fo and ovf give short sequential requests all to one
// server.
func (t *table) expectOne(e *Expectation) {
	e.Kind = KindSingle
	allIdle := !slices.ContainsFunc(t.dests, func(d NamedDest) bool { return d.ActiveConnections > 0 })
	switch {
	case !allIdle:
		e.Candidates = liveIndices(t.dests)
	case t.orderKnown:
		e.Candidates = []int{simulate(e.Scheduler, t.dests, 1)[0]}
	case e.Scheduler == NeverQueue:
		e.Candidates = liveIndices(t.dests) // the first idle server of an unknown list
	default:
		e.Candidates = heaviest(t.dests)
	}
	e.Promise = map[string]string{
		ShortestExpectedDelay: "shortest expected delay counts only active connections: short sequential requests all go to the heaviest server",
		NeverQueue:            "never queue takes the first idle server of the kernel's list: short sequential requests all go to it",
		WeightedFailover:      "weighted failover: every request goes to the available server with the highest weight",
		WeightedOverflow:      "weighted overflow: every request goes to the highest-weight server until its active connections reach its weight",
	}[e.Scheduler]
}

// expectHashed: the hashing and locality schedulers keep one client (or
// one VIP) on one server.
func expectHashed(e *Expectation, dests []NamedDest) {
	e.Kind = KindSingle
	e.Candidates = liveIndices(dests)
	switch e.Scheduler {
	case SourceHashing, MaglevHashing:
		e.Promise = "source hashing: one client address always maps to the same server"
	case DestinationHashing:
		e.Promise = "destination hashing: one VIP always maps to the same server"
	case LocalityBasedLeastConnection, LocalityBasedLeastConnectionReplica:
		e.Promise = "locality-based: one destination address stays on its server until that server is overloaded"
	default:
		e.Promise = "scheduler " + e.Scheduler + ": only checked that servers of weight 0 get nothing"
		e.Candidates = nil
	}
}

// predictRange is the per-destination count range of a least-connection
// simulation over every possible list order.
func predictRange(sched string, dests []NamedDest, reqs int, known bool) (lo, hi []int) {
	n := len(dests)
	for _, ord := range orders(n, known) {
		ds := make([]NamedDest, n)
		for pos, idx := range ord {
			ds[pos] = dests[idx]
		}
		c := make([]int, n)
		for _, p := range simulate(sched, ds, reqs) {
			if p >= 0 {
				c[ord[p]]++
			}
		}
		if lo == nil {
			lo, hi = c, append([]int(nil), c...)
			continue
		}
		for i := range c {
			lo[i], hi[i] = min(lo[i], c[i]), max(hi[i], c[i])
		}
	}
	return lo, hi
}

func liveIndices(dests []NamedDest) []int {
	var out []int
	for i, d := range dests {
		if d.Weight > 0 {
			out = append(out, i)
		}
	}
	return out
}

func heaviest(dests []NamedDest) []int {
	mw := 0
	for _, d := range dests {
		mw = max(mw, d.Weight)
	}
	var out []int
	for i, d := range dests {
		if mw > 0 && d.Weight == mw {
			out = append(out, i)
		}
	}
	return out
}

func weightList(dests []NamedDest) string {
	var parts []string
	for _, d := range dests {
		parts = append(parts, fmt.Sprintf("%s=%d", d.Name, d.Weight))
	}
	return strings.Join(parts, " ")
}

// TableText is the connections of each destination, for messages:
// "web1 0 active/3 inactive, web2 ...".
func TableText(dests []NamedDest) string {
	var parts []string
	for _, d := range dests {
		parts = append(parts, fmt.Sprintf("%s %d active/%d inactive", d.Name, d.ActiveConnections, d.InactiveConnections))
	}
	return strings.Join(parts, ", ")
}

func (e *Expectation) cycleText(dests []NamedDest) string {
	if len(e.Cycles) != 1 {
		return "(depends on the kernel's list order)"
	}
	return "[" + Names(e.Cycles[0], dests) + "]"
}

// Names are the names of the destinations at the indices seq, "?" for
// none (-1), for messages: "web2, web2, web1".
func Names(seq []int, dests []NamedDest) string {
	var parts []string
	for _, i := range seq {
		if i < 0 || i >= len(dests) {
			parts = append(parts, "?")
		} else {
			parts = append(parts, dests[i].Name)
		}
	}
	return strings.Join(parts, ", ")
}
