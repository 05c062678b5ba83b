package access

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/topology"
)

// The way in that needs no guest network: a node that does not answer SSH
// has its guest agent asked why (Diagnose), and up undoes what it finds
// (Restore). A dial watches its TCP connect: one that fails, or has not
// completed within tcpWindow, has the agent asked at once, so that a node
// cut off is told in seconds, not after the dial's whole window. A connect
// that completes is not asked about: a slow SSH handshake under TCG is
// no cause.

// tcpWindow is how long a TCP connect to a running node's port 22 may take
// before its guest agent is asked why: the guest's kernel answers a SYN in
// milliseconds even when the handshake after it is slow.
const tcpWindow = 1500 * time.Millisecond

// jumpWindow is tcpWindow through a remote hypervisor, whose own SSH
// connection the first connect opens.
const jumpWindow = 8 * time.Second

// diagnoseTimeout bounds the reading through the agent (one shell).
const diagnoseTimeout = 5 * time.Second

// cutOffMemory is how long a node found cut off is answered from memory
// (check and verify dial one node from several places at once).
const cutOffMemory = 10 * time.Second

// dialFunc opens a TCP connection, as sshx.Config's Dialer.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// CutOffError is a node that does not answer SSH for causes its guest agent
// read.
type CutOffError struct {
	Node string
	// Addr is where lvslab's SSH goes.
	Addr   string
	Causes []Cause
	// Up is the command that restores lvslab's access.
	Up string
	// Err is the SSH error, nil when the dial was cut short.
	Err error
}

func (e *CutOffError) Error() string {
	d := &Diagnosis{Causes: e.Causes}
	return fmt.Sprintf("%s does not answer SSH on %s: %s (read through its guest agent; %q restores lvslab's access)",
		e.Node, e.Addr, d.Summary(), e.Up)
}

func (e *CutOffError) Unwrap() error { return e.Err }

// NoAgentError is a node that does not answer SSH and whose guest agent
// cannot be asked why either.
type NoAgentError struct {
	Node string
	// Console is the command that logs in on the node's serial console.
	Console string
	// Err is the SSH error, Agent the agent's.
	Err, Agent error
}

func (e *NoAgentError) Error() string {
	return fmt.Sprintf("%v; no guest agent answers on %s either (a VM made before lvslab installed one, or its agent stopped): %q logs in on its serial console",
		e.Err, e.Node, e.Console)
}

func (e *NoAgentError) Unwrap() []error { return []error{e.Err, e.Agent} }

// Diagnose asks node's guest agent what keeps lvslab's SSH out: mgmt0
// missing, down or without its address, sshd stopped or not listening on
// port 22, a firewall rule or policy that blocks it. A node whose agent
// cannot be asked is an error wrapping host.ErrNoAgent.
func (a *Access) Diagnose(ctx context.Context, node string) (*Diagnosis, error) {
	if a.agent == nil {
		return nil, fmt.Errorf("%w: lvslab has no libvirt connection to ask it through", host.ErrNoAgent)
	}
	ctx, cancel := context.WithTimeout(ctx, diagnoseTimeout)
	defer cancel()
	res, err := host.GuestExec(ctx, a.agent, a.domain(node), "", "/bin/sh", "-c", diagnoseScript)
	if err != nil {
		return nil, err
	}
	return parseDiagnosis(node, a.mgmtPrefix(node), res.Stdout), nil
}

// Restore undoes what d found on node through its guest agent: firewall
// rules, mgmt0 and its address, sshd. It fails when d found nothing it
// can undo, or when a fix failed (what failed is said).
func (a *Access) Restore(ctx context.Context, node string, d *Diagnosis) error {
	script := repairScript(d)
	if script == "" {
		return fmt.Errorf("%s: lvslab knows no way to undo: %s", node, d.Summary())
	}
	if a.agent == nil {
		return fmt.Errorf("%w: lvslab has no libvirt connection to ask it through", host.ErrNoAgent)
	}
	ctx, cancel := context.WithTimeout(ctx, diagnoseTimeout)
	defer cancel()
	res, err := host.GuestExec(ctx, a.agent, a.domain(node), "", "/bin/sh", "-c", script)
	a.mu.Lock()
	delete(a.cutOff, node)
	a.mu.Unlock()
	switch {
	case err != nil:
		return fmt.Errorf("%s: restore lvslab's access through its guest agent: %w", node, err)
	case res.ExitCode != 0:
		return fmt.Errorf("%s: restore lvslab's access through its guest agent: %s", node, strings.TrimSpace(res.Stderr))
	}
	return nil
}

