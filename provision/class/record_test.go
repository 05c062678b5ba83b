package class

import (
	"os"
	"testing"

	"github.com/lvslab/lvslab/provision/paths"
)

func TestRecord(t *testing.T) {
	home := paths.InHome(t.TempDir())
	r, err := ReadRecord(home, "lvs")
	if err != nil || r.Class != "lvs" || len(r.Copies) != 0 {
		t.Fatalf("%+v %v", r, err)
	}
	r.File, r.Lab = "/c/class.yaml", "tedu-nat"
	r.Set("bob", "b:///", "lvs-bob")
	r.Set("alice", "a:///", "lvs-alice")
	r.Set("bob", "c:///", "lvs-bob") // moved: recorded once
	if err := r.Write(home); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRecord(home, "lvs")
	if err != nil {
		t.Fatal(err)
	}
	if got.File != "/c/class.yaml" || got.Lab != "tedu-nat" || len(got.Copies) != 2 ||
		got.Copies[0] != (CopyRecord{Student: "alice", Host: "a:///", Copy: "lvs-alice"}) || got.Copies[1].Host != "c:///" {
		t.Fatalf("%+v", got)
	}
	if p := got.Placement(); p["alice"] != "a:///" || p["bob"] != "c:///" {
		t.Fatal(p)
	}
	// A record with no copy left is removed.
	got.Remove("alice")
	got.Remove("bob")
	if err := got.Write(home); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(home.ClassRecord("lvs")); !os.IsNotExist(err) {
		t.Fatal("record left:", err)
	}
	// Another class's record under this name is refused.
	os.WriteFile(home.ClassRecord("lvs"), []byte(`{"class":"other"}`), 0o644)
	if _, err := ReadRecord(home, "lvs"); err == nil {
		t.Fatal("foreign record read")
	}
}
