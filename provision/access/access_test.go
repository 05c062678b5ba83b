package access

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/sshx"
)

func TestAccessGoesOverTheManagementNetwork(t *testing.T) {
	conn, opts := upLab(t, mustLab(t, "tedu-nat"))
	// The lab was switched to DR: web1's lab address moved, its management
	// address did not, and only that one is ever dialled.
	acc, err := Open(conn, "tedu", Options{Paths: opts.Paths, File: mustLab(t, "tedu-dr")})
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	if got := acc.Addresses("web1"); !slices.Equal(got, []string{"10.250.0.12"}) {
		t.Fatalf("web1 is reached on %v, want its management address only", got)
	}
	var dialled []string
	acc.connector = ConnectFunc(func(_ context.Context, cfg sshx.Config, r sshx.Retry) (*sshx.Client, error) {
		dialled = append(dialled, cfg.User+"@"+cfg.Addr+" as "+cfg.HostKeyAlias)
		return nil, r.Attempt(cfg.Addr, errors.New("connection refused"))
	})
	if _, err := acc.Dial(context.Background(), "web1"); err == nil {
		t.Fatal("a refused dial passed")
	}
	if want := []string{"root@10.250.0.12:22 as tedu-web1"}; !slices.Equal(dialled, want) {
		t.Errorf("dialled %v, want %v (one try, pinned under the domain name)", dialled, want)
	}
	// A lab that is not up says so.
	none, err := Open(conn, "other", Options{Paths: opts.Paths})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := none.Dial(context.Background(), "web1"); err == nil || !strings.Contains(err.Error(), "is it up?") {
		t.Errorf("dial into a lab that is not up: %v", err)
	}
}

func TestAccessDialIsCancelled(t *testing.T) {
	conn, opts := upLab(t, mustLab(t, "tedu-nat"))
	// A node whose port is open and never speaks SSH (the kernel completes
	// the TCP handshake; nothing accepts): only cancelling ends the dial.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc, err := Open(conn, "tedu", Options{Paths: opts.Paths})
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	d := acc.tags["web1"]
	d.Tag.Mgmt = ln.Addr().String()
	acc.tags["web1"] = d
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err = acc.Dial(ctx, "web1")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("dial ended with %v, want the cancellation", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the cancelled dial took %s (the dial timeout is 10 s)", took)
	}
}
