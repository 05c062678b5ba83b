package class

import (
	"fmt"
	"strings"
	"testing"
)

func testClass(t *testing.T, students int, hosts string) *Class {
	t.Helper()
	// The figures below were worked out for 640 MiB per VM: 4608 MiB a copy.
	c, err := load(t, fmt.Sprintf("name: lvs\nlab: tedu-nat\ncount: %d\nvm_overhead: 640\nhosts:\n%s", students, hosts))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// perHost counts the copies placed on each host.
func perHost(p Placement) map[string]int {
	n := map[string]int{}
	for _, uri := range p {
		n[uri]++
	}
	return n
}

const gib = 1024

func TestPlaceSpreadsByFreeMemory(t *testing.T) {
	c := testClass(t, 5, "  - uri: a:///\n  - uri: b:///\n")
	need := c.CopyMemory() // 4608 MiB
	// a has room for 4, b for 2: the copy goes where most is left, the
	// first host on a tie.
	p, err := Place(c, []HostFigures{{URI: "a:///", FreeMiB: 4*need + 10}, {URI: "b:///", FreeMiB: 2*need + 10}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// a: 4n → 3n → 2n (tie with b: a) → n; b: 2n → n; then a tie again.
	want := Placement{"s01": "a:///", "s02": "a:///", "s03": "a:///", "s04": "b:///", "s05": "a:///"}
	if fmt.Sprint(p) != fmt.Sprint(want) {
		t.Fatalf("placed %v, want %v", p, want)
	}
	// The same figures place the same way.
	again, _ := Place(c, []HostFigures{{URI: "a:///", FreeMiB: 4*need + 10}, {URI: "b:///", FreeMiB: 2*need + 10}}, nil)
	if fmt.Sprint(again) != fmt.Sprint(p) {
		t.Fatal("not deterministic")
	}
}

// Two hosts with the same figures (the e2e's namespaces of one machine):
// one copy each.
func TestPlaceEqualHosts(t *testing.T) {
	c := testClass(t, 2, "  - uri: a:///\n  - uri: b:///\n")
	p, err := Place(c, []HostFigures{{URI: "a:///", FreeMiB: 64 * gib}, {URI: "b:///", FreeMiB: 64 * gib}}, nil)
	if err != nil || p["s01"] != "a:///" || p["s02"] != "b:///" {
		t.Fatalf("%v %v", p, err)
	}
}

func TestPlaceCapacity(t *testing.T) {
	// a is bounded to 2 copies, b to the memory of 3: 6 fit exactly with c.
	c := testClass(t, 6, "  - uri: a:///\n    max_copies: 2\n  - uri: b:///\n    memory: 13824\n  - uri: c:///\n    max_copies: 1\n")
	free := []HostFigures{{URI: "a:///", FreeMiB: 64 * gib}, {URI: "b:///", FreeMiB: 64 * gib}, {URI: "c:///", FreeMiB: 64 * gib}}
	p, err := Place(c, free, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := perHost(p); n["a:///"] != 2 || n["b:///"] != 3 || n["c:///"] != 1 {
		t.Fatalf("%v", n)
	}
	// One more student does not fit: nothing is placed, and each host says
	// what it lacks.
	c = testClass(t, 7, "  - uri: a:///\n    max_copies: 2\n  - uri: b:///\n    memory: 13824\n  - uri: c:///\n    max_copies: 1\n")
	p, err = Place(c, free, nil)
	if p != nil || err == nil {
		t.Fatalf("%v %v", p, err)
	}
	for _, want := range []string{
		"class lvs does not fit: 1 of 7 copies have no host (s07), each copy needs 4608 MiB (4 VMs: guest memory + 640 MiB per VM); nothing was created",
		"  a:///: 2 copies placed, max_copies 2 reached",
		"  b:///: 3 copies placed, 0 MiB of its memory capacity 13824 MiB left",
		"  c:///: 1 copies placed, max_copies 1 reached",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestPlaceShortOfFreeMemory(t *testing.T) {
	c := testClass(t, 3, "  - uri: a:///\n  - uri: b:///\n")
	_, err := Place(c, []HostFigures{{URI: "a:///", FreeMiB: 5000}, {URI: "b:///", Err: "cannot connect"}}, nil)
	for _, want := range []string{"2 of 3 copies have no host (s02, s03)", "  a:///: 1 copies placed, 392 MiB free", "  b:///: 0 copies placed, unreachable: cannot connect"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// Recorded copies stay where they are; they count against max_copies, not
// against the free memory (their VMs already take theirs).
func TestPlaceKeepsRecorded(t *testing.T) {
	c := testClass(t, 4, "  - uri: a:///\n    max_copies: 2\n  - uri: b:///\n")
	need := c.CopyMemory()
	kept := Placement{"s02": "b:///", "s03": "a:///"}
	p, err := Place(c, []HostFigures{{URI: "a:///", FreeMiB: 10 * need}, {URI: "b:///", FreeMiB: need}}, kept)
	if err != nil {
		t.Fatal(err)
	}
	want := Placement{"s01": "a:///", "s02": "b:///", "s03": "a:///", "s04": "b:///"}
	if fmt.Sprint(p) != fmt.Sprint(want) {
		t.Fatalf("placed %v, want %v", p, want)
	}
	// A copy on a host the file no longer lists is an error.
	_, err = Place(c, []HostFigures{{URI: "a:///", FreeMiB: 10 * need}}, Placement{"s01": "gone:///"})
	if err == nil || !strings.Contains(err.Error(), "s01 (on gone:///)") {
		t.Fatal(err)
	}
}
