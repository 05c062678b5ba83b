// Package door is the SSH door of "lvslab class serve": the one way a
// student reaches their own copy of the lab over SSH, and nothing else.
//
// A student logs in with their name and passphrase, or with a public key
// they registered. Then:
//
//   - "ssh alice@classhost -p 2222" (a shell request) shows a menu of
//     alice's nodes; a pick is bridged to Shells.Shell (an interactive
//     shell as the lab's user on that node), and its end brings the menu
//     back. "exec" and "subsystem" requests are answered with a sentence:
//     the door never runs a command or a shell on the host.
//   - "ssh -J alice@classhost:2222 root@web1" (a direct-tcpip channel to
//     web1, port 22) is accepted only when web1 is a node name of alice's
//     own copy. The door does not forward TCP anywhere: it speaks SSH
//     server itself over that channel (the inner session) with its own host
//     key, accepts the inner login without asking again (the outer
//     connection authenticated alice and the channel is bound to her node)
//     and serves the inner session's shell (and exec) on alice's web1.
//
// The inner sessions present the door's own host key: the door is the SSH
// server the student talks to in both hops, and one pinned key line is all a
// student's known_hosts needs (see ClientConfig).
//
// Guards: failed logins are rate-limited per name and per address; the
// numbers of pending handshakes (per address and in all), connections per
// student, channels per connection, open shells and pending Shells calls per
// student are bounded; handshakes and idle connections time out; every call
// into Auth or Shells runs on its own goroutine under a timeout, so a hung
// copy stalls nobody but its own student's request; names and messages are
// stripped of control characters before they are printed. Disconnect
// closes a student's connections (a teacher's revoke or reset).
//
// What the door does not do: file transfer (sftp/scp subsystems are
// refused, on the door and on the nodes), forwarding of any kind beyond the
// jump to a node's port 22, and exec on the door itself.
package door

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/lvslab/lvslab/provision/class/tty"
	"github.com/lvslab/lvslab/provision/sshx"
	"golang.org/x/crypto/ssh"
)

// Auth checks a student's credentials. Both methods may be called
// concurrently.
type Auth interface {
	CheckPassword(student, passphrase string) bool
	CheckKey(student string, key ssh.PublicKey) bool // a key the student registered
}

// Shells reaches the nodes of a student's copy. Methods are called
// concurrently, each under a timeout (Config.CallTimeout); an
// implementation should honour ctx, but one that does not stalls only the
// student's own request.
type Shells interface {
	Nodes(ctx context.Context, student string) ([]string, error)                // node names of the student's copy
	Shell(ctx context.Context, student, node string, t Terminal) (Shell, error) // interactive PTY shell as the lab user
}

// Terminal is the pseudo-terminal a shell is opened on.
type Terminal = tty.Terminal

// Shell is an interactive shell on a node.
type Shell = tty.Shell

// Execer may be implemented by a Shells as well: then "ssh -J ... root@web1
// CMD" runs CMD on the node without a pseudo-terminal, with its output and
// exit status as the node gives them. Without it, CMD is typed into a shell
// of the node ("CMD; exit"), so the output carries the shell's echo and the
// exit status is 0.
type Execer interface {
	Exec(ctx context.Context, student, node, command string, stdin io.Reader, stdout, stderr io.Writer) (exitStatus int, err error)
}

// Config is the door's settings. Zero values take the defaults written by
// each field.
type Config struct {
	// HostKeyPath is the door's ed25519 host key, kept with the class:
	// generated (mode 0600) on first use, reused after. Required.
	HostKeyPath string
	// Logger gets one line per login, refusal and node session. Secrets
	// are never logged. Default: discard.
	Logger *slog.Logger

	// HandshakeTimeout bounds the SSH handshake and login (15 s).
	HandshakeTimeout time.Duration
	// IdleTimeout closes a connection with no traffic either way (30 min).
	IdleTimeout time.Duration
	// CallTimeout bounds each call of Auth and Shells: listing the nodes,
	// opening a shell, checking a passphrase (20 s).
	CallTimeout time.Duration

	// MaxHandshakes bounds the connections not yet logged in, in all
	// (128) and from one address (MaxHandshakesPerAddr, 8).
	MaxHandshakes        int
	MaxHandshakesPerAddr int
	// MaxConnsPerStudent bounds a student's logged-in connections (4).
	MaxConnsPerStudent int
	// MaxChannelsPerConn bounds the open channels (sessions and jumps) of
	// one connection, and the sessions of one inner (jump) connection (8).
	MaxChannelsPerConn int
	// MaxShellsPerStudent bounds a student's open node shells (12).
	MaxShellsPerStudent int
	// MaxCallsPerStudent bounds a student's pending Shells calls,
	// including calls that outlived their timeout and have not returned
	// yet (6).
	MaxCallsPerStudent int

	// Logins rate-limits failed logins.
	Logins LoginLimits
}

