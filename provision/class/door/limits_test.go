package door

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/lvslab/lvslab/topology/testkit/cases"
)

func wrongPasswords(n int) ssh.AuthMethod {
	return ssh.RetryableAuthMethod(ssh.PasswordCallback(func() (string, error) { return "guess", nil }), n)
}

// A storm of wrong passphrases for alice locks her name: even the right
// passphrase is then refused (and not even checked), from any address;
// bob, from the storm's own address, and alice's registered key still get
// in.
func TestLoginStormLocksTheName(t *testing.T) {
	cfg := testConfig(t)
	cfg.Logins.PerName, cfg.Logins.PerAddr = 3, 100
	tc := startClass(t, cfg, nil)
	if _, err := tc.dial("alice", "127.0.0.2", wrongPasswords(3)); err == nil {
		t.Fatal("wrong passphrases let alice in")
	}
	checks := tc.auth.checks.Load()
	tc.banners = make(chan string, 10)
	if c, err := tc.dial("alice", "127.0.0.3", ssh.Password("alice-pass")); err == nil {
		c.Close()
		t.Fatal("after a storm of wrong passphrases alice's name is not locked")
	}
	select {
	case b := <-tc.banners:
		if !strings.Contains(b, "Too many failed logins") {
			t.Errorf("banner %q", b)
		}
	default:
		t.Error("a locked login got no banner saying why")
	}
	if n := tc.auth.checks.Load(); n != checks {
		t.Errorf("a locked name's passphrase was checked (%d checks)", n-checks)
	}
	for _, who := range []struct {
		user, from string
		auth       ssh.AuthMethod
	}{
		{"bob", "127.0.0.2", ssh.Password("bob-pass")},
		{"carol", "127.0.0.3", ssh.Password("carol-pass")},
		{"alice", "127.0.0.3", ssh.PublicKeys(tc.keys["alice"])},
	} {
		c, err := tc.dial(who.user, who.from, who.auth)
		if err != nil {
			t.Errorf("%s from %s during alice's lock: %v", who.user, who.from, err)
			continue
		}
		c.Close()
	}
}

// A storm from one address over many names locks that address, for every
// name and method; other addresses are unaffected.
func TestLoginStormLocksTheAddress(t *testing.T) {
	cfg := testConfig(t)
	cfg.Logins.PerName, cfg.Logins.PerAddr = 100, 4
	tc := startClass(t, cfg, nil)
	for i := range 4 {
		if _, err := tc.dial(fmt.Sprintf("user%d", i), "127.0.0.2", wrongPasswords(1)); err == nil {
			t.Fatal("a wrong passphrase got in")
		}
	}
	for _, auth := range []ssh.AuthMethod{ssh.Password("carol-pass"), ssh.PublicKeys(tc.keys["carol"])} {
		if c, err := tc.dial("carol", "127.0.0.2", auth); err == nil {
			c.Close()
			t.Fatal("the storming address is not locked")
		}
	}
	for _, from := range []string{"127.0.0.3", "127.0.0.4"} {
		c, err := tc.dial("carol", from, ssh.Password("carol-pass"))
		if err != nil {
			t.Fatalf("carol from %s, while 127.0.0.2 is locked: %v", from, err)
		}
		c.Close()
	}
}

// Each wrong passphrase is answered late, so one connection's tries are
// slow.
func TestWrongPassphraseIsSlow(t *testing.T) {
	cfg := testConfig(t)
	cfg.Logins.FailDelay = 300 * time.Millisecond
	tc := startClass(t, cfg, nil)
	start := time.Now()
	if _, err := tc.dial("alice", "", wrongPasswords(2)); err == nil {
		t.Fatal("a wrong passphrase got in")
	}
	if took := time.Since(start); took < 600*time.Millisecond {
		t.Errorf("two wrong passphrases answered in %s, want at least 600 ms", took)
	}
}

