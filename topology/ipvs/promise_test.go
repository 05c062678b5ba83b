package ipvs

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestWRRReferenceOutput(t *testing.T) {
	// tedu NAT: web1 weight 1 added first, web2 weight 2 second; the
	// kernel lists the last added first. The exercise shows web2, web2,
	// web1 repeating.
	dests := []NamedDest{{Name: "web2", Destination: Destination{Weight: 2}}, {Name: "web1", Destination: Destination{Weight: 1}}}
	e := Expect("wrr", 0, dests, 6, true)
	got := Names(e.Cycles[0], dests)
	if got != "web2, web2, web1" {
		t.Fatalf("cycle %s", got)
	}
	if e.Min[0] != 4 || e.Max[0] != 4 || e.Min[1] != 2 || e.Max[1] != 2 {
		t.Fatalf("6 requests must be exactly 4/2: %v %v", e.Min, e.Max)
	}
}

func TestRRCycleAndWindows(t *testing.T) {
	c := RRCycle([]int{1, 0, 5, 2})
	if !reflect.DeepEqual(c, []int{0, 2, 3}) {
		t.Fatalf("RRCycle = %v", c)
	}
	lo, hi := WindowRange(c, 4, 7)
	if !reflect.DeepEqual(lo, []int{2, 0, 2, 2}) || !reflect.DeepEqual(hi, []int{3, 0, 3, 3}) {
		t.Fatalf("window 7 of rr over 3: lo %v hi %v", lo, hi)
	}
	// wrr 4:3:2, a window of 4 can give the heavy one 3 (more than ±1 of 1.8)
	lo, hi = WindowRange(WRRCycle([]int{4, 3, 2}), 3, 4)
	if hi[0] != 3 || lo[2] != 0 {
		t.Fatalf("wrr 4:3:2 window 4: lo %v hi %v", lo, hi)
	}
}

func TestMatchRotation(t *testing.T) {
	cycle := []int{0, 0, 1}
	for _, c := range []struct {
		seq []int
		off int
		ok  bool
	}{
		{[]int{0, 0, 1, 0, 0, 1}, 0, true},
		{[]int{0, 1, 0, 0, 1, 0}, 1, true},
		{[]int{1, 0, 0, 1}, 2, true},
		{[]int{0, 1, 0, 1}, 0, false},
		{[]int{-1, 0, 1, -1}, 0, true}, // unknown entries match anything
		{nil, 0, true},
	} {
		off, ok := MatchRotation(cycle, c.seq)
		if ok != c.ok || (ok && off != c.off) {
			t.Errorf("MatchRotation(%v) = %d %v, want %d %v", c.seq, off, ok, c.off, c.ok)
		}
	}
}

func TestSimulateWLCReferenceOutput(t *testing.T) {
	// tedu DR, wlc, web1 weight 1 added before web2 weight 2: the exercise
	// shows web2, web1, web2, web2, web1, web2.
	dests := []NamedDest{{Name: "web2", Destination: Destination{Weight: 2}}, {Name: "web1", Destination: Destination{Weight: 1}}}
	got := Names(simulate("wlc", dests, 6), dests)
	if got != "web2, web1, web2, web2, web1, web2" {
		t.Fatalf("wlc sequence %s", got)
	}
	e := Expect("wlc", 0, dests, 12, true)
	if !e.Quiet || e.Min[0] != 8 || e.Max[0] != 8 || e.Min[1] != 4 {
		t.Fatalf("wlc 1:2 over 12 from a quiet table: %+v", e)
	}
}

func TestSimulateLeastFamily(t *testing.T) {
	d := func(w ...int) []NamedDest {
		var out []NamedDest
		for i, x := range w {
			out = append(out, NamedDest{Name: fmt.Sprint("s", i), Destination: Destination{Weight: x}})
		}
		return out
	}
	count := func(seq []int, n int) []int {
		c := make([]int, n)
		for _, s := range seq {
			c[s]++
		}
		return c
	}
	for _, c := range []struct {
		sched   string
		weights []int
		n       int
		want    []int
		why     string
	}{
		{"lc", []int{1, 5, 1}, 9, []int{3, 3, 3}, "lc ignores weights above 0"},
		{"lc", []int{1, 0, 1}, 4, []int{2, 0, 2}, "lc skips weight 0"},
		{"sed", []int{1, 3, 2}, 5, []int{0, 5, 0}, "sed with short requests: all to the heaviest"},
		{"nq", []int{1, 3, 2}, 5, []int{5, 0, 0}, "nq with short requests: all to the first idle"},
		{"fo", []int{2, 3, 3}, 4, []int{0, 4, 0}, "fo: first of the heaviest"},
		{"ovf", []int{2, 3, 1}, 4, []int{0, 4, 0}, "ovf: heaviest"},
	} {
		if got := count(simulate(c.sched, d(c.weights...), c.n), 3); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s, got %v", c.why, got)
		}
	}
	// a table that is not quiet: the server with fewer connections catches up
	dests := []NamedDest{{Name: "a", Destination: Destination{Weight: 1, InactiveConnections: 10}}, {Name: "b", Destination: Destination{Weight: 1}}}
	if c := count(simulate("lc", dests, 12), 2); !reflect.DeepEqual(c, []int{1, 11}) {
		t.Errorf("lc from 10/0: %v", c)
	}
	if got := simulate("wlc", []NamedDest{{Destination: Destination{Weight: 0}}}, 2); !reflect.DeepEqual(got, []int{-1, -1}) {
		t.Errorf("no server: %v", got)
	}
}

