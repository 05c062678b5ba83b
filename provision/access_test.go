package provision

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/sshx"
)

func TestAccessRecordsWhereTheNodeAnswered(t *testing.T) {
	conn := testConn(t)
	opts := testOptions(t, &fakeGuests{})
	if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err != nil {
		t.Fatal(err)
	}
	// The lab was switched to DR: web1 answers on its DR address only.
	dr := mustLab(t, "tedu-dr")
	acc, err := OpenAccess(conn, "tedu", AccessOptions{Home: opts.Home, File: dr})
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	if got, want := acc.Addresses("web1"), []string{"192.168.2.100", "192.168.4.100"}; !slices.Equal(got, want) {
		t.Fatalf("web1 is looked for on %v, want %v (recorded first, then the lab file)", got, want)
	}
	var tried []string
	acc.waitFor = func(_ context.Context, _ sshx.Config, r sshx.Retry) (*sshx.Client, string, error) {
		for _, a := range r.Addrs {
			tried = append(tried, a)
			if a == "192.168.4.100:22" {
				return nil, a, nil
			}
			if err := r.Attempt(a, errors.New("connection refused")); err != nil {
				return nil, "", err
			}
		}
		return nil, "", errors.New("no answer")
	}
	if _, err := acc.Dial(context.Background(), "web1"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"192.168.2.100:22", "192.168.4.100:22"}; !slices.Equal(tried, want) {
		t.Errorf("tried %v, want %v", tried, want)
	}
	// What the lab recorded is enough to find it again, without the file.
	again, err := OpenAccess(conn, "tedu", AccessOptions{Home: opts.Home})
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Addresses("web1"); !slices.Equal(got, []string{"192.168.4.100"}) {
		t.Errorf("recorded %v, want the address web1 answered on", got)
	}
	// A node that answers nowhere: each address is tried once, then the error.
	tried = nil
	if _, err := acc.Dial(context.Background(), "web2"); err == nil || len(tried) != 2 {
		t.Errorf("web2: %v after %v", err, tried)
	}
}

func TestAccessDialIsCancelled(t *testing.T) {
	conn := testConn(t)
	opts := testOptions(t, &fakeGuests{})
	if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err != nil {
		t.Fatal(err)
	}
	// A node that accepts TCP and never speaks SSH: only cancelling ends the dial.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	acc, err := OpenAccess(conn, "tedu", AccessOptions{Home: opts.Home})
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	if err := acc.record("web1", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
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
