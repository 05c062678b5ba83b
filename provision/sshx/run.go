package sshx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/roles/shell"
)

// A Client is the executor every reader and writer of a node takes.
var _ guest.Executor = (*Client)(nil)

// closeGrace is how long a timed-out session may take to close before the
// whole connection is presumed hung and dropped.
var closeGrace = 2 * time.Second // a variable so that tests can shorten it

// Run runs cmd with sh -c on the node and returns its stdout (also when it
// fails). A failure is a *CommandError.
func (c *Client) Run(ctx context.Context, cmd string) (string, error) {
	return c.run(ctx, cmd, cmd)
}

// RunSecret is Run for a command that holds a secret: errors show redacted
// in place of cmd.
func (c *Client) RunSecret(ctx context.Context, cmd, redacted string) (string, error) {
	return c.run(ctx, cmd, redacted)
}

// run runs cmd and traces it (shown, never a secret) for --debug.
func (c *Client) run(ctx context.Context, cmd, shown string) (string, error) {
	start := time.Now()
	out, err := c.exec(ctx, cmd, shown)
	progress.Trace("ssh "+c.node(), shown, start, out, err)
	return out, err
}

func (c *Client) exec(ctx context.Context, cmd, shown string) (string, error) {
	ctx, limit, cancel := boundContext(ctx, c.cfg.Timeout)
	defer cancel()
	fail := func(err error) *CommandError {
		cerr := &CommandError{Node: c.node(), Cmd: shown, ExitStatus: -1, Err: err}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			cerr.Timeout = limit
		}
		return cerr
	}

	session, conn, err := c.openSession(ctx)
	if err != nil {
		return "", fail(err)
	}
	defer session.Close()
	var out outputs
	session.Stdout = out.writer(&out.stdout)
	session.Stderr = out.writer(&out.stderr)
	if err := session.Start("sh -c " + shell.Quote(cmd)); err != nil {
		c.drop(conn)
		return "", fail(err)
	}

	if err = c.await(ctx, session, conn); err != nil && err == ctx.Err() {
		return "", out.fill(fail(err))
	}

	var exit *ssh.ExitError
	switch {
	case err == nil:
		return out.stdout.String(), nil
	case errors.As(err, &exit):
		cerr := fail(nil)
		cerr.ExitStatus = exit.ExitStatus()
		return out.stdout.String(), out.fill(cerr)
	default:
		// No exit status: the connection broke under the command.
		c.drop(conn)
		return out.stdout.String(), out.fill(fail(err))
	}
}

// await waits for the session's command; when ctx ends first it stops the
// command and returns ctx.Err().
func (c *Client) await(ctx context.Context, session *ssh.Session, conn *ssh.Client) error {
	waited := make(chan error, 1)
	go func() { waited <- session.Wait() }()
	select {
	case err := <-waited:
		return err
	case <-ctx.Done():
		c.stop(session, conn, waited)
		return ctx.Err()
	}
}

// stop ends a command that overran: kill it (servers that do not support
// signals ignore the request), close its session, and drop the connection
// if even that does not complete.
func (c *Client) stop(session *ssh.Session, conn *ssh.Client, waited <-chan error) {
	session.Signal(ssh.SIGKILL)
	session.Close()
	select {
	case <-waited:
	case <-time.After(closeGrace):
		c.drop(conn)
		conn.Close()
		<-waited
	}
}

// openSession opens a session on the shared connection, redialing once if
// the connection turns out to be gone.
func (c *Client) openSession(ctx context.Context) (*ssh.Session, *ssh.Client, error) {
	var lastErr error
	for range 2 {
		conn, err := c.connection(ctx)
		if err != nil {
			return nil, nil, err
		}
		var session *ssh.Session
		err = c.bounded(ctx, conn, func() (err error) {
			session, err = conn.NewSession()
			return err
		})
		if err == nil {
			return session, conn, nil
		}
		if ctx.Err() != nil {
			return nil, nil, err
		}
		c.drop(conn)
		lastErr = err
	}
	return nil, nil, lastErr
}

func (c *Client) node() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.Node
}

// outputs keeps stdout and stderr apart and, for error messages, together
// in arrival order. The session writes them from two goroutines.
type outputs struct {
	mu             sync.Mutex
	stdout, stderr bytes.Buffer
	both           bytes.Buffer
}

func (o *outputs) writer(own *bytes.Buffer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		own.Write(p)
		return o.both.Write(p)
	})
}

func (o *outputs) fill(e *CommandError) *CommandError {
	o.mu.Lock()
	defer o.mu.Unlock()
	e.Stdout, e.Stderr, e.Output = o.stdout.String(), o.stderr.String(), o.both.String()
	return e
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