func TestExpectFamilies(t *testing.T) {
	two := []NamedDest{{Name: "web2", Destination: Destination{Weight: 2}}, {Name: "web1", Destination: Destination{Weight: 1}}}
	for _, c := range []struct {
		sched string
		pers  int
		kind  Kind
		cand  []int
		word  string
	}{
		{"rr", 0, KindCycle, nil, "round robin"},
		{"wrr", 0, KindCycle, nil, "weighted round robin"},
		{"lc", 0, KindLeast, nil, "fewest connections"},
		{"wlc", 0, KindLeast, nil, "per unit of weight"},
		{"sed", 0, KindSingle, []int{0}, "heaviest"},
		{"nq", 0, KindSingle, []int{0}, "first idle"},
		{"fo", 0, KindSingle, []int{0}, "failover"},
		{"ovf", 0, KindSingle, []int{0}, "overflow"},
		{"sh", 0, KindSingle, []int{0, 1}, "source hashing"},
		{"mh", 0, KindSingle, []int{0, 1}, "source hashing"},
		{"dh", 0, KindSingle, []int{0, 1}, "destination hashing"},
		{"lblc", 0, KindSingle, []int{0, 1}, "locality"},
		{"lblcr", 0, KindSingle, []int{0, 1}, "locality"},
		{"rr", 300, KindSingle, []int{0, 1}, "persistence"},
		{"wlc", 60, KindSingle, []int{0, 1}, "persistence"},
	} {
		e := Expect(c.sched, c.pers, two, 12, true)
		if e.Kind != c.kind || !reflect.DeepEqual(e.Candidates, c.cand) || !strings.Contains(e.Promise, c.word) {
			t.Errorf("%s p=%d: kind %s candidates %v promise %q", c.sched, c.pers, e.Kind, e.Candidates, e.Promise)
		}
	}
	// rr 12 over 2: exactly 6/6; over weights 1 and 0: 12/0
	e := Expect("rr", 0, []NamedDest{{Name: "a", Destination: Destination{Weight: 1}}, {Name: "b", Destination: Destination{Weight: 0}}}, 12, true)
	if e.Min[0] != 12 || e.Max[1] != 0 {
		t.Errorf("rr with a weight 0: %v %v", e.Min, e.Max)
	}
	// unknown list order: every permutation, so 4:3:2 over 9 is still exact
	e = Expect("wrr", 0, []NamedDest{{Name: "a", Destination: Destination{Weight: 4}}, {Name: "b", Destination: Destination{Weight: 3}}, {Name: "c", Destination: Destination{Weight: 2}}}, 9, false)
	if len(e.Cycles) != 6 || !reflect.DeepEqual(e.Min, []int{4, 3, 2}) || !reflect.DeepEqual(e.Max, []int{4, 3, 2}) {
		t.Errorf("wrr 4:3:2 over 9, unknown order: %d cycles, %v..%v", len(e.Cycles), e.Min, e.Max)
	}
	// nobody to schedule
	e = Expect("wrr", 0, []NamedDest{{Name: "a"}}, 3, true)
	if e.Kind != KindSingle || e.Max[0] != 0 {
		t.Errorf("no weight: %+v", e)
	}
	// not quiet: no range, invariant instead
	e = Expect("wlc", 0, []NamedDest{{Name: "a", Destination: Destination{Weight: 1, InactiveConnections: 3}}, {Name: "b", Destination: Destination{Weight: 2}}}, 12, true)
	if e.Quiet || e.Min != nil || !strings.Contains(e.Promise, "not quiet") {
		t.Errorf("not quiet: %+v", e)
	}
}