// domain is node's libvirt domain.
func (a *Access) domain(node string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d, ok := a.tags[node]; ok && d.Name != "" {
		return d.Name
	}
	return paths.DomainName(a.lab, node)
}

// mgmtPrefix is node's management address with the subnet's length
// ("10.250.0.12/24"), "" when its tag records none.
func (a *Access) mgmtPrefix(node string) string {
	addrs := a.Addresses(node)
	if len(addrs) == 0 {
		return ""
	}
	h := addrs[0]
	if hp, _, err := net.SplitHostPort(h); err == nil {
		h = hp
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return ""
	}
	return netip.PrefixFrom(ip, host.MgmtBits).String()
}

// upCommand is the command that starts node's VM and restores lvslab's
// access to it: "lvslab up tedu-nat".
func (a *Access) upCommand(node string) string {
	a.mu.Lock()
	file, tag := a.file, a.tags[node]
	a.mu.Unlock()
	switch {
	case file != nil:
		return "lvslab up " + topology.FileRef(file.File)
	case tag.Tag.File != "":
		return "lvslab up " + topology.FileRef(tag.Tag.File)
	}
	return "lvslab up"
}

// consoleCommand logs in on node's serial console.
func (a *Access) consoleCommand(node string) string {
	return fmt.Sprintf("lvslab console %s --lab %s", node, a.lab)
}

// verdict is what the agent said of a node: its diagnosis, or why it could
// not be asked.
type verdict struct {
	d   *Diagnosis
	err error
}

// healthy: the agent answered and finds nothing in lvslab's way.
func (v verdict) healthy() bool { return v.err == nil && v.d != nil && !v.d.Booting && !v.d.CutOff() }

// ask asks node's agent in the background; the channel gets its verdict.
func (a *Access) ask(ctx context.Context, node string) chan verdict {
	ch := make(chan verdict, 1)
	go func() {
		d, err := a.Diagnose(ctx, node)
		ch <- verdict{d, err}
	}()
	return ch
}

// explain is the error of a dial to node that failed with sshErr (nil: cut
// short), told with the agent's verdict v.
func (a *Access) explain(node string, sshErr error, v verdict) error {
	switch {
	case v.d.CutOff():
		e := &CutOffError{Node: node, Addr: SSHAddr(a.Addresses(node)[0]), Causes: v.d.Causes, Up: a.upCommand(node), Err: sshErr}
		a.mu.Lock()
		a.cutOff[node] = cutOffNote{err: e, at: time.Now()}
		a.mu.Unlock()
		return e
	case sshErr == nil:
		return errors.New("no SSH connection")
	case errors.Is(v.err, host.ErrNoAgent):
		return &NoAgentError{Node: node, Console: a.consoleCommand(node), Err: sshErr, Agent: v.err}
	case v.err != nil:
		return fmt.Errorf("%w (its guest agent could not say why: %v)", sshErr, v.err)
	case v.d.Booting:
		return fmt.Errorf("%w (its guest agent says it is still booting)", sshErr)
	}
	return fmt.Errorf("%w (its guest agent finds %s up with its address, sshd listening on port 22 and no firewall rule against it)", sshErr, host.MgmtNIC)
}

// cutOffNote is a node found cut off, and when.
type cutOffNote struct {
	err error
	at  time.Time
}

// knownCutOff is the error of node found cut off within cutOffMemory.
func (a *Access) knownCutOff(node string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n, ok := a.cutOff[node]; ok && time.Since(n.at) < cutOffMemory {
		return n.err
	}
	return nil
}

// watch is one dial's (or wait's) look at its TCP connects: a connect that
// fails, or has not completed within window, puts a request on ask. cut
// ends the connect under way, so that a wait tries again at once.
type watch struct {
	window time.Duration
	ask    chan struct{}
	mu     sync.Mutex
	cancel context.CancelFunc // the connect under way
}

func (a *Access) newWatch() *watch {
	w := &watch{window: a.tcpWindow, ask: make(chan struct{}, 1)}
	if a.jump != nil && w.window < jumpWindow {
		w.window = jumpWindow
	}
	return w
}

