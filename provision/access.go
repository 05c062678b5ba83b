package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/topology"
)

// commandTimeout bounds each command run over an Access's executors whose
// context has no deadline of its own (a verify loop runs for minutes).
const commandTimeout = 2 * time.Minute

// Access is the one way lvslab reaches the nodes of a lab: the lab's login
// key and pinned host keys from its state folder, each node's address from
// what the lab recorded (its tag: where the node answered last), then the
// lab file's addresses. It dials with the caller's context (Ctrl-C cancels
// a dial), keeps one connection per node, and is the only writer of the
// recorded address. up, configure, status, verify and drill all use it.
type Access struct {
	conn       *libvirt.Connect
	lab        string
	file       *topology.Lab // nil when only the recorded state is known
	stateDir   string
	signer     ssh.Signer
	tags       map[string]DomainInfo // by node
	mu         sync.Mutex
	clients    map[string]*sshx.Client
	waitFor    waitFunc
	dialWindow time.Duration
	readOnly   bool // records nothing in the tags (up --dry-run)
}

// waitFunc dials a node until it answers (sshx.WaitReady); tests replace it.
type waitFunc func(ctx context.Context, cfg sshx.Config, r sshx.Retry) (client *sshx.Client, addr string, err error)

func waitReady(ctx context.Context, cfg sshx.Config, r sshx.Retry) (*sshx.Client, string, error) {
	c, err := sshx.WaitReady(ctx, cfg, r)
	if err != nil {
		return nil, "", err
	}
	return c, c.Addr(), nil
}

// AccessOptions tune OpenAccess.
type AccessOptions struct {
	// Home is lvslab's state folder ("" means Home()).
	Home string
	// File is the lab file when one is known: its login and its addresses
	// (tried after the recorded one).
	File *topology.Lab
}

// OpenAccess reads what lab recorded of its nodes. It does not dial: a
// lab that is not up fails at Dial, with the way out. Close it when done.
func OpenAccess(conn *libvirt.Connect, lab string, opts AccessOptions) (*Access, error) {
	a := newAccess(conn, lab, StateDir(opts.Home, lab), opts.File)
	if err := a.readTags(); err != nil {
		return nil, err
	}
	return a, nil
}

func newAccess(conn *libvirt.Connect, lab, stateDir string, file *topology.Lab) *Access {
	return &Access{conn: conn, lab: lab, file: file, stateDir: stateDir, clients: map[string]*sshx.Client{}, waitFor: waitReady, dialWindow: dialWindow}
}

// readTags (re)reads the tag of every domain of the lab.
func (a *Access) readTags() error {
	domains, err := listDomains(a.conn)
	if err != nil {
		return err
	}
	a.tags = map[string]DomainInfo{}
	for _, d := range domains {
		if d.Tag.Name == a.lab {
			a.tags[d.Tag.Node] = d
		}
	}
	return nil
}

// Addresses are where node is looked for, in order: the address it last
// answered on (recorded in its tag), then the lab file's addresses.
func (a *Access) Addresses(node string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addresses(node)
}

func (a *Access) addresses(node string) []string {
	var out []string
	if d, ok := a.tags[node]; ok && d.Tag.SSH != "" {
		out = append(out, d.Tag.SSH)
	}
	if a.file != nil {
		if n := a.file.Node(node); n != nil {
			for _, addr := range n.Addresses() {
				if s := addr.String(); !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// dialWindow is how long Dial gives one try (TCP connect and handshake):
// a TCG guest on a busy machine can take long to answer.
const dialWindow = 30 * time.Second

// Dial returns node's executor, connecting on first use; each of its
// addresses is tried once, for up to dialWindow (or StatusOptions'
// DialTimeout).
func (a *Access) Dial(ctx context.Context, node string) (*sshx.Client, error) {
	if err := a.vmDown(node); err != nil {
		return nil, err
	}
	tries := len(a.Addresses(node))
	return a.connect(ctx, node, 0, func(_ string, err error) error {
		if tries--; tries <= 0 {
			return err
		}
		return nil
	})
}

// Wait is Dial for a node that is booting: it polls every poll until the
// login succeeds or ctx ends; attempt sees each failure, and an error it
// returns stops the wait (the VM stopped).
func (a *Access) Wait(ctx context.Context, node string, poll time.Duration, attempt func(addr string, err error) error) (*sshx.Client, error) {
	return a.connect(ctx, node, poll, attempt)
}

func (a *Access) connect(ctx context.Context, node string, poll time.Duration, attempt func(string, error) error) (*sshx.Client, error) {
	a.mu.Lock()
	c, ok := a.clients[node]
	a.mu.Unlock()
	if ok {
		return c, nil
	}
	cfg, addrs, err := a.config(node)
	if err != nil {
		return nil, err
	}
	c, addr, err := a.waitFor(ctx, cfg, sshx.Retry{Poll: poll, Addrs: addrs, Attempt: attempt})
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
	return c, a.record(node, addr)
}

// config is how to log in to node, and the host:port to try.
func (a *Access) config(node string) (sshx.Config, []string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var addrs []string
	for _, h := range a.addresses(node) {
		addrs = append(addrs, sshAddr(h))
	}
	if len(addrs) == 0 {
		return sshx.Config{}, nil, fmt.Errorf("node %s of lab %s has no address to reach it on (is it up? \"lvslab status %s\")", node, a.lab, a.lab)
	}
	if a.signer == nil {
		if _, err := os.Stat(KeyFile(a.stateDir)); err != nil {
			return sshx.Config{}, nil, fmt.Errorf("lab %s has no login key in %s: is it up? (\"lvslab up\" makes it)", a.lab, a.stateDir)
		}
		signer, _, err := sshx.EnsureKey(a.stateDir)
		if err != nil {
			return sshx.Config{}, nil, err
		}
		a.signer = signer
	}
	cfg := sshx.Config{
		Node: node, Addr: addrs[0], Signer: a.signer,
		KnownHostsFile: KnownHostsFile(a.stateDir), HostKeyAlias: DomainName(a.lab, node),
		Timeout: commandTimeout, DialTimeout: a.dialWindow,
	}
	if a.file != nil {
		cfg.User, cfg.Password = a.file.Login.User, a.file.Login.Password
	}
	return cfg, addrs, nil
}

// Remember records where node's executor talks now: the configure phase
// calls it after moving a node (NAT -> DR), so that the next command looks
// there first.
func (a *Access) Remember(node string) error {
	a.mu.Lock()
	c := a.clients[node]
	a.mu.Unlock()
	if c == nil {
		return nil
	}
	return a.record(node, c.Addr())
}

// record writes addr (host:port) into node's tag unless it is there.
func (a *Access) record(node, addr string) error {
	host := strings.TrimSuffix(addr, ":22")
	a.mu.Lock()
	defer a.mu.Unlock()
	d, ok := a.tags[node]
	if !ok || d.Tag.SSH == host || a.readOnly {
		return nil
	}
	d.Tag.SSH = host
	if err := setTag(a.conn, d.Name, d.Tag); err != nil {
		return err
	}
	a.tags[node] = d
	return nil
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
