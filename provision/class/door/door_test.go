package door

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// The door keeps its host key with the class: a second start serves the
// same one (students' known_hosts stay right).
func TestHostKeyIsKept(t *testing.T) {
	cfg := testConfig(t)
	var keys []ssh.PublicKey
	for range 2 {
		d, err := New(cfg, &fakeAuth{}, newFakeShells())
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, d.HostKey())
	}
	if keys[0].Type() != ssh.KeyAlgoED25519 {
		t.Errorf("host key type %s, want ed25519", keys[0].Type())
	}
	if !bytes.Equal(keys[0].Marshal(), keys[1].Marshal()) {
		t.Error("a second start generated another host key instead of reusing the class's")
	}
}

func TestMenuShowsOwnNodesBridgesAndComesBack(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	c := tc.login(t, "alice")
	term := openTerminal(t, c, true)
	term.out.expect(t, "the lab of alice")
	for i, n := range []string{"client", "lvs1", "web1", "web2"} {
		term.out.expect(t, strconv.Itoa(i+1)+") "+n)
	}
	if strings.Contains(term.out.String(), "web3") {
		t.Error("alice's menu lists bob's web3")
	}
	term.out.expect(t, "q to quit: ")
	term.answer(t, "3", "Connecting to web1")
	term.answer(t, "hostname", "\r\nweb1\r\n")
	term.answer(t, "stty size", "30 100\r\n")
	if err := term.s.WindowChange(50, 132); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		term.answer(t, "stty size", "stty size\r\n")
		if strings.HasSuffix(strings.TrimSuffix(term.out.String(), "# "), "50 132\r\n") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(term.out.String(), "50 132\r\n") {
		t.Errorf("a window change did not reach the node's shell:\n%q", term.out.String())
	}
	term.answer(t, "echo $TERM", "xterm-256color\r\n")
	term.answer(t, "exit", "[web1: shell ended]")
	term.out.expect(t, "q to quit: ")
	term.typeLine(t, "web2") // by name this time
	term.out.expect(t, "Connecting to web2")
	term.answer(t, "hostname", "\r\nweb2\r\n")
	term.answer(t, "exit", "q to quit: ")
	term.answer(t, "nosuch", `No node "nosuch" here`)
	term.typeLine(t, "q")
	if status := term.wait(t); status != 0 {
		t.Errorf("exit status %d after q, want 0", status)
	}
	if got, want := strings.Join(tc.shells.openedList(), " "), "alice/web1 alice/web2"; got != want {
		t.Errorf("shells opened %q, want %q", got, want)
	}
}

// Without a pseudo-terminal (ssh alice@door < file) the menu reads lines.
func TestMenuWithoutTerminalReadsLines(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	c := tc.login(t, "alice")
	s2, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var so screen
	s2.Stdout = &so
	s2.Stdin = strings.NewReader("3\nhostname\nexit\n")
	if err := s2.Shell(); err != nil {
		t.Fatal(err)
	}
	s2.Wait()
	text := so.String()
	for _, want := range []string{"3) web1", "Connecting to web1", "\r\nweb1\r\n", "[web1: shell ended]"} {
		if !strings.Contains(text, want) {
			t.Errorf("the session printed no %q:\n%q", want, text)
		}
	}
	if strings.Contains(text, "\r\n3) ") {
		t.Errorf("without a terminal the menu still wrote CRLF: %q", text)
	}
}

// An exec request on the door runs nothing: no command on the host, no
// shell of a node.
func TestExecOnTheDoorRunsNoHostCommand(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	c := tc.login(t, "alice")
	proof := filepath.Join(t.TempDir(), "ran")
	for _, cmd := range []string{"touch " + proof, "sh -c 'touch " + proof + "'", "web1"} {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		var stdout, stderr screen
		s.Stdout, s.Stderr = &stdout, &stderr
		err = s.Run(cmd)
		var exit *ssh.ExitError
		if !errors.As(err, &exit) || exit.ExitStatus() != 1 {
			t.Errorf("exec %q: %v, want exit status 1", cmd, err)
		}
		if !strings.Contains(stderr.String(), "it runs no commands") {
			t.Errorf("exec %q: no sentence on stderr: %q", cmd, stderr.String())
		}
		if stdout.String() != "" {
			t.Errorf("exec %q printed %q", cmd, stdout.String())
		}
	}
	if _, err := os.Stat(proof); err == nil {
		t.Fatal("an exec request on the door ran a command on the host")
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := s.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestSubsystem("sftp"); err == nil {
		t.Error("the door served the sftp subsystem")
	}
	buf := make([]byte, 200)
	n, _ := stderr.Read(buf)
	if !strings.Contains(string(buf[:n]), "no subsystem") {
		t.Errorf("subsystem refused without a sentence: %q", buf[:n])
	}
	if got := tc.shells.openedList(); len(got) != 0 {
		t.Errorf("exec or subsystem on the door opened node shells %v", got)
	}
}

// The door's own code may start no program: no os/exec, no syscall exec,
// no os.StartProcess in a non-test file of the package.
func TestDoorCodeStartsNoProgram(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "os/exec" || p == "golang.org/x/sys/unix" {
				t.Errorf("%s imports %s: the door must not run programs", f, p)
			}
		}
		for _, bad := range []string{"StartProcess", "syscall.Exec", "ForkExec"} {
			if strings.Contains(string(src), bad) {
				t.Errorf("%s uses %s: the door must not run programs", f, bad)
			}
		}
	}
}

