package provision

import (
	"context"
	"maps"
	"testing"
)

// A class's copy is marked in its domains' tags; a second up keeps the
// mark; the class finds its copies on the host alone; down removes them.
func TestMarkCopy(t *testing.T) {
	lab := mustLab(t, "tedu-nat")
	lab.Name = "lvs-alice"
	conn, opts := upLab(t, lab)
	other := mustLab(t, "tedu-nat") // not of the class
	if _, err := Up(context.Background(), conn, other, opts); err != nil {
		t.Fatal(err)
	}
	if err := MarkCopy(conn, "lvs-alice", "lvs", "alice"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"lvs-alice": "alice"}
	got, err := ClassCopies(conn, "lvs")
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := Up(context.Background(), conn, lab, opts); err != nil {
		t.Fatal(err)
	}
	inv, _ := DiscoverLab(conn, "", "lvs-alice")
	for _, d := range inv.Domains {
		if d.Tag.Class != "lvs" || d.Tag.Student != "alice" || d.Tag.Mgmt == "" || d.Tag.Node == "" {
			t.Errorf("after a second up, %s's tag is %+v", d.Name, d.Tag)
		}
	}
	if _, err := Down(context.Background(), conn, Selector{Lab: "lvs-alice"}, DownOptions{Home: opts.Home}); err != nil {
		t.Fatal(err)
	}
	if got, _ := ClassCopies(conn, "lvs"); len(got) != 0 {
		t.Fatalf("left: %v", got)
	}
	if got, _ := ClassCopies(conn, "tedu"); len(got) != 0 {
		t.Fatalf("an unmarked lab counted as a class's: %v", got)
	}
}

func TestFreeMemory(t *testing.T) {
	// test:///default has no node memory statistics: virNodeGetFreeMemory's
	// figure it is.
	if _, err := FreeMemory(testConn(t)); err != nil {
		t.Fatal(err)
	}
}
