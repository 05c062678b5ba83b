package verify

import (
	"fmt"
	"strings"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// Check and Status are report's: they stay here only for the code that
// has not moved to report's names yet (the class orchestration in
// cmd/lvslab, which moves to provision/class).
//
// Deprecated: use report.Check and report.Status.
type (
	Check  = report.Check
	Status = report.Status
)

// Outcomes of a check, as Check above.
//
// Deprecated: use report.Pass, report.Fail and report.Skip.
const (
	Pass = report.Pass
	Fail = report.Fail
	Skip = report.Skip
)

func passf(name, format string, a ...any) report.Check {
	return report.Check{Name: name, Status: report.Pass, Detail: fmt.Sprintf(format, a...)}
}

func failf(name, format string, a ...any) report.Check {
	return report.Check{Name: name, Status: report.Fail, Detail: fmt.Sprintf(format, a...)}
}

func skipf(name, format string, a ...any) report.Check {
	return report.Check{Name: name, Status: report.Skip, Detail: fmt.Sprintf(format, a...)}
}

// Observation is what the client saw, mapped onto the destinations.
type Observation struct {
	// Counts is, per destination, the requests the scheduler gave it:
	// replies it served plus failed requests attributed to it.
	Counts []int
	// Seq is the destination of each request in order; -1 when unknown (a
	// failed request that could not be attributed).
	Seq []int
	// Unattributed counts failed requests whose server is unknown.
	Unattributed int
}

// Judge checks an observation against the scheduler's promise. It only
// asserts what the scheduler guarantees.
func Judge(e ipvs.Expectation, dests []ipvs.NamedDest, obs Observation) []report.Check {
	var out []report.Check
	// Weight 0: a quiesced server takes no new connection.
	var zero []string
	bad := false
	for i, d := range dests {
		if d.Weight != 0 {
			continue
		}
		zero = append(zero, d.Name)
		if obs.Counts[i] > 0 {
			bad = true
			msg := fmt.Sprintf("%s has weight 0 but was given %d request(s)", d.Name, obs.Counts[i])
			if e.Persistence > 0 {
				msg += " (persistence templates keep sending known clients to a quiesced server)"
			}
			out = append(out, failf("weight 0 idle", "%s", msg))
		}
	}
	if len(zero) > 0 && !bad {
		out = append(out, passf("weight 0 idle", "%s (weight 0) got no request", strings.Join(zero, ", ")))
	}

	total := 0
	for _, c := range obs.Counts {
		total += c
	}
	if obs.Unattributed > 0 {
		out = append(out, skipf("shares", "%d failed request(s) could not be attributed to a server", obs.Unattributed))
		if e.Kind == ipvs.KindCycle {
			out = append(out, sequenceCheck(e, dests, obs.Seq))
		}
		return out
	}
	if total == 0 {
		out = append(out, failf("shares", "no request reached a server"))
		return out
	}
	switch e.Kind {
	case ipvs.KindCycle:
		out = append(out, rangeCheck(e, dests, obs.Counts, "the kernel's cycle allows"))
		out = append(out, sequenceCheck(e, dests, obs.Seq))
	case ipvs.KindLeast:
		if e.Min != nil {
			out = append(out, rangeCheck(e, dests, obs.Counts, "from a quiet table the kernel gives"))
		} else {
			out = append(out, leastInvariant(e, dests, obs.Counts))
		}
	case ipvs.KindSingle:
		out = append(out, singleCheck(e, dests, obs.Counts))
	}
	return out
}

func rangeCheck(e ipvs.Expectation, dests []ipvs.NamedDest, counts []int, why string) report.Check {
	var off, all []string
	for i, d := range dests {
		r := fmt.Sprintf("%s %d", d.Name, counts[i])
		if e.Min[i] == e.Max[i] {
			r += fmt.Sprintf(" (want %d)", e.Min[i])
		} else {
			r += fmt.Sprintf(" (want %d..%d)", e.Min[i], e.Max[i])
		}
		all = append(all, r)
		if counts[i] < e.Min[i] || counts[i] > e.Max[i] {
			off = append(off, r)
		}
	}
	if len(off) > 0 {
		return failf("shares", "outside what %s: %s", why, strings.Join(off, ", "))
	}
	return passf("shares", "%s", strings.Join(all, ", "))
}

func sequenceCheck(e ipvs.Expectation, dests []ipvs.NamedDest, seq []int) report.Check {
	if len(e.Cycles) == 0 {
		return skipf("sequence", "no server can be scheduled")
	}
	for _, c := range e.Cycles {
		if off, ok := ipvs.MatchRotation(c, seq); ok {
			rot := append(append([]int(nil), c[off:]...), c[:off]...)
			return passf("sequence", "a window of the kernel's cycle [%s]", ipvs.Names(rot, dests))
		}
	}
	want := e.Cycles[0]
	return failf("sequence", "[%s] is not a window of the kernel's cycle [%s] (any starting point)", ipvs.Names(seq, dests), ipvs.Names(want, dests))
}

// leastInvariant checks what lc/wlc guarantee whatever the starting table:
// when a server was last picked, its connection count per weight was the
// lowest. Counts only grow during a short run, so for every server s that
// got requests and every other server t of weight > 0:
// (start_s + got_s - 1) / w_s <= (start_t + got_t) / w_t, with start the
// lowest (for s) and highest (for t) overhead the table allows.
func leastInvariant(e ipvs.Expectation, dests []ipvs.NamedDest, counts []int) report.Check {
	weight := func(d ipvs.NamedDest) int {
		if e.Scheduler == "lc" {
			return 1
		}
		return d.Weight
	}
	for s, ds := range dests {
		if counts[s] == 0 || ds.Weight <= 0 {
			continue
		}
		low := ds.InactiveConnections + ds.ActiveConnections + counts[s] - 1
		for t, dt := range dests {
			if t == s || dt.Weight <= 0 {
				continue
			}
			high := ipvs.Overhead(dt.Destination) + counts[t]
			if low*weight(dt) > high*weight(ds) {
				return failf("shares", "%s got %d request(s) while %s (got %d) had fewer connections per weight: %s",
					ds.Name, counts[s], dt.Name, counts[t], ipvs.TableText(e.Start))
			}
		}
	}
	var all []string
	for i, d := range dests {
		all = append(all, fmt.Sprintf("%s %d", d.Name, counts[i]))
	}
	return passf("shares", "%s; consistent with the table at the start (%s)", strings.Join(all, ", "), ipvs.TableText(e.Start))
}

func singleCheck(e ipvs.Expectation, dests []ipvs.NamedDest, counts []int) report.Check {
	var got []int
	for i, c := range counts {
		if c > 0 {
			got = append(got, i)
		}
	}
	if len(e.Candidates) == 0 {
		return passf("shares", "served by %s", ipvs.Names(got, dests))
	}
	if len(got) != 1 {
		return failf("shares", "%d servers took requests (%s); the scheduler sends them all to one", len(got), ipvs.Names(got, dests))
	}
	for _, c := range e.Candidates {
		if c == got[0] {
			return passf("shares", "every request went to %s", dests[got[0]].Name)
		}
	}
	return failf("shares", "every request went to %s, but the scheduler would pick %s", dests[got[0]].Name, ipvs.Names(e.Candidates, dests))
}
