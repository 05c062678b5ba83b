package sshx

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestKeyLogin(t *testing.T) {
	srv, c := connected(t)
	if out := mustRun(t, c, "echo hello"); out != "hello\n" {
		t.Fatalf("stdout = %q", out)
	}
	if c.Addr() != srv.Addr {
		t.Fatalf("Addr() = %q, want %q", c.Addr(), srv.Addr)
	}
}

func TestPasswordLoginNeverShowsPassword(t *testing.T) {
	const password = "s3cret-Passw0rd"
	lab := newLab(t)
	srv := startServer(t, serverOptions{password: password})

	cfg := lab.config(srv.Addr)
	cfg.Signer, cfg.Password = nil, password
	c := lab.dial(t, cfg)
	mustRun(t, c, "true")

	// Key offered first and refused, then a wrong password.
	cfg.Signer, cfg.Password = lab.signer, "wrong-"+password
	var attempts []string
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := WaitReady(ctx, cfg, Retry{Poll: 50 * time.Millisecond, Attempt: func(_ string, err error) error {
		attempts = append(attempts, err.Error())
		return nil
	}})
	if err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	if len(attempts) == 0 {
		t.Fatal("attempt was never called")
	}
	for _, msg := range append(attempts, err.Error()) {
		if strings.Contains(msg, password) {
			t.Fatalf("error shows the password: %s", msg)
		}
	}
	for _, want := range []string{"web1", "root@" + srv.Addr, "publickey, password", "gave up", "unable to authenticate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("final error %q lacks %q", err, want)
		}
	}
}

func TestKeyboardInteractivePasswordLogin(t *testing.T) {
	lab := newLab(t)
	srv := startServer(t, serverOptions{password: "pw", pam: true})
	cfg := lab.config(srv.Addr)
	cfg.Signer, cfg.Password = nil, "pw"
	mustRun(t, lab.dial(t, cfg), "true")
}

func TestCommandErrorCarriesNodeCommandExitAndOutput(t *testing.T) {
	_, c := connected(t)

	const cmd = "echo partial; echo 'Job for apache2.service failed' >&2; exit 3"
	out, err := c.Run(testContext(t), cmd)
	var cerr *CommandError
	if !errors.As(err, &cerr) {
		t.Fatalf("err = %v (%T), want *CommandError", err, err)
	}
	if cerr.Node != "web1" || cerr.Cmd != cmd || cerr.ExitStatus != 3 ||
		cerr.Stdout != "partial\n" || cerr.Stderr != "Job for apache2.service failed\n" {
		t.Fatalf("CommandError = %+v", cerr)
	}
	if out != "partial\n" {
		t.Errorf("stdout = %q", out)
	}
	want := `web1: "` + cmd + `" exited 3: `
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "apache2.service failed") {
		t.Errorf("message = %q, want prefix %q and the output", err, want)
	}
}

func TestCommandErrorTrimsLongOutput(t *testing.T) {
	_, c := connected(t)
	_, err := c.Run(testContext(t), "seq 1 100000; exit 1")
	if err == nil {
		t.Fatal("no error")
	}
	if len(err.Error()) > maxShownCmd+maxShownOutput+100 {
		t.Fatalf("message is %d bytes long", len(err.Error()))
	}
	if !strings.HasSuffix(err.Error(), "100000") {
		t.Errorf("message should keep the end of the output: ...%s", err.Error()[len(err.Error())-40:])
	}
}

func TestRunSecretShowsRedactedCommand(t *testing.T) {
	_, c := connected(t)
	_, err := c.RunSecret(testContext(t), "echo token=hunter2 >/dev/null; exit 1", "set token")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), `"set token" exited 1`) {
		t.Fatalf("err = %v", err)
	}
}

func TestCommandTimesOut(t *testing.T) {
	lab := newLab(t)
	cfg := lab.config(lab.server(t).Addr)
	cfg.Timeout = 200 * time.Millisecond
	c := lab.dial(t, cfg)

	start := time.Now()
	_, err := c.Run(context.Background(), "echo started; sleep 10")
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("Run returned after %s", elapsed)
	}
	var cerr *CommandError
	if !errors.As(err, &cerr) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timed-out CommandError", err)
	}
	if !strings.Contains(err.Error(), `web1: "echo started; sleep 10" timed out after 0.2s`) {
		t.Errorf("message = %q", err)
	}
	// The connection still serves the next command.
	if out := mustRun(t, c, "echo next"); out != "next\n" {
		t.Errorf("stdout = %q", out)
	}
}

