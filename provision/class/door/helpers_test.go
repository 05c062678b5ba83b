package door

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/sshx/sshxtest"
	"golang.org/x/crypto/ssh"
)

// fakeAuth knows passphrases and registered keys.
type fakeAuth struct {
	passwords map[string]string
	keys      map[string]ssh.PublicKey
	checks    atomic.Int32 // passphrases checked
}

func (a *fakeAuth) CheckPassword(student, pw string) bool {
	a.checks.Add(1)
	want, ok := a.passwords[student]
	return ok && want == pw
}

func (a *fakeAuth) CheckKey(student string, key ssh.PublicKey) bool {
	want, ok := a.keys[student]
	return ok && bytes.Equal(want.Marshal(), key.Marshal())
}

// fakeShells serves in-process shells that echo what is typed (as a
// terminal does) and answer "hostname" with the node's name. Like a naive
// implementation, Shell opens any node name it is given for any student: the
// door's guards alone keep a student to their nodes.
type fakeShells struct {
	nodes map[string][]string

	mu      sync.Mutex
	opened  []string // "student/node" of every shell opened
	shells  []*fakeShell
	hang    map[string]bool  // students whose calls block, ignoring ctx, until release closes
	fail    map[string]error // nodes whose shell cannot be opened
	release chan struct{}
	calls   atomic.Int32
}

func newFakeShells() *fakeShells {
	return &fakeShells{
		nodes: map[string][]string{
			"alice": {"client", "lvs1", "web1", "web2"},
			"bob":   {"client", "lvs1", "web1", "web2", "web3"},
			"carol": {"client", "lvs1", "web1", "web2"},
		},
		hang:    map[string]bool{},
		release: make(chan struct{}),
	}
}

func (f *fakeShells) stall(student string) bool {
	f.calls.Add(1)
	f.mu.Lock()
	h := f.hang[student]
	f.mu.Unlock()
	if h {
		<-f.release
	}
	return h
}

func (f *fakeShells) Nodes(ctx context.Context, student string) ([]string, error) {
	f.stall(student)
	return f.nodes[student], nil
}

func (f *fakeShells) Shell(ctx context.Context, student, node string, t Terminal) (Shell, error) {
	f.stall(student)
	if err := f.fail[node]; err != nil {
		return nil, err
	}
	s := newFakeShell(node, t)
	f.mu.Lock()
	f.opened = append(f.opened, student+"/"+node)
	f.shells = append(f.shells, s)
	f.mu.Unlock()
	return s, nil
}

func (f *fakeShells) openedList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.opened...)
}

// fakeShell is a node's shell on a pseudo-terminal, in miniature.
type fakeShell struct {
	node string
	mu   sync.Mutex
	cond *sync.Cond
	out  bytes.Buffer
	eof  bool
	line []byte
	term Terminal
}

func newFakeShell(node string, t Terminal) *fakeShell {
	s := &fakeShell{node: node, term: t}
	s.cond = sync.NewCond(&s.mu)
	s.out.WriteString("# ")
	return s
}

func (s *fakeShell) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.out.Len() == 0 && !s.eof {
		s.cond.Wait()
	}
	if s.out.Len() > 0 {
		return s.out.Read(p)
	}
	return 0, io.EOF
}

func (s *fakeShell) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.cond.Broadcast()
	for i, c := range p {
		if s.eof {
			return i, io.ErrClosedPipe
		}
		switch c {
		case '\r', '\n':
			s.out.WriteString("\r\n")
			s.run(string(s.line))
			s.line = s.line[:0]
			if !s.eof {
				s.out.WriteString("# ")
			}
		case 4:
			if len(s.line) == 0 {
				s.eof = true
			}
		default:
			s.out.WriteByte(c)
			s.line = append(s.line, c)
		}
	}
	return len(p), nil
}

