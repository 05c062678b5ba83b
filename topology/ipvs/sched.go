package ipvs

// The kernel's scheduling rules, for predicting and simulating a table.

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// WRRCycle is one full cycle of ip_vs_wrr.c for destinations with these
// weights, in list order: the current weight cw starts at the largest
// weight and steps down by the gcd of all weights; at each step every
// destination whose weight is at least cw is chosen, in list order.
// Destinations of weight 0 are never chosen. Weights 2,1 give [0 0 1];
// the kernel may be anywhere in the cycle when requests start.
func WRRCycle(weights []int) []int {
	g, mw := 0, 0
	for _, w := range weights {
		if w > 0 {
			g = gcd(g, w)
			mw = max(mw, w)
		}
	}
	if mw == 0 {
		return nil
	}
	var out []int
	for cw := mw; cw > 0; cw -= g {
		for i, w := range weights {
			if w > 0 && w >= cw {
				out = append(out, i)
			}
		}
	}
	return out
}

// RRCycle is ip_vs_rr.c's cycle: every destination of weight > 0 once, in
// list order.
func RRCycle(weights []int) []int {
	var out []int
	for i, w := range weights {
		if w > 0 {
			out = append(out, i)
		}
	}
	return out
}

// Overhead is ip_vs_dest_conn_overhead: active connections weigh 256
// times an inactive one.
func Overhead(d Destination) int { return d.ActiveConnections<<8 + d.InactiveConnections }

// Pick is the destination one new connection goes to under a scheduler of
// the least-connection family (lc, wlc, sed, nq, fo, ovf), in list order;
// -1 when none is available or the scheduler is not of that family.
func Pick(sched string, ds []Destination) int {
	least := -1
	switch sched {
	case LeastConnection:
		loh := 0
		for i, d := range ds {
			if d.Weight <= 0 {
				continue
			}
			if doh := Overhead(d); least < 0 || doh < loh {
				least, loh = i, doh
			}
		}
	case WeightedLeastConnection, ShortestExpectedDelay, NeverQueue:
		cost := Overhead
		if sched != WeightedLeastConnection {
			cost = func(d Destination) int { return d.ActiveConnections + 1 }
		}
		loh := 0
		for i, d := range ds {
			if d.Weight <= 0 {
				continue
			}
			if sched == NeverQueue && d.ActiveConnections == 0 {
				return i // an idle server is taken at once
			}
			doh := cost(d)
			if least < 0 || loh*d.Weight > doh*ds[least].Weight {
				least, loh = i, doh
			}
		}
	case WeightedFailover:
		for i, d := range ds {
			if d.Weight > 0 && (least < 0 || d.Weight > ds[least].Weight) {
				least = i
			}
		}
	case WeightedOverflow:
		for i, d := range ds {
			if d.Weight > 0 && d.ActiveConnections < d.Weight && (least < 0 || d.Weight > ds[least].Weight) {
				least = i
			}
		}
	}
	return least
}

// SimulateLeast replays the kernel's least-connection family (lc, wlc,
// sed, nq, fo, ovf) for n sequential short requests: each goes to the
// destination Pick chooses and is inactive (closed) before the next one
// starts. It returns the chosen indices; -1 when none is available.
func SimulateLeast(sched string, dests []Destination, n int) []int {
	ds := append([]Destination(nil), dests...)
	out := make([]int, 0, n)
	for k := 0; k < n; k++ {
		pick := Pick(sched, ds)
		out = append(out, pick)
		if pick >= 0 {
			ds[pick].InactiveConnections++
		}
	}
	return out
}
