package ipvs

import (
	"reflect"
	"testing"
)

// kernelWRR is a literal port of the classic ip_vs_wrr_schedule loop (a
// cursor cl over the list with a head position -1, a current weight cw
// lowered by the gcd each time the cursor wraps), used to check WRRCycle
// against the kernel's own procedure.
type kernelWRR struct {
	weights    []int
	cl, cw     int
	mw, di, gn int
}

func newKernelWRR(weights []int) *kernelWRR {
	k := &kernelWRR{weights: weights, cl: -1}
	for _, w := range weights {
		if w > 0 {
			k.di = gcd(k.di, w)
			k.mw = max(k.mw, w)
		}
	}
	return k
}

func (k *kernelWRR) next() int {
	for {
		if k.cl == -1 {
			k.cl = 0
			k.cw -= k.di
			if k.cw <= 0 {
				k.cw = k.mw
				if k.cw == 0 {
					k.cl = -1
					return -1
				}
			}
		} else {
			k.cl++
			if k.cl == len(k.weights) {
				k.cl = -1
			}
		}
		if k.cl != -1 && k.weights[k.cl] >= k.cw {
			return k.cl
		}
	}
}

func TestWRRCycleHandComputed(t *testing.T) {
	cases := []struct {
		weights []int
		want    []int
	}{
		{[]int{2, 1}, []int{0, 0, 1}}, // web2(2) first in the list: web2, web2, web1
		{[]int{1, 2}, []int{1, 0, 1}}, // the same servers, the other list order
		{[]int{4, 3, 2}, []int{0, 0, 1, 0, 1, 2, 0, 1, 2}},
		{[]int{1, 1}, []int{0, 1}},
		{[]int{4, 2}, []int{0, 0, 1}},       // gcd 2: cycle of 3, not 6
		{[]int{3, 0, 1}, []int{0, 0, 0, 2}}, // weight 0 never chosen
		{[]int{0, 0}, nil},
		{[]int{6, 4, 2}, []int{0, 0, 1, 0, 1, 2}}, // gcd 2
	}
	for _, c := range cases {
		if got := WRRCycle(c.weights); !reflect.DeepEqual(got, c.want) {
			t.Errorf("WRRCycle(%v) = %v, want %v", c.weights, got, c.want)
		}
	}
}

func TestWRRCycleMatchesKernelProcedure(t *testing.T) {
	for _, w := range [][]int{{2, 1}, {1, 2}, {4, 3, 2}, {5, 1, 3}, {2, 2, 2}, {7, 0, 3, 1}, {10, 5}, {3}, {100, 1}} {
		k := newKernelWRR(w)
		cycle := WRRCycle(w)
		for i := 0; i < 3*len(cycle); i++ {
			if got := k.next(); got != cycle[i%len(cycle)] {
				t.Fatalf("weights %v: kernel pick %d is %d, cycle says %d (cycle %v)", w, i, got, cycle[i%len(cycle)], cycle)
			}
		}
	}
}