func TestLimiterLocksDoublesAndForgets(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(3, 10*time.Minute, time.Minute, 4*time.Minute)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if w := l.begin("a"); w != 0 {
			t.Fatalf("attempt %d locked already (%s)", i+1, w)
		}
	}
	if w := l.begin("a"); w != time.Minute {
		t.Fatalf("after 3 failures: locked %s, want 1m", w)
	}
	if l.blocked("b") != 0 || l.begin("b") != 0 {
		t.Fatal("another key is locked")
	}
	for _, want := range []time.Duration{2 * time.Minute, 4 * time.Minute, 4 * time.Minute} {
		now = now.Add(l.blocked("a") + time.Second)
		if w := l.begin("a"); w != 0 {
			t.Fatalf("locked again before a new failure: %s", w)
		}
		if w := l.blocked("a"); w != want {
			t.Errorf("lockout %s, want %s", w, want)
		}
	}
	l.reset("a")
	if l.blocked("a") != 0 {
		t.Error("reset kept the lock")
	}
	// failures older than the window are forgotten
	l.begin("c")
	l.begin("c")
	now = now.Add(11 * time.Minute)
	l.begin("c")
	l.begin("c")
	if w := l.blocked("c"); w != 0 {
		t.Errorf("old failures counted: locked %s", w)
	}
	// an attempt that succeeds is no failure
	for range 10 {
		l.begin("d")
		l.undo("d")
	}
	if w := l.blocked("d"); w != 0 {
		t.Errorf("successes locked the key for %s", w)
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	l := newLimiter(3, time.Minute, time.Minute, time.Minute)
	for i := range maxLimiterEntries + 100 {
		l.begin(fmt.Sprint("name", i))
	}
	if n := len(l.m); n > maxLimiterEntries {
		t.Errorf("%d entries, want at most %d", n, maxLimiterEntries)
	}
}

