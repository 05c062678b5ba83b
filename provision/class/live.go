package class

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/check"
	"github.com/lvslab/lvslab/provision/class/door"
	"github.com/lvslab/lvslab/provision/class/serve"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/lab"
	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/provision/verify"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/handout"
	"github.com/lvslab/lvslab/topology"
)

// Live is the class as its server sees it while it runs: each student's
// copy reached through its Access (opened on first use, kept, dropped when
// the copy is reset or brought up), checked, reset and brought up. It is
// the class server's Backend (serve) and, through Door, the SSH door's
// Shells and Auth: one access path for the browser's terminals and the
// door's.
type Live struct {
	s    *Session
	opts LiveOptions

	mu       sync.Mutex
	accesses map[string]*access.Access
	recMu    sync.Mutex // the session's record: resets and ups of several students at once
}

// LiveOptions tune Live.
type LiveOptions struct {
	// Check tunes "check my work".
	Check check.Options
	// Up are the options of a copy brought up or reset.
	Up lab.Options
	// Credentials are the class's logins: the door checks passphrases
	// and keys against them.
	Credentials *serve.Credentials
}

// NewLive serves the session's class; the session stays open as long as
// Live is used.
func NewLive(s *Session, opts LiveOptions) *Live {
	return &Live{s: s, opts: opts, accesses: map[string]*access.Access{}}
}

// Close closes every copy's Access.
func (l *Live) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for st, a := range l.accesses {
		a.Close()
		delete(l.accesses, st)
	}
}

// Students are the class file's students, from memory.
func (l *Live) Students() []string { return slices.Clone(l.s.Class.Students) }

// copyOf is student's copy: its lab and its host's connection, or
// serve.ErrNoCopy.
func (l *Live) copyOf(student string) (*topology.Lab, *host.Conn, error) {
	if !slices.Contains(l.s.Class.Students, student) {
		return nil, nil, fmt.Errorf("%q is not a student of class %s", student, l.s.Class.Name)
	}
	l.recMu.Lock()
	uri := l.s.Record.Placement()[student]
	l.recMu.Unlock()
	if uri == "" {
		return nil, nil, fmt.Errorf("%w: no copy recorded for %s", serve.ErrNoCopy, student)
	}
	conn, err := l.s.conn(uri)
	if err != nil {
		return nil, nil, err
	}
	cp, err := l.s.CopyLab(student)
	if err != nil {
		return nil, nil, err
	}
	return cp, conn, nil
}

// access is student's Access, opened on first use.
func (l *Live) access(student string) (*access.Access, *topology.Lab, error) {
	cp, conn, err := l.copyOf(student)
	if err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if a := l.accesses[student]; a != nil {
		return a, cp, nil
	}
	a, err := access.Open(conn, cp.Name, access.Options{Paths: l.s.paths, File: cp})
	if err != nil {
		return nil, nil, err
	}
	l.accesses[student] = a
	return a, cp, nil
}

// forget drops student's Access: the copy's VMs changed.
func (l *Live) forget(student string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a := l.accesses[student]; a != nil {
		a.Close()
		delete(l.accesses, student)
	}
}

// Nodes are the nodes of student's copy with their VM's state (no login:
// the page asks often).
func (l *Live) Nodes(ctx context.Context, student string) ([]serve.Node, error) {
	cp, conn, err := l.copyOf(student)
	if err != nil {
		return nil, err
	}
	st, err := lab.Status(ctx, conn, cp.Name, lab.StatusOptions{Paths: l.s.paths, Lab: cp, SkipSSH: true})
	if err != nil {
		return nil, err
	}
	if st.Missing() {
		return nil, fmt.Errorf("%w: the copy %s has no VM", serve.ErrNoCopy, cp.Name)
	}
	out := make([]serve.Node, 0, len(st.Nodes))
	for _, n := range st.Nodes {
		out = append(out, serve.Node{Name: n.Node, State: string(n.State), Addresses: n.Addresses})
	}
	return out, nil
}

// node checks that node is one of student's copy's.
func (l *Live) node(student, node string) (*access.Access, error) {
	a, cp, err := l.access(student)
	if err != nil {
		return nil, err
	}
	if cp.Node(node) == nil {
		return nil, fmt.Errorf("%q is not a node of %s's lab", node, student)
	}
	return a, nil
}