// LoginLimits rate-limits failed passphrase logins. A name that fails
// PerName times within Window is locked for Lockout (doubling at each
// further failure, up to MaxLockout): no passphrase is checked for it,
// while the student's registered key still works. An address that fails
// PerAddr times is locked the same way, for every login method. The
// per-address limit is higher because a classroom may reach the door from
// one address. Each failure also answers after FailDelay.
type LoginLimits struct {
	PerName    int           // 5
	PerAddr    int           // 30
	Window     time.Duration // 15 min
	Lockout    time.Duration // 1 min
	MaxLockout time.Duration // 15 min
	FailDelay  time.Duration // 500 ms
}

func (c *Config) defaults() {
	setDur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	setInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	setDur(&c.HandshakeTimeout, 15*time.Second)
	setDur(&c.IdleTimeout, 30*time.Minute)
	setDur(&c.CallTimeout, 20*time.Second)
	setInt(&c.MaxHandshakes, 128)
	setInt(&c.MaxHandshakesPerAddr, 8)
	setInt(&c.MaxConnsPerStudent, 4)
	setInt(&c.MaxChannelsPerConn, 8)
	setInt(&c.MaxShellsPerStudent, 12)
	setInt(&c.MaxCallsPerStudent, 6)
	l := &c.Logins
	setInt(&l.PerName, 5)
	setInt(&l.PerAddr, 30)
	setDur(&l.Window, 15*time.Minute)
	setDur(&l.Lockout, time.Minute)
	setDur(&l.MaxLockout, 15*time.Minute)
	setDur(&l.FailDelay, 500*time.Millisecond)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Door is the SSH door of a class. Serve it on one or more listeners.
type Door struct {
	cfg    Config
	auth   Auth
	shells Shells
	signer ssh.Signer
	log    *slog.Logger

	names *limiter // failed passphrases per student name
	addrs *limiter // failed logins per client address

	mu         sync.Mutex
	handshakes map[string]int // pending handshakes per address
	pending    int            // pending handshakes in all
	students   map[string]*usage
	conns      map[string]map[ssh.Conn]struct{} // logged-in connections per student
}

// usage is what one student holds now.
type usage struct {
	conns, shells, calls int
}

// New prepares a door: it loads (or generates) the host key.
func New(cfg Config, auth Auth, shells Shells) (*Door, error) {
	if auth == nil || shells == nil {
		return nil, errors.New("door: Auth and Shells are required")
	}
	if cfg.HostKeyPath == "" {
		return nil, errors.New("door: no host key path")
	}
	cfg.defaults()
	signer, err := sshx.EnsurePrivateKey(cfg.HostKeyPath)
	if err != nil {
		return nil, err
	}
	l := cfg.Logins
	return &Door{
		cfg: cfg, auth: auth, shells: shells, signer: signer, log: cfg.Logger,
		names:      newLimiter(l.PerName, l.Window, l.Lockout, l.MaxLockout),
		addrs:      newLimiter(l.PerAddr, l.Window, l.Lockout, l.MaxLockout),
		handshakes: map[string]int{},
		students:   map[string]*usage{},
		conns:      map[string]map[ssh.Conn]struct{}{},
	}, nil
}

// Disconnect closes every connection of student (a teacher revoking their
// access, or resetting their copy) and returns how many it closed. Their
// next login is checked again.
func (d *Door) Disconnect(student string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for sc := range d.conns[student] {
		sc.Close()
		n++
	}
	return n
}

func (d *Door) register(student string, sc ssh.Conn, open bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.conns[student]
	if open {
		if m == nil {
			m = map[ssh.Conn]struct{}{}
			d.conns[student] = m
		}
		m[sc] = struct{}{}
		return
	}
	delete(m, sc)
	if len(m) == 0 {
		delete(d.conns, student)
	}
}

// HostKey is the door's public host key, for the students' known_hosts.
func (d *Door) HostKey() ssh.PublicKey { return d.signer.PublicKey() }

// Serve accepts connections on ln until ctx ends; then it closes ln and
// every connection it accepted and returns nil once their handlers are
// done. Any other accept failure is returned. Serve may run on several
// listeners at once; each ends with its own ctx.
func (d *Door) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		live = map[net.Conn]struct{}{}
	)
	go func() {
		<-ctx.Done()
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for nc := range live {
			nc.Close()
		}
	}()
	defer wg.Wait()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				// out of file descriptors or a passing failure: wait, as
				// net/http does, rather than spin or stop the door
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return nil
				}
				continue
			}
			return fmt.Errorf("door: accept: %w", err)
		}
		backoff = 0
		mu.Lock()
		live[nc] = struct{}{}
		if ctx.Err() != nil {
			nc.Close() // accepted as the door closed, after the sweep
		}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.serveConn(ctx, nc)
			mu.Lock()
			delete(live, nc)
			mu.Unlock()
		}()
	}
}

