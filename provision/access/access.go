package access

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
)

// commandTimeout bounds each command run over an Access's executors whose
// context has no deadline of its own (a verify loop runs for minutes).
const commandTimeout = 2 * time.Minute

// Access is the one way lvslab reaches the nodes of a lab: the lab's login
// key and pinned host keys from its state folder, and each node's
// management address as its tag records it (never a lab address: the lab
// is the student's to break). It dials with the caller's context (Ctrl-C
// cancels a dial) and keeps one connection per node. up, configure, status,
// verify and drill all use it. On a remote libvirt (qemu+ssh://user@host/)
// every node is dialled through one SSH connection to that host (JumpFor),
// since the management network exists only there.
type Access struct {
	conn       *host.Conn
	lab        string
	file       *topology.Lab // nil when only the recorded state is known
	paths      paths.Root
	signer     ssh.Signer
	tags       map[string]host.DomainInfo // by node
	mu         sync.Mutex
	clients    map[string]*sshx.Client
	connector  Connector
	dialWindow time.Duration
	// remote is the hypervisor of a remote libvirt, jump the shared SSH
	// connection to it that every node is dialled through (nil: local).
	remote *host.Remote
	jump   *sshx.Jump
	// consoles opens a node's serial console (nil: OpenConsole).
	consoles ConsoleOpener
	// agent reaches the nodes' guest agents (rescue.go), nil when there
	// is no libvirt; tcp opens TCP connections where there is no jump;
	// tcpWindow is how long one may take before the agent is asked why.
	agent     host.Agent
	tcp       dialFunc
	tcpWindow time.Duration
	cutOff    map[string]cutOffNote
}

// Connector logs in to a node, retrying as r says: sshx.WaitReady does it
// over SSH. Tests on test:///default, which has no guests, answer for them.
type Connector interface {
	Connect(ctx context.Context, cfg sshx.Config, r sshx.Retry) (*sshx.Client, error)
}

// ConnectFunc is a function that is a Connector.
type ConnectFunc func(ctx context.Context, cfg sshx.Config, r sshx.Retry) (*sshx.Client, error)

// Connect calls f.
func (f ConnectFunc) Connect(ctx context.Context, cfg sshx.Config, r sshx.Retry) (*sshx.Client, error) {
	return f(ctx, cfg, r)
}

// Options tune Open.
type Options struct {
	// Paths are lvslab's folders: the lab's key and pins.
	Paths paths.Root
	// File is the lab file when one is known: its login.
	File *topology.Lab
	// Signer is the lab's login key when the caller holds it already (else
	// it is read from the lab's state folder on the first dial).
	Signer ssh.Signer
	// DialWindow bounds one try of a dial: TCP connect and handshake (0
	// means dialWindow).
	DialWindow time.Duration
	// Connector logs in to the nodes (nil means sshx.WaitReady).
	Connector Connector
	// Consoles opens a node's serial console for Bootstrap (nil means
	// through libvirt).
	Consoles ConsoleOpener
	// Agent reaches the nodes' guest agents (nil means through libvirt).
	Agent host.Agent
}

// Open reads what lab recorded of its nodes. It does not dial: a
// lab that is not up fails at Dial, with the way out. Close it when done.
func Open(conn *host.Conn, lab string, opts Options) (*Access, error) {
	a, err := newAccess(conn, lab, opts)
	if err != nil {
		return nil, err
	}
	if err := a.readTags(); err != nil {
		return nil, err
	}
	return a, nil
}

func newAccess(conn *host.Conn, lab string, opts Options) (*Access, error) {
	if err := opts.Paths.Check(); err != nil {
		return nil, err
	}
	a := &Access{conn: conn, lab: lab, file: opts.File, paths: opts.Paths, clients: map[string]*sshx.Client{},
		signer: opts.Signer, connector: opts.Connector, dialWindow: opts.DialWindow, consoles: opts.Consoles,
		agent: opts.Agent, tcp: (&net.Dialer{}).DialContext, tcpWindow: tcpWindow, cutOff: map[string]cutOffNote{}}
	if a.agent == nil && conn != nil {
		a.agent = host.LibvirtAgent{Conn: conn}
	}
	if a.connector == nil {
		a.connector = ConnectFunc(sshx.WaitReady)
	}
	if a.dialWindow <= 0 {
		a.dialWindow = dialWindow
	}
	remote, err := host.RemoteOf(conn)
	if err != nil {
		return nil, err
	}
	if remote != nil {
		a.remote, a.jump = remote, JumpFor(remote)
	}
	return a, nil
}

// Remote is the hypervisor the nodes are reached through, nil when libvirt
// is local.
func (a *Access) Remote() *host.Remote { return a.remote }

// readTags (re)reads the tag of every domain of the lab.
func (a *Access) readTags() error {
	domains, err := host.ListDomains(a.conn)
	if err != nil {
		return err
	}
	a.tags = map[string]host.DomainInfo{}
	for _, d := range domains {
		if d.Tag.Name == a.lab {
			a.tags[d.Tag.Node] = d
		}
	}
	return nil
}

// Addresses are where node is reached: its management address, as its
// tag records it.
func (a *Access) Addresses(node string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addresses(node)
}

func (a *Access) addresses(node string) []string {
	if d, ok := a.tags[node]; ok && d.Tag.Mgmt != "" {
		return []string{d.Tag.Mgmt}
	}
	return nil
}

// dialWindow is how long Dial gives one try (TCP connect and handshake):
// a TCG guest on a busy machine can take long to answer.
const dialWindow = 30 * time.Second