// Shell is a login shell on a pseudo-terminal of student's node, as the
// lab's user, over lvslab's own access path.
func (l *Live) Shell(ctx context.Context, student, node string, t serve.Terminal) (serve.Shell, error) {
	a, err := l.node(student, node)
	if err != nil {
		return nil, err
	}
	c, err := a.Dial(ctx, node)
	if err != nil {
		return nil, err
	}
	// the shell outlives the request that opened it: it ends when it is
	// closed or the server stops
	return c.OpenTerminal(context.WithoutCancel(ctx), t.Term, t.Cols, t.Rows)
}

// Console is student's node's serial console.
func (l *Live) Console(ctx context.Context, student, node string) (io.ReadWriteCloser, error) {
	a, err := l.node(student, node)
	if err != nil {
		return nil, err
	}
	return a.OpenConsole(node)
}

// Check is "check my work" on student's copy: check.Quick (the node facts
// read at once, a short request loop), each fact with why and fix.
func (l *Live) Check(ctx context.Context, student string) (serve.CheckResult, error) {
	a, cp, err := l.access(student)
	if err != nil {
		return serve.CheckResult{}, err
	}
	opts := l.opts.Check
	opts.LabRef = l.s.Class.LabRef
	rep, err := check.Run(ctx, cp, a.Dialer(ctx), opts)
	if err != nil {
		if !errors.Is(err, verify.ErrCannotRun) {
			l.forget(student) // a broken login is tried anew next time
		}
		return serve.CheckResult{}, err
	}
	return checkResult(rep), nil
}

// checkResult is a check report as the server shows it.
func checkResult(rep *check.Report) serve.CheckResult {
	out := serve.CheckResult{Checks: []serve.Check{}}
	for _, n := range rep.Nodes {
		if n.Error != "" {
			out.Checks = append(out.Checks, serve.Check{Node: n.Node, Name: "read the node", Why: n.Error})
		}
		for _, f := range n.Facts {
			c := serve.Check{Node: n.Node, Name: f.Name, Pass: f.Status != report.Fail}
			if !c.Pass {
				c.Why = fmt.Sprintf("%s (want %s): %s", f.Got, f.Want, f.Hint)
				c.Fix = f.Fix
			}
			out.Checks = append(out.Checks, c)
		}
	}
	switch {
	case rep.VerifyError != "":
		out.Checks = append(out.Checks, serve.Check{Node: "end-to-end", Name: "requests through the VIP", Why: "could not run: " + rep.VerifyError})
	case rep.Verify != nil:
		for _, c := range VerifyChecks(rep.Verify) {
			out.Checks = append(out.Checks, serve.Check{Node: "end-to-end", Name: c.Name, Pass: c.Status != report.Fail, Why: failDetail(c)})
		}
	}
	return out
}

func failDetail(c report.Check) string {
	if c.Status == report.Fail {
		return c.Detail
	}
	return ""
}

// Reset brings student's copy back: its VMs removed and made anew, bare
// (stage "") or configured as the class's lab (stage = its name).
func (l *Live) Reset(ctx context.Context, student, stage string) error {
	if stage != "" && stage != l.s.Class.LabRef {
		return fmt.Errorf("no stage %q: a copy is reset bare or to %s", stage, l.s.Class.LabRef)
	}
	l.forget(student)
	one, err := l.one(ctx, student)
	if err != nil {
		return err
	}
	defer one.Close()
	if rep, err := one.Down(true); err != nil {
		return err
	} else if err := rowError(rep); err != nil {
		return err
	}
	opts := l.opts.Up
	opts.Bare = stage == ""
	return l.up(one, opts)
}

// Up brings student's copy up (bare, as a class hands it out) when it is
// missing; a running one is left as it is.
func (l *Live) Up(ctx context.Context, student string) error {
	l.forget(student)
	one, err := l.one(ctx, student)
	if err != nil {
		return err
	}
	defer one.Close()
	opts := l.opts.Up
	opts.Bare = true
	return l.up(one, opts)
}

func (l *Live) up(one *Session, opts lab.Options) error {
	rep, err := one.Up(opts)
	if err != nil {
		return err
	}
	if err := rowError(rep); err != nil {
		return err
	}
	// the record the new copy went into is the one every later call reads
	l.recMu.Lock()
	defer l.recMu.Unlock()
	l.s.Record.Set(one.Students[0], one.Record.Placement()[one.Students[0]], l.s.Class.Copy(one.Students[0]))
	return nil
}