// serveConn runs one client connection: handshake and login, then its
// channels until it closes.
func (d *Door) serveConn(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	addr := addrKey(nc.RemoteAddr())
	if !d.beginHandshake(addr) {
		d.log.Warn("door: too many pending handshakes", "addr", addr)
		return
	}
	ic := newIdleConn(nc, d.cfg.HandshakeTimeout)
	sc, chans, reqs, err := ssh.NewServerConn(ic, d.serverConfig(addr))
	d.endHandshake(addr)
	if err != nil {
		d.log.Info("door: login failed", "addr", addr, "err", clean(err.Error(), 200))
		return
	}
	defer sc.Close()
	ic.startIdle(d.cfg.IdleTimeout)
	student := sc.Permissions.Extensions[extStudent]
	if sc.Permissions.Extensions[extMethod] == "password" {
		d.names.reset(student)
	}
	// Global requests: tcpip-forward (remote forwarding) and any other
	// are refused.
	go ssh.DiscardRequests(reqs)

	if !d.takeConn(student) {
		d.log.Warn("door: too many connections", "student", student, "addr", addr)
		msg := fmt.Sprintf("too many connections for %s (at most %d at once); close one and try again", student, d.cfg.MaxConnsPerStudent)
		// the refusal rides on the first channel; a connection that opens
		// none is not kept either
		time.AfterFunc(d.cfg.HandshakeTimeout, func() { sc.Close() })
		for nch := range chans {
			nch.Reject(ssh.ResourceShortage, msg)
			break
		}
		return
	}
	defer d.dropConn(student)
	d.register(student, sc, true)
	defer d.register(student, sc, false)
	d.log.Info("door: login", "student", student, "addr", addr, "method", sc.Permissions.Extensions[extMethod])

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &conn{d: d, ctx: cctx, student: student, addr: addr, slots: newSlots(d.cfg.MaxChannelsPerConn)}
	for nch := range chans {
		c.dispatch(nch)
	}
}

const (
	extStudent = "lvslab-student"
	extMethod  = "lvslab-method"
)

var errDenied = errors.New("login refused")

// serverConfig is the outer SSH server: login by passphrase or registered
// key, both behind the rate limits.
func (d *Door) serverConfig(addr string) *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		MaxAuthTries:  6,
		ServerVersion: "SSH-2.0-lvslab-door",
		PasswordCallback: func(cm ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			return d.checkPassword(cm.User(), addr, string(pw))
		},
		PublicKeyCallback: func(cm ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			return d.checkKey(cm.User(), addr, key)
		},
	}
	cfg.AddHostKey(d.signer)
	return cfg
}