func (s *fakeShell) run(line string) {
	for _, cmd := range strings.Split(line, ";") {
		switch cmd = strings.TrimSpace(cmd); cmd {
		case "":
		case "hostname":
			s.out.WriteString(s.node + "\r\n")
		case "stty size":
			s.out.WriteString(strconv.Itoa(s.term.Rows) + " " + strconv.Itoa(s.term.Cols) + "\r\n")
		case "echo $TERM":
			s.out.WriteString(s.term.Term + "\r\n")
		case "exit":
			s.eof = true
			return
		default:
			s.out.WriteString("sh: " + cmd + ": not found\r\n")
		}
	}
}

func (s *fakeShell) Close() error {
	s.mu.Lock()
	s.eof = true
	s.cond.Broadcast()
	s.mu.Unlock()
	return nil
}

func (s *fakeShell) Resize(cols, rows int) error {
	s.mu.Lock()
	s.term.Cols, s.term.Rows = cols, rows
	s.mu.Unlock()
	return nil
}

// testClass is a door with three students on loopback.
type testClass struct {
	door    *Door
	addr    string
	auth    *fakeAuth
	shells  *fakeShells
	keys    map[string]ssh.Signer
	privs   map[string]ed25519.PrivateKey
	cancel  context.CancelFunc
	stopped chan error
	banners chan string // banners the door sent, when not nil
}

func testConfig(t testing.TB) Config {
	return Config{
		HostKeyPath:      filepath.Join(t.TempDir(), "class", "door_host_key"),
		HandshakeTimeout: 5 * time.Second,
		CallTimeout:      3 * time.Second,
		Logins:           LoginLimits{FailDelay: time.Millisecond},
	}
}

// startClass starts a door for alice, bob and carol; wrap, if given, puts
// something between the door and their credentials.
func startClass(t testing.TB, cfg Config, shells Shells, wrap ...func(*fakeAuth) Auth) *testClass {
	t.Helper()
	tc := &testClass{
		auth: &fakeAuth{
			passwords: map[string]string{"alice": "alice-pass", "bob": "bob-pass", "carol": "carol-pass"},
			keys:      map[string]ssh.PublicKey{},
		},
		keys:  map[string]ssh.Signer{},
		privs: map[string]ed25519.PrivateKey{},
	}
	for _, s := range []string{"alice", "bob", "carol"} {
		tc.keys[s], tc.privs[s] = sshxtest.NewKey(t)
		tc.auth.keys[s] = tc.keys[s].PublicKey()
	}
	if shells == nil {
		tc.shells = newFakeShells()
		shells = tc.shells
	} else if fs, ok := shells.(*fakeShells); ok {
		tc.shells = fs
	}
	var auth Auth = tc.auth
	for _, w := range wrap {
		auth = w(tc.auth)
	}
	d, err := New(cfg, auth, shells)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tc.door, tc.addr, tc.cancel, tc.stopped = d, ln.Addr().String(), cancel, make(chan error, 1)
	go func() { tc.stopped <- d.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if tc.shells != nil {
			tc.shells.mu.Lock()
			select {
			case <-tc.shells.release:
			default:
				close(tc.shells.release)
			}
			tc.shells.mu.Unlock()
		}
		tc.stop(t)
	})
	return tc
}

// stop ends the door and checks that Serve returns soon.
func (tc *testClass) stop(t testing.TB) {
	t.Helper()
	tc.cancel()
	select {
	case err, ok := <-tc.stopped:
		if ok && err != nil {
			t.Errorf("Serve: %v", err)
		}
		if ok {
			close(tc.stopped)
		}
	case <-time.After(5 * time.Second):
		t.Error("Serve did not return 5 s after its context ended")
	}
}