func TestJumpReachesOwnNodeOnly(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	c, ic := tc.jumpIn(t, "alice", "web1:22")
	term := openTerminal(t, ic, true)
	term.answer(t, "hostname", "\r\nweb1\r\n")
	term.typeLine(t, "exit")
	if status := term.wait(t); status != 0 {
		t.Errorf("inner shell exit status %d", status)
	}
	// a command, typed into the node's shell (fakeShells is no Execer)
	s := newSession(t, ic)
	out, err := s.Output("hostname")
	if err != nil || !strings.Contains(string(out), "\r\nweb1\r\n") {
		t.Errorf("ssh -J ... root@web1 hostname: %q, %v", out, err)
	}
	if got, want := strings.Join(tc.shells.openedList(), " "), "alice/web1 alice/web1"; got != want {
		t.Errorf("shells opened %q, want %q", got, want)
	}
	// case as ssh may send it
	if ic2, err := tc.jump(c, "WEB2:22"); err != nil {
		t.Errorf("jump to WEB2: %v", err)
	} else {
		ic2.Close()
	}
}

func TestJumpRefusesAnythingButOwnNodesPort22(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	c := tc.login(t, "alice")
	for _, target := range []string{
		"web3:22",      // a node of bob's copy, not alice's
		"web1:80",      // her node, another port
		"web1:2222",    //
		"127.0.0.1:22", // the host itself
		"localhost:22", //
		"[::1]:22",     //
		"10.0.0.5:22",  // an address, maybe of a node
		"192.168.4.100:22",
		"web1.:22", // not the name
		"web:22",
		"*:22",
	} {
		nc, err := c.Dial("tcp", target)
		if err == nil {
			nc.Close()
			t.Errorf("alice's jump to %s was accepted", target)
			continue
		}
		var open *ssh.OpenChannelError
		if !errors.As(err, &open) || open.Reason != ssh.Prohibited {
			t.Errorf("jump to %s: %v, want administratively prohibited", target, err)
		}
	}
	nc, err := c.Dial("tcp", "web3:22")
	if err == nil {
		nc.Close()
	} else if !strings.Contains(err.Error(), `web3\" is not a node of your lab`) {
		t.Errorf("refusal without its reason: %v", err)
	}
	if got := tc.shells.openedList(); len(got) != 0 {
		t.Errorf("refused jumps opened shells: %v", got)
	}
	// bob reaches his own web3
	b := tc.login(t, "bob")
	ic, err := tc.jump(b, "web3:22")
	if err != nil {
		t.Fatalf("bob's jump to his web3: %v", err)
	}
	ic.Close()
}

// Remote forwarding, agent and X11 forwarding, other channel types and the
// inner connection's own forwarding are refused; env requests are ignored.
func TestForwardingRefused(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	c := tc.login(t, "alice")
	if ln, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
		t.Error("tcpip-forward (remote forwarding) was accepted")
	}
	for _, typ := range []string{"direct-streamlocal@openssh.com", "x11", "auth-agent@openssh.com", "forwarded-tcpip"} {
		if ch, _, err := c.OpenChannel(typ, nil); err == nil {
			ch.Close()
			t.Errorf("a %s channel was opened", typ)
		}
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []string{"auth-agent-req@openssh.com", "x11-req"} {
		if ok, err := s.SendRequest(req, true, nil); ok || err != nil {
			t.Errorf("%s: accepted %v, %v", req, ok, err)
		}
	}
	if err := s.Setenv("LD_PRELOAD", "/tmp/evil.so"); err == nil {
		t.Error("an env request was honoured")
	}
	s.Close()

	ic, err := tc.jump(c, "web1:22")
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if nc, err := ic.Dial("tcp", "web2:22"); err == nil {
		nc.Close()
		t.Error("the inner session forwarded TCP")
	}
	if ln, err := ic.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
		t.Error("the inner session accepted remote forwarding")
	}
}

