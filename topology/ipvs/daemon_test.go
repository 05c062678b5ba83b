package ipvs

import (
	"context"
	"slices"
	"testing"
)

func TestParseDaemons(t *testing.T) {
	out := "master sync daemon (mcast=eth0, syncid=51)\nbackup sync daemon (mcast=eth1, syncid=7)\nsomething else\n"
	got := ParseDaemons(out)
	want := []SyncDaemon{{"master", "eth0", 51}, {"backup", "eth1", 7}}
	if !slices.Equal(got, want) {
		t.Errorf("ParseDaemons = %v, want %v", got, want)
	}
	if len(ParseDaemons("")) != 0 {
		t.Error("no daemon: none parsed")
	}
	var ran []string
	h := New(func(_ context.Context, cmd string) (string, error) { ran = append(ran, cmd); return out, nil })
	ds, err := h.SyncDaemons(context.Background())
	if err != nil || len(ds) != 2 || ds[0].String() != "master on eth0, syncid 51" {
		t.Errorf("SyncDaemons = %v, %v", ds, err)
	}
	if err := h.StopSyncDaemons(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ran, []string{DaemonsCommand, StopDaemonsCommand}) {
		t.Errorf("ran %q", ran)
	}
}