// dial logs in from the loopback address from ("" for any).
func (tc *testClass) dial(user, from string, auth ...ssh.AuthMethod) (*ssh.Client, error) {
	dialer := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	nc, err := dialer.Dial("tcp", tc.addr)
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: ssh.FixedHostKey(tc.door.HostKey()), Timeout: 5 * time.Second,
		BannerCallback: func(msg string) error {
			if tc.banners != nil {
				tc.banners <- msg
			}
			return nil
		}}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c, chans, reqs, err := ssh.NewClientConn(nc, tc.addr, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// login logs student in with their key.
func (tc *testClass) login(t testing.TB, student string) *ssh.Client {
	t.Helper()
	c, err := tc.dial(student, "", ssh.PublicKeys(tc.keys[student]))
	if err != nil {
		t.Fatalf("%s logs in with their key: %v", student, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// jumpIn logs student in and opens the inner connection to target through
// the door (both closed with the test), failing the test otherwise.
func (tc *testClass) jumpIn(t testing.TB, student, target string) (c, ic *ssh.Client) {
	t.Helper()
	c = tc.login(t, student)
	ic, err := tc.jump(c, target)
	if err != nil {
		t.Fatalf("%s's jump to %s: %v", student, target, err)
	}
	t.Cleanup(func() { ic.Close() })
	return c, ic
}

// newSession opens a session on c, failing the test otherwise.
func newSession(t testing.TB, c *ssh.Client) *ssh.Session {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// placeGivenBack waits until student holds no place on d (what says what
// was given back).
func placeGivenBack(t *testing.T, d *Door, student, what string) {
	t.Helper()
	retry(t, what, func() error {
		d.mu.Lock()
		defer d.mu.Unlock()
		if u := d.students[student]; u != nil {
			return fmt.Errorf("%s still holds %+v", student, *u)
		}
		return nil
	})
}

// jump opens the inner SSH connection to target through c, as ssh -J does.
func (tc *testClass) jump(c *ssh.Client, target string) (*ssh.Client, error) {
	nc, err := c.Dial("tcp", target)
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{User: "root", HostKeyCallback: ssh.FixedHostKey(tc.door.HostKey()), Timeout: 5 * time.Second}
	ic, chans, reqs, err := ssh.NewClientConn(nc, target, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return ssh.NewClient(ic, chans, reqs), nil
}

// screen collects a session's output; expect waits for text after what
// earlier expects matched.
type screen struct {
	mu     sync.Mutex
	b      bytes.Buffer
	cursor int
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *screen) expect(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		text := s.b.String()
		i := strings.Index(text[s.cursor:], want)
		if i >= 0 {
			s.cursor += i + len(want)
		}
		s.mu.Unlock()
		if i >= 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 5 s for %q; the session printed:\n%q", want, text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// terminal is an interactive session on c.
type terminal struct {
	s      *ssh.Session
	in     io.WriteCloser
	out    *screen
	stderr *screen
}

func openTerminal(t *testing.T, c *ssh.Client, pty bool) *terminal {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	term := &terminal{s: s, out: &screen{}, stderr: &screen{}}
	s.Stdout, s.Stderr = term.out, term.stderr
	if term.in, err = s.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if pty {
		if err := s.RequestPty("xterm-256color", 30, 100, ssh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	return term
}

func (term *terminal) typeLine(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(term.in, line+"\r"); err != nil {
		t.Fatal(err)
	}
}

// waitClosed fails the test with msg unless the connection c ends within d.
func waitClosed(t *testing.T, c *ssh.Client, d time.Duration, msg string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatal(msg)
	}
}

// answer types line and expects want in what the terminal prints next.
func (term *terminal) answer(t *testing.T, line, want string) {
	t.Helper()
	term.typeLine(t, line)
	term.out.expect(t, want)
}

// wait waits for the session's end and returns its exit status.
func (term *terminal) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- term.s.Wait() }()
	select {
	case err := <-done:
		var exit *ssh.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &exit):
			return exit.ExitStatus()
		default:
			t.Fatalf("session: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the session did not end; it printed:\n%q", term.out.String())
	}
	return -1
}