// When the context ends, Serve closes the listener and every connection and
// returns.
func TestServeShutsDownCleanly(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	c := tc.login(t, "alice")
	term := openTerminal(t, c, true)
	term.out.expect(t, "q to quit: ")
	term.answer(t, "1", "Connecting to client")
	tc.stop(t)
	waitClosed(t, c, 5*time.Second, "a connection survived the door's shutdown")
	if _, err := tc.dial("alice", "", ssh.PublicKeys(tc.keys["alice"])); err == nil {
		t.Error("the door still accepts connections after shutdown")
	}
}

// execShells also runs commands, as Execer.
type execShells struct {
	*fakeShells
}

func (e execShells) Exec(ctx context.Context, student, node, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	fmt.Fprintf(stdout, "%s ran %q on %s\n", student, command, node)
	io.Copy(stdout, stdin)
	fmt.Fprintf(stderr, "done\n")
	return 3, nil
}

// With an Execer, "ssh -J ... root@web1 CMD" runs CMD on alice's web1, its
// input, output and exit status passed through.
func TestJumpExecRunsOnTheNodeWithAnExecer(t *testing.T) {
	tc := startClass(t, testConfig(t), execShells{newFakeShells()})
	c, ic := tc.jumpIn(t, "alice", "web1:22")
	s := newSession(t, ic)
	var stdout, stderr screen
	s.Stdout, s.Stderr, s.Stdin = &stdout, &stderr, strings.NewReader("typed\n")
	err := s.Run("uname -a")
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 3 {
		t.Errorf("exit: %v, want status 3", err)
	}
	if got, want := stdout.String(), "alice ran \"uname -a\" on web1\ntyped\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if stderr.String() != "done\n" {
		t.Errorf("stderr %q", stderr.String())
	}
	// on the door itself, still nothing runs
	s2, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := s2.Output("uname -a"); strings.Contains(string(out), "ran") {
		t.Errorf("an exec on the door reached the Execer: %q", out)
	}
}

// A shell without a terminal whose input ends (ssh root@web1 < script)
// ends too: the door types Ctrl-D.
func TestJumpShellEndsWithItsInput(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	_, ic := tc.jumpIn(t, "alice", "web2:22")
	s := newSession(t, ic)
	var out screen
	s.Stdout, s.Stdin = &out, strings.NewReader("hostname\necho $TERM\n")
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shell: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the shell did not end with its input: %q", out.String())
	}
	if !strings.Contains(out.String(), "\r\nweb2\r\n") || !strings.Contains(out.String(), "\r\ndumb\r\n") {
		t.Errorf("output %q", out.String())
	}
}

// A node that cannot be reached ends the inner session with a sentence and
// status 1.
func TestJumpToUnreachableNodeSaysSo(t *testing.T) {
	shells := newFakeShells()
	shells.fail = map[string]error{"web2": errors.New("web2 does not answer SSH")}
	tc := startClass(t, testConfig(t), shells)
	_, ic := tc.jumpIn(t, "alice", "web2:22")
	s := newSession(t, ic)
	var stderr screen
	s.Stderr = &stderr
	err := s.Run("hostname")
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 1 {
		t.Errorf("exit: %v, want status 1", err)
	}
	if !strings.Contains(stderr.String(), "web2 cannot be reached now: web2 does not answer SSH") {
		t.Errorf("stderr %q", stderr.String())
	}
}

// Serve on two listeners: ending one leaves the other serving.
func TestServeOnTwoListeners(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tc.door.Serve(ctx, ln) }()
	c := tc.login(t, "alice")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := c.NewSession(); err != nil {
		t.Errorf("the first listener's connection died with the second's Serve: %v", err)
	}
}

// Disconnect closes one student's connections (a teacher revoking them) and
// no one else's.
func TestDisconnectClosesOneStudent(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	a1, a2, b := tc.login(t, "alice"), tc.login(t, "alice"), tc.login(t, "bob")
	term := openTerminal(t, a1, true)
	term.out.expect(t, "q to quit: ")
	term.answer(t, "3", "Connecting to web1")
	if n := tc.door.Disconnect("alice"); n != 2 {
		t.Errorf("Disconnect closed %d connections, want 2", n)
	}
	for _, c := range []*ssh.Client{a1, a2} {
		waitClosed(t, c, 3*time.Second, "alice's connection survived Disconnect")
	}
	if s, err := b.NewSession(); err != nil {
		t.Errorf("bob's connection after alice's Disconnect: %v", err)
	} else {
		s.Close()
	}
	placeGivenBack(t, tc.door, "alice", "the closed shell given back")
}