func (w *watch) request() {
	select {
	case w.ask <- struct{}{}:
	default:
	}
}

// dialer wraps base with the watch.
func (w *watch) dialer(base dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithCancel(ctx)
		w.mu.Lock()
		w.cancel = cancel
		w.mu.Unlock()
		t := time.AfterFunc(w.window, w.request)
		c, err := base(ctx, network, addr)
		t.Stop()
		if err != nil && ctx.Err() == nil {
			w.request()
		}
		return c, err
	}
}

// cut ends the connect under way.
func (w *watch) cut() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		w.cancel()
	}
}

// worthAsking tells whether a dial's failure is one the guest agent may
// explain: not a cancelled dial, a changed host key or a jump host's.
func worthAsking(ctx context.Context, err error) bool {
	var changed *sshx.HostKeyChangedError
	var jump *sshx.JumpError
	return ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.As(err, &changed) && !errors.As(err, &jump)
}

// WaitOptions say how Wait dials a node that boots or was cut off.
type WaitOptions struct {
	// Poll is the pause between tries; Attempt sees each failed try, and
	// an error it returns ends the wait (the VM stopped).
	Poll    time.Duration
	Attempt func(addr string, err error) error
	// Rescue has the node's guest agent asked why when a try fails or its
	// TCP connect stalls, from RescueFrom on (a VM that boots has nothing to
	// say but its boot, which the reading would slow), at most every
	// rescueEvery; causes it finds are undone (Restore), Restored is told,
	// and the next try follows at once.
	Rescue     bool
	RescueFrom time.Time
	Restored   func(d *Diagnosis, err error)
}

// rescueEvery is the least pause between two readings of one node's agent
// while Wait waits.
const rescueEvery = 5 * time.Second

// maxRestores bounds the restores of one Wait (a student's loop that takes
// mgmt0 down again).
const maxRestores = 3

// Wait is Dial for a node that is booting or cut off: it polls every
// o.Poll until the login succeeds or ctx ends, restoring lvslab's access
// through the guest agent as o says. Its error says what the agent read
// last (or that no agent answers).
func (a *Access) Wait(ctx context.Context, node string, o WaitOptions) (*sshx.Client, error) {
	if !o.Rescue || a.agent == nil || len(a.Addresses(node)) == 0 {
		return a.connect(ctx, node, 0, o.Poll, o.Attempt, nil)
	}
	wctx, cancel := context.WithCancel(ctx)
	w := a.newWatch()
	var last *verdict
	rescued := make(chan struct{})
	go func() {
		defer close(rescued)
		last = a.rescue(wctx, node, w, o)
	}()
	// A try that failed is asked about too (rescue asks at most every
	// rescueEvery).
	attempt := func(addr string, err error) error {
		w.request()
		if o.Attempt == nil {
			return nil
		}
		return o.Attempt(addr, err)
	}
	c, err := a.connect(wctx, node, 0, o.Poll, attempt, w)
	cancel()
	<-rescued
	if err == nil || errors.Is(err, context.Canceled) {
		return c, err
	}
	if last == nil {
		// Never asked (the wait ran out first): ask once now.
		actx, done := context.WithTimeout(context.WithoutCancel(ctx), diagnoseTimeout)
		defer done()
		v := <-a.ask(actx, node)
		last = &v
	}
	return nil, a.explain(node, err, *last)
}

// rescue serves w's requests until ctx ends (see WaitOptions) and returns
// the last verdict, nil when the agent was never asked.
func (a *Access) rescue(ctx context.Context, node string, w *watch, o WaitOptions) *verdict {
	var last *verdict
	var asked time.Time
	restores := 0
	for {
		select {
		case <-ctx.Done():
			return last
		case <-w.ask:
		}
		if time.Now().Before(o.RescueFrom) || (!asked.IsZero() && time.Since(asked) < rescueEvery) {
			continue
		}
		asked = time.Now()
		d, err := a.Diagnose(ctx, node)
		if ctx.Err() != nil {
			return last
		}
		last = &verdict{d, err}
		if !d.CutOff() || restores == maxRestores || repairScript(d) == "" {
			continue
		}
		restores++
		err = a.Restore(ctx, node, d)
		if o.Restored != nil {
			o.Restored(d, err)
		}
		w.cut()
	}
}
