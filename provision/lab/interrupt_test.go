package lab

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/sshx"
)

// Ctrl-C while the VMs boot: up says it was interrupted and what it
// removed, not one "no SSH login" per node, and leaves nothing behind.
func TestUpInterruptedSaysWhatItRemoved(t *testing.T) {
	conn, opts := fresh(t)
	before := everything(t, conn)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	opts.Connector = access.ConnectFunc(func(wctx context.Context, _ sshx.Config, _ sshx.Retry) (*sshx.Client, error) {
		cancel(errors.New("interrupt signal received"))
		<-wctx.Done()
		return nil, errors.New("no SSH login on 192.168.2.100:22: " + wctx.Err().Error())
	})
	var out bytes.Buffer
	opts.Progress = progress.Plain(&out)
	_, err := Up(ctx, conn, mustLab(t, "tedu-nat"), opts)
	if err == nil {
		t.Fatal("Up succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"up of lab tedu was interrupted (interrupt signal received) during the ssh step; removed what this run had created: ",
		"domain tedu-web2", "volume tedu_web1.seed.iso", "network tedu-private1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "no SSH login") || strings.Contains(out.String(), "FAILED") {
		t.Errorf("the cancelled waits are reported as failures:\n%s\n%s", msg, out.String())
	}
	t.Log(msg)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("the error does not wrap the cancellation: %v", err)
	}
	if got := everything(t, conn); !slices.Equal(got, before) {
		t.Errorf("left behind: %v (before %v)", got, before)
	}

	// With --retain, the same sentence says what was kept.
	ctx2, cancel2 := context.WithCancelCause(context.Background())
	defer cancel2(nil)
	opts.Retain = true
	opts.Connector = access.ConnectFunc(func(wctx context.Context, _ sshx.Config, _ sshx.Retry) (*sshx.Client, error) {
		cancel2(nil)
		<-wctx.Done()
		return nil, wctx.Err()
	})
	_, err = Up(ctx2, conn, mustLab(t, "tedu-nat"), opts)
	if err == nil || !strings.Contains(err.Error(), "up of lab tedu was interrupted during the ssh step; kept what this run created (--retain): ") ||
		!strings.Contains(err.Error(), `"lvslab down tedu" removes it`) {
		t.Errorf("--retain: %v", err)
	}
}
