package ipvstest

import (
	"context"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/topology/ipvs"
)

// TestHandleOverTheKernel drives ipvs.Handle against the simulated kernel:
// what it restores reads back the same, an op applies, and every command
// it sends is one the kernel answers.
func TestHandleOverTheKernel(t *testing.T) {
	ctx := context.Background()
	want, err := ipvs.ParseRules(natWRR)
	if err != nil {
		t.Fatal(err)
	}
	k := New(nil)
	var sent []string
	h := ipvs.New(func(_ context.Context, cmd string) (string, error) {
		sent = append(sent, cmd)
		if !Handles(cmd) {
			t.Errorf("the kernel does not answer %q", cmd)
		}
		return k.Run(cmd)
	})
	if err := h.Restore(ctx, want); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2 || sent[0] != ipvs.ClearCommand || !strings.HasPrefix(sent[1], ipvs.Restore+" <<'") {
		t.Errorf("restore sent %q", sent)
	}
	got, err := h.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := ipvs.Differences(got, want); len(d) > 0 {
		t.Errorf("rules read back differ: %v", d)
	}
	svc := want[0]
	op := ipvs.Op{Action: ipvs.EditDest, Service: svc, Dest: svc.Destinations[0]}
	op.Dest.Weight = 0
	if err := h.Apply(ctx, op); err != nil {
		t.Fatal(err)
	}
	tab, err := h.TableConns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := ipvs.Find(tab.Services, svc.Key()).Dest(op.Dest.Key()); d == nil || d.Weight != 0 {
		t.Errorf("after %s the destination is %+v", op.Command(), d)
	}
	if err := h.Restore(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if svcs, err := h.Table(ctx); err != nil || len(svcs) != 0 {
		t.Errorf("after restoring nothing the table holds %v (%v)", svcs, err)
	}
}

func TestBriefLeavesOutWhatAHintNamesApart(t *testing.T) {
	svcs, _ := ipvs.ParseRules("-A -t 192.168.4.15:80 -s wlc -p 300\n-a -t 192.168.4.15:80 -r 192.168.4.100:80 -i -w 1 -x 9 --tun-type ipip\n")
	s := svcs[0]
	cases := []struct {
		op   ipvs.Op
		want string
	}{
		{ipvs.Op{Action: ipvs.AddService, Service: s}, "ipvsadm -A -t 192.168.4.15:80 -s wlc"},
		{ipvs.Op{Action: ipvs.AddDest, Service: s, Dest: s.Destinations[0]}, "ipvsadm -a -t 192.168.4.15:80 -r 192.168.4.100:80 -i -w 1"},
		{ipvs.Op{Action: ipvs.DelService, Service: s}, "ipvsadm -D -t 192.168.4.15:80"},
	}
	for _, c := range cases {
		if got := c.op.Brief(); got != c.want {
			t.Errorf("Brief() = %q, want %q", got, c.want)
		}
	}
}