// retry tries f until it succeeds or 3 s pass: the door gives places back
// when it notices that a channel or connection closed.
func retry(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestChannelsPerConnectionAreBounded(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxChannelsPerConn = 3
	tc := startClass(t, cfg, nil)
	c := tc.login(t, "alice")
	var open []*ssh.Session
	for i := range 3 {
		s, err := c.NewSession()
		if err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
		open = append(open, s)
	}
	_, err := c.NewSession()
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != ssh.ResourceShortage {
		t.Fatalf("a 4th session: %v, want resource shortage", err)
	}
	if nc, err := c.Dial("tcp", "web1:22"); err == nil {
		nc.Close()
		t.Fatal("a jump beyond the bound was accepted")
	}
	// the bound applies to the sessions inside one jump as well
	open[0].Close()
	var ic *ssh.Client
	retry(t, "a jump after a session closed", func() (err error) {
		ic, err = tc.jump(c, "web1:22")
		return err
	})
	defer ic.Close()
	for i := range 3 {
		if _, err := ic.NewSession(); err != nil {
			t.Fatalf("inner session %d: %v", i+1, err)
		}
	}
	if _, err := ic.NewSession(); err == nil {
		t.Error("a 4th inner session was accepted")
	}
}

func TestConnectionsPerStudentAreBounded(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxConnsPerStudent = 2
	cfg.HandshakeTimeout = 500 * time.Millisecond
	tc := startClass(t, cfg, nil)
	a1, a2 := tc.login(t, "alice"), tc.login(t, "alice")
	for _, c := range []*ssh.Client{a1, a2} {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	a3 := tc.login(t, "alice")
	_, err := a3.NewSession()
	if err == nil || !strings.Contains(err.Error(), "too many connections") {
		t.Fatalf("alice's 3rd connection: %v, want too many connections", err)
	}
	a4 := tc.login(t, "alice") // opens nothing: closed all the same
	waited := make(chan error, 1)
	go func() { waited <- a4.Wait() }()
	select {
	case <-waited:
	case <-time.After(cfg.HandshakeTimeout + 3*time.Second):
		t.Error("a connection beyond the bound that opens no channel is kept")
	}
	b := tc.login(t, "bob")
	if s, err := b.NewSession(); err != nil {
		t.Fatalf("bob while alice is at her bound: %v", err)
	} else {
		s.Close()
	}
	a1.Close()
	retry(t, "alice after closing a connection", func() error {
		c, err := tc.dial("alice", "", ssh.PublicKeys(tc.keys["alice"]))
		if err != nil {
			return err
		}
		defer c.Close()
		s, err := c.NewSession()
		if err == nil {
			s.Close()
		}
		return err
	})
}

func TestShellsPerStudentAreBounded(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxShellsPerStudent = 2
	tc := startClass(t, cfg, nil)
	c := tc.login(t, "alice")
	for range 2 {
		ic, err := tc.jump(c, "web1:22")
		if err != nil {
			t.Fatal(err)
		}
		term := openTerminal(t, ic, true)
		term.out.expect(t, "# ")
	}
	term := openTerminal(t, c, true)
	term.out.expect(t, "q to quit: ")
	term.answer(t, "2", "lvs1 cannot be reached now: you have 2 shells open already")
}

// A client that connects and says nothing, or trickles bytes, is cut off at
// the handshake timeout.
func TestHandshakeTimesOut(t *testing.T) {
	cfg := testConfig(t)
	cfg.HandshakeTimeout = 300 * time.Millisecond
	tc := startClass(t, cfg, nil)
	for _, trickle := range []bool{false, true} {
		nc, err := net.Dial("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		closed := make(chan struct{})
		go func() {
			io.Copy(io.Discard, nc)
			close(closed)
		}()
		if trickle {
			io.WriteString(nc, "SSH-2.0-slow\r\n")
		}
		deadline := time.After(3 * time.Second)
	wait:
		for {
			select {
			case <-closed:
				break wait
			case <-deadline:
				t.Fatalf("a silent (trickle %v) connection was still open after 3 s", trickle)
			case <-time.After(100 * time.Millisecond):
				if trickle {
					nc.Write([]byte{0})
				}
			}
		}
	}
}

// Connections not logged in are bounded per address: one address cannot
// hold the door's handshakes, others still get in.
func TestPendingHandshakesPerAddressAreBounded(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxHandshakesPerAddr = 2
	tc := startClass(t, cfg, nil)
	dialFrom := func(from string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		nc, err := d.Dial("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	version := func(nc net.Conn) string {
		nc.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 64)
		n, _ := nc.Read(buf)
		return string(buf[:n])
	}
	for range 2 {
		if v := version(dialFrom("127.0.0.2")); !strings.HasPrefix(v, "SSH-2.0-") {
			t.Fatalf("a pending connection got %q", v)
		}
	}
	if v := version(dialFrom("127.0.0.2")); v != "" {
		t.Errorf("a 3rd pending connection from one address got %q, want it closed", v)
	}
	c, err := tc.dial("bob", "127.0.0.3", ssh.Password("bob-pass"))
	if err != nil {
		t.Fatalf("bob from another address: %v", err)
	}
	c.Close()
}

// A connection with no traffic is closed after the idle timeout; traffic
// keeps it open.
func TestIdleConnectionIsClosed(t *testing.T) {
	cfg := testConfig(t)
	cfg.IdleTimeout = 400 * time.Millisecond
	tc := startClass(t, cfg, nil)
	c := tc.login(t, "alice")
	for range 10 {
		if _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil {
			t.Fatalf("an active connection was closed: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitClosed(t, c, 3*time.Second, "an idle connection was still open after 3 s")
}

// bob's copy hangs (its Shells calls never return, whatever the context
// says): bob gets a sentence after the call timeout, his pending calls are
// bounded, and alice is served at once meanwhile.
func TestHungCopyBlocksNobodyElse(t *testing.T) {
	cfg := testConfig(t)
	cfg.CallTimeout = 2 * time.Second // alice must be served well before it
	cfg.MaxCallsPerStudent = 2
	tc := startClass(t, cfg, nil)
	tc.shells.hang["bob"] = true
	b := tc.login(t, "bob")
	bobTerm := openTerminal(t, b, true)
	start := time.Now()
	a := tc.login(t, "alice")
	aliceTerm := openTerminal(t, a, true)
	aliceTerm.out.expect(t, "q to quit: ")
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("alice's menu took %s while bob's copy hung", took)
	}
	ic, err := tc.jump(a, "web1:22")
	if err != nil {
		t.Fatalf("alice's jump while bob's copy hangs: %v", err)
	}
	ic.Close()
	bobTerm.out.expect(t, "cannot be listed now: timed out")
	if nc, err := b.Dial("tcp", "web1:22"); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("bob's jump to his hung copy: %v", err)
		if nc != nil {
			nc.Close()
		}
	}
	// two calls are pending now: the next is refused at once
	start = time.Now()
	if nc, err := b.Dial("tcp", "web1:22"); err == nil || !strings.Contains(err.Error(), "too many requests") {
		t.Errorf("bob's 3rd pending call: %v", err)
		if nc != nil {
			nc.Close()
		}
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("a call beyond the bound waited %s", took)
	}
	aliceTerm.typeLine(t, "3")
	aliceTerm.typeLine(t, "hostname")
	aliceTerm.out.expect(t, "\r\nweb1\r\n")
}

// Node names and messages that come from a guest reach the menu without
// control characters: no escape sequence, bell or bidi override.
func TestMenuStripsControlCharacters(t *testing.T) {
	shells := newFakeShells()
	shells.nodes["alice"] = []string{"web1\x1b]0;owned\x07", "db\x1b[2J\u202e1", "evil"}
	shells.fail = map[string]error{"evil": errors.New("guest says \x1b[31mred\x1b[0m\x07\r\nfake prompt")}
	tc := startClass(t, testConfig(t), shells)
	c := tc.login(t, "alice")
	term := openTerminal(t, c, true)
	term.out.expect(t, "q to quit: ")
	term.answer(t, "3", "cannot be reached now")
	term.out.expect(t, "q to quit: ")
	term.typeLine(t, "\x1b[Aq")
	term.wait(t)
	out := term.out.String()
	for _, bad := range []string{"\x1b", "\x07", "\u202e", "\rfake"} {
		if strings.Contains(out, bad) {
			t.Errorf("the menu printed %q:\n%q", bad, out)
		}
	}
	if !strings.Contains(out, "1) web1]0;owned") || !strings.Contains(out, "guest says [31mred[0m") {
		t.Errorf("names lost more than their control characters:\n%q", out)
	}
}

func TestClean(t *testing.T) {
	cases.Strings(t, "clean", func(in string) string { return clean(in, 64) }, map[string]string{
		"web1":                  "web1",
		"a\x1b[31mb":            "a[31mb",
		"x\u202ey\u200bz":       "xyz",
		"\xff\xfe":              "\uFFFD",
		"line\r\nbreak\u2028":   "linebreak",
		strings.Repeat("a", 70): strings.Repeat("a", 64) + "…",
	})
}

// hangAuth never answers for bob's passphrase.
type hangAuth struct {
	*fakeAuth
	release chan struct{}
}

func (a hangAuth) CheckPassword(student, pw string) bool {
	if student == "bob" {
		<-a.release
	}
	return a.fakeAuth.CheckPassword(student, pw)
}

// A passphrase check that hangs fails bob's login after the call timeout;
// alice logs in meanwhile.
func TestHungAuthBlocksNobodyElse(t *testing.T) {
	cfg := testConfig(t)
	cfg.CallTimeout = 2 * time.Second // alice must be in well before it
	release := make(chan struct{})
	defer close(release)
	tc := startClass(t, cfg, nil, func(a *fakeAuth) Auth { return hangAuth{a, release} })
	bob := make(chan error, 1)
	start := time.Now()
	go func() {
		c, err := tc.dial("bob", "127.0.0.2", ssh.Password("bob-pass"))
		if err == nil {
			c.Close()
		}
		bob <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c, err := tc.dial("alice", "127.0.0.3", ssh.Password("alice-pass"))
	if err != nil {
		t.Fatalf("alice while bob's check hangs: %v", err)
	}
	c.Close()
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("alice's login took %s while bob's check hung", took)
	}
	select {
	case err := <-bob:
		if err == nil {
			t.Error("bob got in without an answer from Auth")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("bob's login still waits on a hung Auth")
	}
}

// A shell that opens after its call timed out is closed, and the
// student's places are given back.
func TestLateShellIsClosed(t *testing.T) {
	cfg := testConfig(t)
	cfg.CallTimeout = 100 * time.Millisecond
	d, err := New(cfg, &fakeAuth{}, newFakeShells())
	if err != nil {
		t.Fatal(err)
	}
	late := newFakeShell("web1", Terminal{})
	release := make(chan struct{})
	closed := make(chan struct{})
	_, err = call(d, context.Background(), "alice", func(context.Context) (Shell, error) {
		<-release
		return late, nil
	}, func(sh Shell) {
		sh.Close()
		close(closed)
	})
	if err != errTimeout {
		t.Fatalf("call: %v, want timed out", err)
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("a shell that came late was never closed")
	}
	if _, err := late.Read(make([]byte, 10)); err != nil {
		t.Fatal(err) // the prompt
	}
	if _, err := late.Read(make([]byte, 10)); err != io.EOF {
		t.Errorf("the late shell is still open: %v", err)
	}
	placeGivenBack(t, d, "alice", "the call's place given back")
}

// A shell call that fails after its timeout gives the student's shell
// place back all the same.
func TestLateFailedShellGivesItsPlaceBack(t *testing.T) {
	cfg := testConfig(t)
	cfg.CallTimeout = 100 * time.Millisecond
	cfg.MaxShellsPerStudent = 1
	release := make(chan struct{})
	shells := &slowFailShells{fakeShells: newFakeShells(), release: release}
	d, err := New(cfg, &fakeAuth{}, shells)
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{d: d, ctx: context.Background(), student: "alice"}
	if _, err := c.openShell(context.Background(), "web1", Terminal{}); err != errTimeout {
		t.Fatalf("open: %v, want timed out", err)
	}
	close(release)
	placeGivenBack(t, d, "alice", "alice's shell place given back")
}

type slowFailShells struct {
	*fakeShells
	release chan struct{}
}

func (s *slowFailShells) Shell(ctx context.Context, student, node string, t Terminal) (Shell, error) {
	<-s.release
	return nil, errors.New("node went away")
}

// stuckShells opens shells whose Write blocks until they are closed (a
// node that stopped reading its terminal).
type stuckShells struct {
	*fakeShells
}

type stuckShell struct {
	*fakeShell
	closed chan struct{}
	once   sync.Once
}

func (s stuckShells) Shell(ctx context.Context, student, node string, t Terminal) (Shell, error) {
	return &stuckShell{fakeShell: newFakeShell(node, t), closed: make(chan struct{})}, nil
}

func (s *stuckShell) Write(p []byte) (int, error) {
	<-s.closed
	return 0, io.ErrClosedPipe
}

func (s *stuckShell) Close() error {
	s.once.Do(func() { close(s.closed) })
	return s.fakeShell.Close()
}

// A client that leaves while its node's shell takes no input frees the
// shell and its place.
func TestStuckShellIsClosedWhenTheClientLeaves(t *testing.T) {
	tc := startClass(t, testConfig(t), stuckShells{newFakeShells()})
	c, ic := tc.jumpIn(t, "alice", "web1:22")
	term := openTerminal(t, ic, true)
	term.out.expect(t, "# ")
	term.typeLine(t, "hostname") // blocks in the shell's Write
	time.Sleep(50 * time.Millisecond)
	c.Close()
	placeGivenBack(t, tc.door, "alice", "the stuck shell's place given back")
}

// The door's log tells logins and refusals, never a passphrase.
func TestLogHoldsNoPassphrase(t *testing.T) {
	var log screen
	cfg := testConfig(t)
	cfg.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tc := startClass(t, cfg, nil)
	tc.dial("alice", "", ssh.Password("Secret-Wrong-1"))
	c, err := tc.dial("alice", "", ssh.Password("alice-pass"))
	if err != nil {
		t.Fatal(err)
	}
	c.Dial("tcp", "web3:22")
	c.Close()
	text := log.String()
	for _, secret := range []string{"Secret-Wrong-1", "alice-pass"} {
		if strings.Contains(text, secret) {
			t.Errorf("the log holds a passphrase:\n%s", text)
		}
	}
	for _, want := range []string{"wrong credentials", "door: login", "jump refused"} {
		if !strings.Contains(text, want) {
			t.Errorf("the log does not tell %q:\n%s", want, text)
		}
	}
}