func TestConnectionIsReused(t *testing.T) {
	srv, c := connected(t)
	ctx := testContext(t)
	file := t.TempDir() + "/f"
	for i := range 10 {
		mustRun(t, c, "true")
		if err := c.WriteFile(ctx, file, []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadFile(ctx, file); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Conns.Load(); n != 1 {
		t.Errorf("%d TCP connections for 30 operations, want 1", n)
	}
	if n := srv.SFTPs.Load(); n != 1 {
		t.Errorf("SFTP subsystem opened %d times, want 1", n)
	}
}

func TestRedialsAfterServerDropsConnection(t *testing.T) {
	srv, c := connected(t)
	ctx := testContext(t)
	file := t.TempDir() + "/f"
	if err := c.WriteFile(ctx, file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	srv.DropConnections()
	if out := mustRun(t, c, "echo back"); out != "back\n" {
		t.Fatalf("stdout = %q", out)
	}
	srv.DropConnections()
	if data, ok, err := c.ReadFile(ctx, file); err != nil || !ok || string(data) != "x" {
		t.Fatalf("ReadFile = %q, %v, %v", data, ok, err)
	}
	if n := srv.Conns.Load(); n != 3 {
		t.Errorf("%d TCP connections, want 3 (one per drop)", n)
	}
}

// frozenClient is a client whose established connection has stopped
// carrying data, like a session whose node was re-addressed.
func frozenClient(t *testing.T) (*Client, *testServer) {
	t.Helper()
	lab := newLab(t)
	srv := lab.server(t)
	proxy := startProxy(t, srv.Addr)
	cfg := lab.config(proxy.Addr)
	cfg.Timeout = 300 * time.Millisecond
	c := lab.dial(t, cfg)
	mustRun(t, c, "true")
	proxy.Freeze()
	return c, srv
}

func TestHungConnectionTimesOutThenRedials(t *testing.T) {
	defer func(old time.Duration) { closeGrace = old }(closeGrace)
	closeGrace = 100 * time.Millisecond
	for name, op := range map[string]func(c *Client) error{
		"Run": func(c *Client) error { _, err := c.Run(context.Background(), "true"); return err },
		"ReadFile": func(c *Client) error {
			_, _, err := c.ReadFile(context.Background(), "/etc/hostname")
			return err
		},
		"WriteFile": func(c *Client) error {
			return c.WriteFile(context.Background(), t.TempDir()+"/f", nil, 0o644)
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, srv := frozenClient(t)
			start := time.Now()
			err := op(c)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a timeout", err)
			}
			if name == "Run" && !strings.Contains(err.Error(), "timed out after 0.3s") {
				t.Errorf("message = %q", err)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Fatalf("took %s on a hung connection", elapsed)
			}
			// The hung connection was given up: the next call redials (here
			// the node directly, past the frozen proxy) and works.
			c.mu.Lock()
			c.cfg.Addr = srv.Addr
			c.mu.Unlock()
			if err := op(c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestWaitReadyRetriesUntilNodeListens(t *testing.T) {
	lab := newLab(t)
	// Reserve a port, then leave it closed until the first attempt failed.
	probe := lab.server(t)
	addr := probe.Addr
	probe.Close()

	started := make(chan *testServer, 1)
	attempts := 0
	c, err := WaitReady(testContext(t), lab.config(addr), Retry{Poll: 20 * time.Millisecond, Attempt: func(string, error) error {
		attempts++
		if attempts == 1 {
			started <- startServer(t, serverOptions{authorized: lab.signer.PublicKey(), addr: addr})
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustRun(t, c, "true")
	if attempts == 0 {
		t.Error("attempt never called")
	}
}

func TestClosedClientRefusesWork(t *testing.T) {
	_, c := connected(t)
	c.Close()
	if _, err := c.Run(testContext(t), "true"); !errors.Is(err, errClosed) {
		t.Fatalf("err = %v", err)
	}
}
