package sshx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

var errClosed = errors.New("ssh client closed")

// Client is one node's SSH connection, reused by every command (one session
// each) and by a lazily opened SFTP subsystem. It is safe for concurrent use.
type Client struct {
	mu     sync.Mutex
	cfg    Config
	conn   *ssh.Client  // nil once dropped: the next call redials
	files  *sftp.Client // opened on conn at first use
	closed bool
}

// Dial connects and logs in to the node.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	conn, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, conn: conn}, nil
}

// Addr is the address the client currently connects to.
func (c *Client) Addr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.Addr
}

// Close ends the connection; the client cannot be used afterwards.
func (c *Client) Close() error {
	c.mu.Lock()
	conn, files := c.conn, c.files
	c.conn, c.files, c.closed = nil, nil, true
	c.mu.Unlock()
	if conn != nil {
		closeConnection(conn, files)
	}
	return nil
}

// connection returns the live connection, dialing if the last one was
// dropped.
func (c *Client) connection(ctx context.Context) (*ssh.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	if c.conn == nil {
		conn, err := dial(ctx, c.cfg)
		if err != nil {
			return nil, err
		}
		c.conn = conn
	}
	return c.conn, nil
}

// drop forgets conn so that the next call redials, and closes it in the
// background: a hung connection must not block the caller.
func (c *Client) drop(conn *ssh.Client) {
	c.mu.Lock()
	if c.conn != conn {
		c.mu.Unlock()
		return
	}
	files := c.files
	c.conn, c.files = nil, nil
	c.mu.Unlock()
	go closeConnection(conn, files)
}

func closeConnection(conn *ssh.Client, files *sftp.Client) {
	// Closing the socket first unblocks anything the SFTP client waits on.
	conn.Close()
	if files != nil {
		files.Close()
	}
}

// dial opens and authenticates one connection within DialTimeout.
func dial(ctx context.Context, cfg Config) (*ssh.Client, error) {
	fail := func(err error) error { return fmt.Errorf("%s: ssh %s: %w", cfg.Node, cfg.describe(), err) }
	auth, _ := cfg.authMethods()
	if len(auth) == 0 {
		return nil, fail(errors.New("neither a key nor a password is configured"))
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()

	dialTCP := cfg.Dialer
	if dialTCP == nil {
		var dialer net.Dialer
		dialTCP = dialer.DialContext
	}
	tcp, err := dialTCP(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fail(err)
	}
	conn, err := handshake(ctx, tcp, cfg.Addr, &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              auth,
		HostKeyCallback:   hostKeyCallback(cfg),
		HostKeyAlgorithms: pinnedAlgorithms(cfg),
	})
	if err != nil {
		return nil, fail(err)
	}
	return conn, nil
}

// handshake logs in over tcp within ctx; tcp is closed when it fails.
func handshake(ctx context.Context, tcp net.Conn, addr string, config *ssh.ClientConfig) (*ssh.Client, error) {
	// The handshake takes no context: a socket deadline bounds it and
	// cancellation expires that deadline at once. A channel through a jump
	// host has no deadlines: closing it unblocks the handshake instead.
	deadline, _ := ctx.Deadline()
	tcp.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() {
		if tcp.SetDeadline(time.Unix(1, 0)) != nil {
			tcp.Close()
		}
	})
	sshConn, chans, reqs, err := ssh.NewClientConn(tcp, addr, config)
	if !stop() && err == nil {
		sshConn.Close()
		err = ctx.Err()
	}
	if err != nil {
		tcp.Close()
		return nil, markTimeout(ctx, err)
	}
	tcp.SetDeadline(time.Time{})
	return ssh.NewClient(sshConn, chans, reqs), nil
}

// markTimeout makes a handshake cut short by ctx (directly or by the socket
// deadline taken from it) match ctx's error, so callers can tell a timeout.
func markTimeout(ctx context.Context, err error) error {
	cause := ctx.Err()
	if cause == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		cause = context.DeadlineExceeded
	}
	if cause == nil || errors.Is(err, cause) {
		return err
	}
	return fmt.Errorf("%w: %w", err, cause)
}

// boundContext applies limit to ctx unless the caller already set a
// deadline, and reports the time the call is allowed.
func boundContext(ctx context.Context, limit time.Duration) (context.Context, time.Duration, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		ctx, cancel := context.WithCancel(ctx)
		return ctx, time.Until(deadline), cancel
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	return ctx, limit, cancel
}

// bounded runs fn, which cannot be cancelled, until ctx ends; then it drops
// conn, the only way to unblock fn, and waits for fn to give up.
func (c *Client) bounded(ctx context.Context, conn *ssh.Client, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		c.drop(conn)
		conn.Close()
		<-done
		return ctx.Err()
	}
}

// ServerVersion is the node's SSH banner ("SSH-2.0-OpenSSH_9.2p1 ..."), or
// "" while the client is not connected.
func (c *Client) ServerVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return ""
	}
	return string(c.conn.ServerVersion())
}