// Dial returns node's executor, connecting on first use: one try, for up
// to dialWindow (or StatusOptions' DialTimeout). A node that does not
// answer has its guest agent asked why (rescue.go): a *CutOffError names
// the causes, as soon as the agent read them; a *NoAgentError names the
// serial console when no agent answers.
func (a *Access) Dial(ctx context.Context, node string) (*sshx.Client, error) {
	if err := a.vmDown(node); err != nil {
		return nil, err
	}
	if err := a.knownCutOff(node); err != nil {
		return nil, err
	}
	once := func(_ string, err error) error { return err }
	if a.agent == nil || len(a.Addresses(node)) == 0 {
		return a.connect(ctx, node, 0, 0, once, nil)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := a.newWatch()
	type dialed struct {
		c   *sshx.Client
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		c, err := a.connect(ctx, node, 0, 0, once, w)
		done <- dialed{c, err}
	}()
	var asked chan verdict
	var got *verdict
	for {
		select {
		case d := <-done:
			if d.err == nil || !worthAsking(ctx, d.err) {
				return d.c, d.err
			}
			if got == nil {
				if asked == nil {
					asked = a.ask(ctx, node)
				}
				v := <-asked
				got = &v
			}
			if got.healthy() && a.dialWindow < dialWindow {
				// The agent finds nothing wrong: the guest is slow, not cut
				// off (TCG on a busy machine missed status's 2 s), so one
				// more try gets the full window.
				if c, err := a.connect(ctx, node, dialWindow, 0, once, nil); err == nil {
					return c, nil
				}
			}
			return nil, a.explain(node, d.err, *got)
		case <-w.ask:
			if asked == nil && got == nil {
				asked = a.ask(ctx, node)
			}
		case v := <-asked:
			asked, got = nil, &v
			if v.d.CutOff() {
				cancel()
				<-done
				return nil, a.explain(node, nil, v)
			}
		}
	}
}

// Dialer is Dial as the one node interface every reader takes (verify,
// check, the engine), dialled with ctx.
func (a *Access) Dialer(ctx context.Context) guest.Dialer {
	return func(node string) (guest.Executor, error) {
		c, err := a.Dial(ctx, node)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// connect logs in to node, each try given window (0: the Access's).
func (a *Access) connect(ctx context.Context, node string, window, poll time.Duration, attempt func(string, error) error, w *watch) (*sshx.Client, error) {
	a.mu.Lock()
	c, ok := a.clients[node]
	a.mu.Unlock()
	if ok {
		return c, nil
	}
	cfg, err := a.config(node)
	if err != nil {
		return nil, err
	}
	if window > 0 {
		cfg.DialTimeout = window
	}
	if w != nil {
		base := cfg.Dialer
		if base == nil {
			base = a.tcp
		}
		cfg.Dialer = w.dialer(base)
	}
	c, err = a.connector.Connect(ctx, cfg, sshx.Retry{Poll: poll, Attempt: attempt})
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if old, raced := a.clients[node]; raced {
		a.mu.Unlock()
		if c != nil {
			c.Close()
		}
		return old, nil
	}
	a.clients[node] = c
	a.mu.Unlock()
	return c, nil
}

// config is how to log in to node.
func (a *Access) config(node string) (sshx.Config, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	addrs := a.addresses(node)
	if len(addrs) == 0 {
		return sshx.Config{}, fmt.Errorf("node %s of lab %s has no VM with a management address (is it up? \"lvslab status %s\")", node, a.lab, a.lab)
	}
	if a.signer == nil {
		if _, err := os.Stat(a.paths.KeyFile(a.lab)); err != nil {
			return sshx.Config{}, fmt.Errorf("lab %s has no login key in %s: is it up? (\"lvslab up\" makes it)", a.lab, a.paths.LabDir(a.lab))
		}
		signer, _, err := sshx.EnsureKey(a.paths.KeyFile(a.lab))
		if err != nil {
			return sshx.Config{}, err
		}
		a.signer = signer
	}
	cfg := sshx.Config{
		Node: node, Addr: SSHAddr(addrs[0]), Signer: a.signer,
		KnownHostsFile: a.paths.KnownHostsFile(a.lab), HostKeyAlias: paths.DomainName(a.lab, node),
		Timeout: commandTimeout, DialTimeout: a.dialWindow,
	}
	if a.file != nil {
		cfg.User, cfg.Password = a.file.Login.User, a.file.Login.Password
	}
	if a.jump != nil {
		cfg.Dialer = a.jump.DialContext
	}
	return cfg, nil
}

// Close ends every connection.
func (a *Access) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for node, c := range a.clients {
		if c != nil {
			errs = append(errs, c.Close())
		}
		delete(a.clients, node)
	}
	return errors.Join(errs...)
}

func SSHAddr(host string) string {
	if strings.Contains(host, ":") {
		return host
	}
	return host + ":22"
}

// vmDown says why node cannot answer SSH when libvirt knows its VM and the
// VM is not running: "web1's VM tedu-web1 is shut off: run \"lvslab up
// tedu-nat\"" — at once, instead of an SSH timeout minutes later. It is nil
// when the VM runs, when a connection to it is open already, or when
// libvirt does not know it (a node lvslab did not make is only reached over
// SSH).
func (a *Access) vmDown(node string) error {
	a.mu.Lock()
	_, open := a.clients[node]
	a.mu.Unlock()
	if open || a.conn == nil {
		return nil
	}
	name := paths.DomainName(a.lab, node)
	state := host.DomainStateOf(a.conn, name)
	if state == "" || state == host.StateRunning {
		return nil
	}
	return fmt.Errorf("%s's VM %s is %s: run %q to start it", node, name, state, a.upCommand(node))
}