func (d *Door) checkPassword(name, addr, pw string) (*ssh.Permissions, error) {
	if wait := d.addrs.begin(addr); wait > 0 {
		return nil, d.lockedError(wait)
	}
	if !validName(name) {
		d.failed(name, addr, "password")
		return nil, errDenied
	}
	if wait := d.names.begin(name); wait > 0 {
		d.addrs.undo(addr)
		return nil, d.lockedError(wait)
	}
	ok, _ := call(d, context.Background(), "", func(context.Context) (bool, error) {
		return d.auth.CheckPassword(name, pw), nil
	}, nil)
	if !ok {
		d.failed(name, addr, "password")
		return nil, errDenied
	}
	d.addrs.undo(addr)
	d.names.undo(name) // and names.reset once the handshake is done
	return &ssh.Permissions{Extensions: map[string]string{extStudent: name, extMethod: "password"}}, nil
}

func (d *Door) checkKey(name, addr string, key ssh.PublicKey) (*ssh.Permissions, error) {
	// A key cannot be guessed: only a locked address stops it, and an
	// offered key that is not registered is no failure (clients offer
	// every key they hold).
	if wait := d.addrs.blocked(addr); wait > 0 {
		return nil, d.lockedError(wait)
	}
	if !validName(name) {
		return nil, errDenied
	}
	ok, _ := call(d, context.Background(), "", func(context.Context) (bool, error) {
		return d.auth.CheckKey(name, key), nil
	}, nil)
	if !ok {
		return nil, errDenied
	}
	return &ssh.Permissions{Extensions: map[string]string{extStudent: name, extMethod: "publickey"}}, nil
}

func (d *Door) failed(name, addr, method string) {
	d.log.Warn("door: wrong credentials", "student", clean(name, 64), "addr", addr, "method", method)
	time.Sleep(d.cfg.Logins.FailDelay)
}

func (d *Door) lockedError(wait time.Duration) error {
	return &ssh.BannerError{
		Err:     errDenied,
		Message: fmt.Sprintf("Too many failed logins: try again in %s.\n", wait.Round(time.Second)),
	}
}

func (d *Door) beginHandshake(addr string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pending >= d.cfg.MaxHandshakes || d.handshakes[addr] >= d.cfg.MaxHandshakesPerAddr {
		return false
	}
	d.pending++
	d.handshakes[addr]++
	return true
}

func (d *Door) endHandshake(addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending--
	if d.handshakes[addr]--; d.handshakes[addr] <= 0 {
		delete(d.handshakes, addr)
	}
}

// use changes one of a student's counters by delta within limit; it
// reports whether it did.
func (d *Door) use(student string, field func(*usage) *int, delta, limit int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.students[student]
	if u == nil {
		u = &usage{}
		d.students[student] = u
	}
	n := field(u)
	if delta > 0 && *n+delta > limit {
		return false
	}
	*n += delta
	if *u == (usage{}) {
		delete(d.students, student)
	}
	return true
}

func connsOf(u *usage) *int  { return &u.conns }
func shellsOf(u *usage) *int { return &u.shells }
func callsOf(u *usage) *int  { return &u.calls }

func (d *Door) takeConn(s string) bool { return d.use(s, connsOf, 1, d.cfg.MaxConnsPerStudent) }
func (d *Door) dropConn(s string)      { d.use(s, connsOf, -1, 0) }

// errTimeout is a call into Auth or Shells that did not return in time.
var errTimeout = errors.New("timed out")

// errBusy is a student with too many pending calls.
var errBusy = errors.New("too many requests to your lab are pending; try again in a moment")

// call runs fn on its own goroutine with a CallTimeout deadline and returns
// its result, or errTimeout when it is late: a hung implementation stalls
// nobody else. A late result, failed or not, is given to discard (to close
// a shell opened after all, to give back what the caller reserved). With a student, the call counts against the student's
// pending calls until fn really returns.
func call[T any](d *Door, ctx context.Context, student string, fn func(context.Context) (T, error), discard func(T)) (T, error) {
	var zero T
	if student != "" {
		if !d.use(student, callsOf, 1, d.cfg.MaxCallsPerStudent) {
			return zero, errBusy
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn(ctx)
		if student != "" {
			d.use(student, callsOf, -1, 0)
		}
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		cancel()
		return r.v, r.err
	case <-ctx.Done():
		cancel()
		go func() {
			if r := <-done; discard != nil {
				discard(r.v) // also on an error: what the caller holds is given back
			}
		}()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return zero, errTimeout
		}
		return zero, ctx.Err()
	}
}
