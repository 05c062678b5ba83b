package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// savingExec adds to the world's director the file the exercise saves to.
type savingExec struct {
	guest.Executor
	w     *world
	files map[string]string
}

func (x *savingExec) Run(ctx context.Context, cmd string) (string, error) {
	if rest, ok := strings.CutPrefix(cmd, ipvs.SaveCommand+" > "); ok {
		out, err := x.Executor.Run(ctx, ipvs.SaveCommand)
		x.files[rest] = out
		return "", err
	}
	if p, ok := strings.CutPrefix(cmd, "cat "); ok {
		return x.files[p], nil
	}
	return x.Executor.Run(ctx, cmd)
}

func savingWorld(t *testing.T, lab string) (*world, guest.Dialer) {
	w := newWorld(t, lab)
	files := map[string]string{}
	w.kernel.ReadFile = func(p string) ([]byte, bool) { s, ok := files[p]; return []byte(s), ok }
	return w, func(node string) (guest.Executor, error) {
		x, err := w.dial(node)
		if err != nil || node != w.lab.Director().Name {
			return x, err
		}
		return &savingExec{Executor: x, w: w, files: files}, nil
	}
}

func TestSaveRestoreExercise(t *testing.T) {
	w, dial := savingWorld(t, "tedu-nat")
	rep, err := SaveRestore(context.Background(), w.lab, dial, Options{Requests: 12})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || len(rep.Steps) != 3 || rep.Verify == nil || !rep.Verify.Pass {
		t.Fatalf("save, clear, restore, verify should all hold: %+v", rep)
	}
	var text strings.Builder
	rep.WriteText(&text)
	for _, want := range []string{"PASS  lvs1# ipvsadm -Sn > /root/ipvsadm.saved", "PASS  lvs1# ipvsadm -C: the table is empty", "PASS  lvs1# ipvsadm-restore < /root/ipvsadm.saved"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
}

// A restore that brings back something else (a file edited meanwhile) is
// caught, and the lab's own rules are put back.
func TestSaveRestoreCatchesAWrongRestore(t *testing.T) {
	w, dial := savingWorld(t, "tedu-nat")
	w.kernel.ReadFile = func(string) ([]byte, bool) { return []byte("-A -t 192.168.4.5:80 -s rr\n"), true }
	rep, err := SaveRestore(context.Background(), w.lab, dial, Options{Requests: 12})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass || len(rep.Steps) != 3 || rep.Steps[2].Pass || rep.ExitCode() != 1 {
		t.Fatalf("a wrong restore must fail its step: %+v", rep)
	}
	if s := w.service(); s == nil || len(s.Destinations) != 2 {
		t.Errorf("the lab's rules are not back after the failed exercise: %+v", s)
	}
}

func TestObserveViews(t *testing.T) {
	w := newWorld(t, "tedu-nat")
	if _, err := Run(context.Background(), w.lab, w.dial, Options{Requests: 12}); err != nil {
		t.Fatal(err)
	}
	ob, err := Observe(context.Background(), w.lab, w.dial, ViewStats)
	if err != nil {
		t.Fatal(err)
	}
	if len(ob.Services) != 1 || ob.Services[0].Stats.Connections == 0 || !strings.Contains(ob.Output, "InPkts") {
		t.Errorf("stats after 12 requests: %+v\n%s", ob.Services, ob.Output)
	}
	if ob, err = Observe(context.Background(), w.lab, w.dial, ViewZero); err != nil {
		t.Fatal(err)
	}
	if len(ob.Services) != 1 || ob.Services[0].Stats.Connections != 0 {
		t.Errorf("after -Z the counters are not zero: %+v", ob.Services)
	}
	if ob, err = Observe(context.Background(), w.lab, w.dial, ViewRate); err != nil || !strings.Contains(ob.Output, "CPS") {
		t.Errorf("rate: %v %+v", err, ob)
	}
	if _, err := Observe(context.Background(), w.lab, w.dial, "top"); err == nil {
		t.Error("unknown view: no error")
	}
}
