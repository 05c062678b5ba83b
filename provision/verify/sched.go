package verify

import (
	"fmt"
	"strings"

	"github.com/lvslab/lvslab/roles/ipvs"
)

// Dest is one destination as an IPVS scheduler sees it, in the kernel's
// list order ("ipvsadm -Ln --nosort"; the kernel puts the last added real
// server first).
type Dest struct {
	Name     string `json:"name"`
	Weight   int    `json:"weight"`
	Active   int    `json:"active"`
	Inactive int    `json:"inactive"`
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
	Min []int `json:"min,omitempty"`
	Max []int `json:"max,omitempty"`
	// Share is the nominal count of each destination, for display.
	Share []float64 `json:"share,omitempty"`
	// Cycles are the kernel sequences the observed one must be a window of
	// (one per possible list order; one when the order is known).
	Cycles [][]int `json:"-"`
	// Predicted is the exact sequence the kernel produces from the current
	// state, when it is deterministic and known.
	Predicted []int `json:"predicted,omitempty"`
	// Candidates are the destinations that may take every request (KindSingle).
	Candidates []int `json:"candidates,omitempty"`
	// Quiet tells whether no connection was on the table at the start.
	Quiet bool `json:"quiet"`
	// Start is the table state the expectation was computed from.
	Start []Dest `json:"-"`
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

// overhead is ip_vs_dest_conn_overhead: active connections weigh 256
// times an inactive one.
func overhead(d Dest) int { return ipvs.Overhead(d.kernel()) }

func (d Dest) kernel() ipvs.Destination {
	return ipvs.Destination{Weight: d.Weight, ActiveConnections: d.Active, InactiveConnections: d.Inactive}
}

// SimulateLeast replays the kernel's least-connection family for n
// sequential short requests: each request goes to the destination the
// scheduler picks, and is inactive (closed) before the next one starts.
// Supported: lc, wlc, sed, nq, fo, ovf. It returns the chosen indices; -1
// when no destination is available.
func SimulateLeast(sched string, dests []Dest, n int) []int {
	ds := append([]Dest(nil), dests...)
	out := make([]int, 0, n)
	for k := 0; k < n; k++ {
		pick := pickOnce(sched, ds)
		out = append(out, pick)
		if pick >= 0 {
			ds[pick].Inactive++
		}
	}
	return out
}

func pickOnce(sched string, ds []Dest) int {
	kds := make([]ipvs.Destination, len(ds))
	for i, d := range ds {
		kds[i] = d.kernel()
	}
	return ipvs.Pick(sched, kds)
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
func Expect(sched string, persistence int, dests []Dest, reqs int, orderKnown bool) Expectation {
	n := len(dests)
	e := Expectation{Scheduler: sched, Persistence: persistence, Start: dests, Quiet: true}
	weights := make([]int, n)
	sum, live := 0, 0
	for i, d := range dests {
		weights[i] = d.Weight
		if d.Active+d.Inactive > 0 {
			e.Quiet = false
		}
		if d.Weight > 0 {
			sum += d.Weight
			live++
		}
	}
	e.Share = make([]float64, n)
	if live == 0 {
		e.Kind = KindSingle
		e.Promise = "no real server has a weight above 0: every request is refused"
		e.Min, e.Max = make([]int, n), make([]int, n)
		return e
	}
	if persistence > 0 {
		e.Kind = KindSingle
		e.Candidates = liveIndices(dests)
		e.Promise = fmt.Sprintf("persistence %ds: every request from this client goes to the one server its first connection was given", persistence)
		return e
	}
	cycle := func(build func([]int) []int, share func(i int) float64) {
		e.Kind = KindCycle
		for i := range dests {
			e.Share[i] = share(i)
		}
		e.Min, e.Max = nil, nil
		for _, ord := range orders(n, orderKnown) {
			w := make([]int, n)
			for pos, idx := range ord {
				w[pos] = weights[idx]
			}
			c := build(w)
			for k := range c {
				c[k] = ord[c[k]]
			}
			e.Cycles = append(e.Cycles, c)
			lo, hi := WindowRange(c, n, reqs)
			if e.Min == nil {
				e.Min, e.Max = lo, hi
				continue
			}
			for i := range lo {
				e.Min[i], e.Max[i] = min(e.Min[i], lo[i]), max(e.Max[i], hi[i])
			}
		}
	}
	switch sched {
	case "rr":
		cycle(ipvs.RRCycle, func(i int) float64 {
			if weights[i] > 0 {
				return float64(reqs) / float64(live)
			}
			return 0
		})
		e.Promise = fmt.Sprintf("round robin: each of the %d servers with weight > 0 in turn, equal shares (±1), a repeating sequence", live)
	case "wrr":
		cycle(ipvs.WRRCycle, func(i int) float64 { return float64(reqs) * float64(weights[i]) / float64(sum) })
		e.Promise = fmt.Sprintf("weighted round robin: shares in proportion to the weights %s, the kernel's repeating sequence %s", weightList(dests), e.cycleText(dests))
	case "lc", "wlc":
		e.Kind = KindLeast
		for i := range dests {
			if weights[i] > 0 {
				if sched == "lc" {
					e.Share[i] = float64(reqs) / float64(live)
				} else {
					e.Share[i] = float64(reqs) * float64(weights[i]) / float64(sum)
				}
			}
		}
		how := "the server with the fewest connections (256 x active + inactive; closed ones stay inactive for about 2 minutes)"
		if sched == "wlc" {
			how = "the server with the fewest connections per unit of weight (256 x active + inactive, divided by the weight)"
		}
		e.Promise = "each new connection goes to " + how
		if e.Quiet {
			e.Min, e.Max = predictRange(sched, dests, reqs, orderKnown)
			if orderKnown {
				e.Predicted = SimulateLeast(sched, dests, reqs)
			}
			if sched == "lc" {
				e.Promise += "; from a quiet table sequential requests even out: equal shares (±1)"
			} else {
				e.Promise += "; from a quiet table sequential requests follow the weights " + weightList(dests)
			}
		} else {
			e.Promise += "; the table is not quiet (" + tableText(dests) + "), so servers with fewer connections catch up first"
		}
	case "sed", "fo", "ovf", "nq":
		e.Kind = KindSingle
		allIdle := true
		for _, d := range dests {
			if d.Active > 0 {
				allIdle = false
			}
		}
		switch {
		case !allIdle:
			e.Candidates = liveIndices(dests)
		case sched == "nq":
			// the first idle server of the list
			if orderKnown {
				e.Candidates = []int{SimulateLeast(sched, dests, 1)[0]}
			} else {
				e.Candidates = liveIndices(dests)
			}
		default:
			e.Candidates = heaviest(dests)
			if orderKnown {
				e.Candidates = []int{SimulateLeast(sched, dests, 1)[0]}
			}
		}
		switch sched {
		case "sed":
			e.Promise = "shortest expected delay counts only active connections: short sequential requests all go to the heaviest server"
		case "nq":
			e.Promise = "never queue takes the first idle server of the kernel's list: short sequential requests all go to it"
		case "fo":
			e.Promise = "weighted failover: every request goes to the available server with the highest weight"
		case "ovf":
			e.Promise = "weighted overflow: every request goes to the highest-weight server until its active connections reach its weight"
		}
	default: // lblc, lblcr, dh, sh, mh and anything unknown
		e.Kind = KindSingle
		e.Candidates = liveIndices(dests)
		switch sched {
		case "sh", "mh":
			e.Promise = "source hashing: one client address always maps to the same server"
		case "dh":
			e.Promise = "destination hashing: one VIP always maps to the same server"
		case "lblc", "lblcr":
			e.Promise = "locality-based: one destination address stays on its server until that server is overloaded"
		default:
			e.Promise = "scheduler " + sched + ": only checked that servers of weight 0 get nothing"
			e.Candidates = nil
		}
	}
	if e.Kind == KindSingle && len(e.Candidates) > 0 {
		for _, c := range e.Candidates {
			e.Share[c] = float64(reqs) / float64(len(e.Candidates))
		}
	}
	return e
}

// predictRange is the per-destination count range of a least-connection
// simulation over every possible list order.
func predictRange(sched string, dests []Dest, reqs int, known bool) (lo, hi []int) {
	n := len(dests)
	for _, ord := range orders(n, known) {
		ds := make([]Dest, n)
		for pos, idx := range ord {
			ds[pos] = dests[idx]
		}
		c := make([]int, n)
		for _, p := range SimulateLeast(sched, ds, reqs) {
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

func liveIndices(dests []Dest) []int {
	var out []int
	for i, d := range dests {
		if d.Weight > 0 {
			out = append(out, i)
		}
	}
	return out
}

func heaviest(dests []Dest) []int {
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

func weightList(dests []Dest) string {
	var parts []string
	for _, d := range dests {
		parts = append(parts, fmt.Sprintf("%s=%d", d.Name, d.Weight))
	}
	return strings.Join(parts, " ")
}

func tableText(dests []Dest) string {
	var parts []string
	for _, d := range dests {
		parts = append(parts, fmt.Sprintf("%s %d active/%d inactive", d.Name, d.Active, d.Inactive))
	}
	return strings.Join(parts, ", ")
}

func (e *Expectation) cycleText(dests []Dest) string {
	if len(e.Cycles) != 1 {
		return "(depends on the kernel's list order)"
	}
	return "[" + names(e.Cycles[0], dests) + "]"
}

func names(seq []int, dests []Dest) string {
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