// one is a session of the class for student alone, on its own
// connections (a reset takes minutes; the other copies' reads go on).
func (l *Live) one(ctx context.Context, student string) (*Session, error) {
	return Open(ctx, l.s.Class.File, SessionOptions{Paths: l.s.paths, Students: []string{student}, Progress: l.s.sink})
}

// rowError is the error of a one-student report, if any.
func rowError(rep *Report) error {
	for _, r := range rep.Rows {
		if !r.Pass() {
			return errors.New(r.Why())
		}
	}
	return nil
}

// Handout is student's handout as one HTML page, titled with their copy,
// for the OS family their guests run (read from a node's os-release;
// lvslab's own Debian image when the copy cannot be read).
func (l *Live) Handout(ctx context.Context, student string) (string, error) {
	cp, _, err := l.copyOf(student)
	if err != nil && !errors.Is(err, serve.ErrNoCopy) {
		return "", err
	}
	osFamily := catalog.Debian
	if cp == nil {
		if cp, err = labs.Load(l.s.Class.LabRef); err != nil {
			return "", err
		}
	} else if f, ok := l.guestOS(ctx, student, cp); ok {
		osFamily = f
	}
	var b strings.Builder
	err = handout.HTML(&b, cp, handout.Options{OS: osFamily, Title: fmt.Sprintf("%s: %s's copy (%s)", l.s.Class.Name, student, l.s.Class.Copy(student))})
	return b.String(), err
}

// guestOS is the OS family of the copy's first node, read from its
// os-release.
func (l *Live) guestOS(ctx context.Context, student string, cp *topology.Lab) (string, bool) {
	if len(cp.Nodes) == 0 {
		return "", false
	}
	a, _, err := l.access(student)
	if err != nil {
		return "", false
	}
	c, err := a.Dial(ctx, cp.Nodes[0].Name)
	if err != nil {
		return "", false
	}
	data, ok, err := c.ReadFile(ctx, "/etc/os-release")
	if err != nil || !ok {
		return "", false
	}
	f, err := catalog.OSFamily(string(data))
	return f, err == nil
}

// Door is Live as the SSH door's Shells and Auth.
func (l *Live) Door() DoorBackend { return DoorBackend{l} }

var _ door.Execer = DoorBackend{}

// DoorBackend adapts Live to the door's interfaces: node names only, the
// door's Terminal, the class's credentials (students only: the teacher
// has no copy).
type DoorBackend struct{ l *Live }

// Nodes are the node names of student's copy.
func (d DoorBackend) Nodes(ctx context.Context, student string) ([]string, error) {
	nodes, err := d.l.Nodes(ctx, student)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return names, nil
}

// Shell is Live's shell for the door.
func (d DoorBackend) Shell(ctx context.Context, student, node string, t door.Terminal) (door.Shell, error) {
	return d.l.Shell(ctx, student, node, t)
}

// Exec runs a student's command on their node, as "ssh -J door root@web1
// CMD" asks: its output streamed, its exit status returned (not typed into
// a shell, whose echo would be part of the output).
func (d DoorBackend) Exec(ctx context.Context, student, node, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	a, err := d.l.node(student, node)
	if err != nil {
		return -1, err
	}
	c, err := a.Dial(ctx, node)
	if err != nil {
		return -1, err
	}
	return c.Stream(ctx, command, sshx.Session{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

// CheckPassword checks a student's passphrase.
func (d DoorBackend) CheckPassword(student, passphrase string) bool {
	if d.l.opts.Credentials == nil || !slices.Contains(d.l.s.Class.Students, student) {
		return false
	}
	_, ok := d.l.opts.Credentials.Verify(student, passphrase)
	return ok
}

// CheckKey checks a key the student registered.
func (d DoorBackend) CheckKey(student string, key ssh.PublicKey) bool {
	if d.l.opts.Credentials == nil || !slices.Contains(d.l.s.Class.Students, student) {
		return false
	}
	for _, k := range d.l.opts.Credentials.Keys(student) {
		if string(k.Marshal()) == string(key.Marshal()) {
			return true
		}
	}
	return false
}
