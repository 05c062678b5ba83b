package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/console"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/seed"
	"github.com/lvslab/lvslab/provision/sshx"
)

// pollInterval is the pause between SSH attempts on one node: short, since
// a refused connection costs nothing and every second of it counts against
// the plain-virsh floor (which polls every 0.2 s).
const pollInterval = 250 * time.Millisecond

// waitSSH waits, on all nodes at once, until each accepts the SSH login.
func waitSSH(r *run) error {
	timeout := r.opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeoutTCG
		if r.domType == host.DomainKVM {
			timeout = DefaultTimeoutKVM
		}
	}
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	var err error
	// While nodes boot, each try is short and the next one follows.
	r.access, err = access.Open(r.conn, r.lab.Name, access.Options{Home: r.opts.Home, File: r.lab,
		Signer: r.signer, DialWindow: 10 * time.Second, Connector: r.opts.Connector, Consoles: r.opts.Consoles})
	if err != nil {
		return err
	}
	var names []string
	for _, n := range r.nodes {
		n.endpoint = &Endpoint{
			Node: n.node.Name, Domain: n.domain, User: r.lab.Login.User,
			KeyFile: r.keyFile, KnownHostsFile: r.knownHosts, HostKeyAlias: n.domain,
			ConsoleLog: n.consoleLog, Created: !n.exists,
		}
		names = append(names, n.node.Name)
	}
	r.progress = newNodeProgress(r.out, names)
	r.progressf("  waiting for SSH on %d nodes (timeout %s)\n", len(r.nodes), timeout)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(r.nodes))
	for i, n := range r.nodes {
		wg.Go(func() {
			if err := r.waitNode(ctx, n, start); err != nil {
				errs[i] = err
				if r.ctx.Err() != nil {
					r.progress.set(n.node.Name, "interrupted")
				} else {
					r.progress.set(n.node.Name, "FAILED: "+firstLine(err.Error()))
				}
				return
			}
			n.endpoint.Ready = time.Since(start)
			r.progress.set(n.node.Name, fmt.Sprintf("ready on %s after %s", n.endpoint.Addr, n.endpoint.Ready.Round(100*time.Millisecond)))
		})
	}
	wg.Wait()
	r.progress.finish()
	r.sshReady = time.Since(start)
	return errors.Join(errs...)
}

// waitNode waits until the node accepts the login, its VM stops, or ctx
// ends. The error names the node, the addresses and user tried, the last
// error and the console log.
func (r *run) waitNode(ctx context.Context, n *nodeRun, start time.Time) error {
	ep := n.endpoint
	addrs := r.access.Addresses(n.node.Name)
	if len(addrs) == 0 {
		return fmt.Errorf("node %s has no management address to reach it on", n.node.Name)
	}
	user := ep.User
	if user == "" {
		user = "root"
	}
	if err := r.bootstrap(ctx, n); err != nil {
		return err
	}
	r.progress.set(n.node.Name, waitingLine(access.SSHAddr(addrs[0]), user, nil, 0))
	lastCheck := time.Now()
	var stopped error
	_, err := r.access.Wait(ctx, n.node.Name, pollInterval, func(addr string, err error) error {
		r.progress.set(n.node.Name, waitingLine(addr, user, err, time.Since(start)))
		if time.Since(lastCheck) < 5*time.Second {
			return nil
		}
		lastCheck = time.Now()
		if state := host.DomainStateOf(r.conn, n.domain); state != "" && !state.Runs() {
			stopped = fmt.Errorf("node %s: the VM %s is %s while lvslab waited for SSH on %s; see its serial console log %s", n.node.Name, n.domain, state, addr, r.logPlace(n))
		}
		return stopped
	})
	if err != nil {
		var changed *sshx.HostKeyChangedError
		if stopped != nil || errors.As(err, &changed) {
			return err
		}
		return fmt.Errorf("node %s: no SSH login as %s on %s: %w; see the serial console log %s (or \"lvslab console %s --lab %s\")",
			n.node.Name, user, addrs[0], err, r.logPlace(n), n.node.Name, r.lab.Name)
	}
	ep.Addr = access.SSHAddr(addrs[0])
	return nil
}

// bootstrap sets up access to a node this run created from an image that
// reads no seed: over its serial console, logged in with the lab file's
// login (see access.Bootstrap).
func (r *run) bootstrap(ctx context.Context, n *nodeRun) error {
	if n.exists || r.img.Seeding() != image.SeedConsole {
		return nil
	}
	script, err := seed.ConsoleScript(r.seedConfig(n))
	if err != nil {
		return err
	}
	login := access.ConsoleLogin{User: r.lab.Login.User, Password: r.lab.Login.Password}
	if err := r.access.Bootstrap(ctx, n.node.Name, login, script, func(s string) { r.progress.set(n.node.Name, s) }); err != nil {
		return fmt.Errorf("%w (its serial console log: %s)", err, r.logPlace(n))
	}
	return nil
}

// logPlace names a node's console log for messages: "PATH", or "PATH on
// root@host" when it lives on a remote hypervisor.
func (r *run) logPlace(n *nodeRun) string { return host.LogOn(n.consoleLog, r.remote) }

func waitingLine(addr, user string, last error, elapsed time.Duration) string {
	s := fmt.Sprintf("waiting for SSH %s@%s (%s)", user, addr, elapsed.Round(time.Second))
	if last != nil {
		s += ": " + shortError(last)
	}
	return s
}

// shortError is the end of a dial error, which says most ("connection refused").
func shortError(err error) string {
	s := firstLine(err.Error())
	if i := strings.LastIndex(s, ": "); i >= 0 && len(s)-i < 60 {
		return s[i+2:]
	}
	if len(s) > 80 {
		return s[len(s)-80:]
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// nodeProgress shows one status line per node: redrawn in place on a
// terminal, printed as plain lines (only when a node's state changes kind)
// otherwise.
type nodeProgress struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	names  []string
	width  int
	lines  map[string]string
	kinds  map[string]string
	drawn  bool
	closed bool
}

func newNodeProgress(w io.Writer, names []string) *nodeProgress {
	p := &nodeProgress{w: w, tty: console.Interactive(w), names: names, lines: map[string]string{}, kinds: map[string]string{}}
	for _, n := range names {
		if len(n) > p.width {
			p.width = len(n)
		}
	}
	return p
}

func (p *nodeProgress) set(node, line string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.lines[node] == line {
		return
	}
	p.lines[node] = line
	if p.tty {
		p.redraw()
		return
	}
	kind := line
	if i := strings.IndexAny(kind, "(:"); i >= 0 {
		kind = kind[:i]
	}
	if p.kinds[node] != kind {
		p.kinds[node] = kind
		fmt.Fprintf(p.w, "    %-*s  %s\n", p.width, node, line)
	}
}

func (p *nodeProgress) redraw() {
	if p.drawn {
		fmt.Fprintf(p.w, "\x1b[%dA", len(p.names))
	}
	for _, n := range p.names {
		fmt.Fprintf(p.w, "\r\x1b[2K    %-*s  %s\n", p.width, n, p.lines[n])
	}
	p.drawn = true
}

func (p *nodeProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
}
