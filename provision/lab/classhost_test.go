package lab

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/host"
)

// marks are the class and student each domain of an inventory carries in
// its tag: domain -> "class/student".
func marks(inv *host.Inventory) map[string]string {
	out := map[string]string{}
	for _, d := range inv.Domains {
		out[d.Name] = d.Tag.Class + "/" + d.Tag.Student
	}
	return out
}

// copyOptions are up's options for student's copy of class.
func copyOptions(opts Options, class, student string) Options {
	opts.Class, opts.Student = class, student
	return opts
}

// up writes a class copy's mark into each domain it defines: right after
// up, after an up that failed once its domains existed, after a plain up
// of the copy; ClassCopies finds the copies by it, and down removes them.
func TestUpMarksClassCopy(t *testing.T) {
	conn, opts := fresh(t)
	ctx := context.Background()
	allMarked := func(lab, want string, n int) {
		t.Helper()
		inv, err := host.DiscoverLab(conn, "", lab)
		if err != nil {
			t.Fatal(err)
		}
		got := marks(inv)
		if len(got) != n {
			t.Fatalf("lab %s has %d domains, want %d: %v", lab, len(got), n, got)
		}
		for d, m := range got {
			if m != want {
				t.Errorf("domain %s is marked %q, want %q", d, m, want)
			}
		}
		for _, d := range inv.Domains {
			if d.Tag.Mgmt == "" || d.Tag.Node == "" || d.Tag.InstanceID == "" {
				t.Errorf("domain %s lost the rest of its tag: %+v", d.Name, d.Tag)
			}
		}
	}

	alice := mustLab(t, "tedu-nat")
	alice.Name = "lvs-alice"
	if _, err := Up(ctx, conn, alice, copyOptions(opts, "lvs", "alice")); err != nil {
		t.Fatal(err)
	}
	allMarked("lvs-alice", "lvs/alice", 4)
	if _, err := Up(ctx, conn, mustLab(t, "tedu-nat"), opts); err != nil { // a lab of no class
		t.Fatal(err)
	}
	allMarked("tedu", "/", 4)

	// A copy whose up fails once its domains are defined (kept, as a
	// crash or --retain keeps them) is the class's already.
	bob := mustLab(t, "tedu-nat")
	bob.Name = "lvs-bob"
	failed := copyOptions(opts, "lvs", "bob")
	failed.AfterStep, failed.Retain = failAfter("domains"), true
	if _, err := Up(ctx, conn, bob, failed); err == nil || !strings.Contains(err.Error(), "injected failure after step domains") {
		t.Fatalf("got %v", err)
	}
	allMarked("lvs-bob", "lvs/bob", 4)
	want := map[string]string{"lvs-alice": "alice", "lvs-bob": "bob"}
	if got, err := host.ClassCopies(conn, "lvs"); err != nil || !maps.Equal(got, want) {
		t.Fatalf("class copies %v %v, want %v", got, err, want)
	}

	// A plain up of a copy keeps its mark, and a node it makes anew (its
	// VM was removed by hand) takes the mark of its siblings.
	if err := host.RemoveDomain(conn, "lvs-alice-web2"); err != nil {
		t.Fatal(err)
	}
	if _, err := Up(ctx, conn, alice, opts); err != nil {
		t.Fatal(err)
	}
	allMarked("lvs-alice", "lvs/alice", 4)
	// A reused copy whose up fails later keeps its mark too.
	again := copyOptions(opts, "lvs", "alice")
	again.AfterStep = failAfter("start")
	if _, err := Up(ctx, conn, alice, again); err == nil {
		t.Fatal("no error")
	}
	allMarked("lvs-alice", "lvs/alice", 4)

	// A lab of the copy's name brought up without a class ("up --as") is
	// adopted by the class's up.
	carol := mustLab(t, "tedu-nat")
	carol.Name = "lvs-carol"
	if _, err := Up(ctx, conn, carol, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := Up(ctx, conn, carol, copyOptions(opts, "lvs", "carol")); err != nil {
		t.Fatal(err)
	}
	allMarked("lvs-carol", "lvs/carol", 4)

	if _, err := Down(ctx, conn, Selector{Lab: "lvs-alice"}, DownOptions{Paths: opts.Paths}); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"lvs-bob": "bob", "lvs-carol": "carol"}
	if got, _ := host.ClassCopies(conn, "lvs"); !maps.Equal(got, want) {
		t.Fatalf("after down of alice's copy: %v, want %v", got, want)
	}
	if got, _ := host.ClassCopies(conn, "tedu"); len(got) != 0 {
		t.Fatalf("a lab of no class counted as a class's: %v", got)
	}
}

// Two classes whose copies' names meet (class lvs, student a-b; class
// lvs-a, student b: both lvs-a-b): the second is refused, by name, with
// the way out, and the first's copy is left as it was.
func TestUpRefusesAnotherClassesCopy(t *testing.T) {
	conn, opts := fresh(t)
	ctx := context.Background()
	lab := mustLab(t, "tedu-nat")
	lab.Name = "lvs-a-b"
	if _, err := Up(ctx, conn, lab, copyOptions(opts, "lvs", "a-b")); err != nil {
		t.Fatal(err)
	}
	before := everything(t, conn)
	inv, _ := host.DiscoverLab(conn, "", "lvs-a-b")
	tags := marks(inv)
	for _, other := range []Options{copyOptions(opts, "lvs-a", "b"), copyOptions(opts, "lvs", "b")} {
		_, err := Up(ctx, conn, lab, other)
		wantMsg := `domain lvs-a-b-client1 is student a-b's copy of class lvs, not student ` + other.Student + `'s of class ` + other.Class +
			`: lvslab will not take it over; "lvslab class down" with class lvs's file (or "lvslab down lvs-a-b") removes it, or rename the class`
		if err == nil || !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("class %s student %s: got %v\nwant %s", other.Class, other.Student, err, wantMsg)
		}
		if got := everything(t, conn); !slices.Equal(got, before) {
			t.Errorf("the refused up changed the host:\n%v\n%v", before, got)
		}
		inv, _ := host.DiscoverLab(conn, "", "lvs-a-b")
		if got := marks(inv); !maps.Equal(got, tags) {
			t.Errorf("the refused up rewrote the marks: %v, was %v", got, tags)
		}
	}
	// A class without its student (or the reverse) is a caller's mistake.
	if _, err := Up(ctx, conn, lab, copyOptions(opts, "lvs", "")); err == nil || !strings.Contains(err.Error(), "needs both its class and its student") {
		t.Errorf("class without student: %v", err)
	}
}

func TestFreeMemory(t *testing.T) {
	// test:///default has no node memory statistics: virNodeGetFreeMemory's
	// figure it is.
	if _, err := host.FreeMemory(testConn(t)); err != nil {
		t.Fatal(err)
	}
}
