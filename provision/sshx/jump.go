package sshx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// JumpConfig says how to log in to a jump host (a remote hypervisor) whose
// SSH server forwards TCP to the lab's nodes, as ProxyJump does.
type JumpConfig struct {
	// User and Addr (host:port) of the jump host's SSH server.
	User, Addr string
	// KeyFiles are tried first, in order (the libvirt URI's keyfile).
	KeyFiles []string
	// Agent also offers the keys of the ssh-agent at SSH_AUTH_SOCK.
	Agent bool
	// DefaultKeys also offers ~/.ssh/id_ed25519, id_ecdsa and id_rsa.
	DefaultKeys bool
	// KnownHostsFiles check the jump host's key (default ~/.ssh/known_hosts).
	KnownHostsFiles []string
	// NoVerify accepts any host key, as libvirt's no_verify=1 does.
	NoVerify bool
	// Origin names where the settings come from in errors ("the libvirt
	// URI qemu+ssh://root@h/system").
	Origin string
	// DialTimeout bounds the connect and handshake (default 10 s).
	DialTimeout time.Duration
}

// JumpError is a failure to reach or log in to the jump host, told with the
// way out. Unlike a node that is still booting, waiting does not fix it.
type JumpError struct {
	Addr  string
	Stage string // "connect", "login", "host key"
	Err   error
	Hint  string
}

func (e *JumpError) Error() string {
	s := fmt.Sprintf("jump host %s: %s: %v", e.Addr, e.Stage, e.Err)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e *JumpError) Unwrap() error { return e.Err }

// Jump is one SSH connection to a jump host, shared by every node behind
// it: each node connection is a direct-tcpip channel of it. It reconnects
// when the connection drops. It is safe for concurrent use.
type Jump struct {
	cfg   JumpConfig
	mu    sync.Mutex
	conn  *ssh.Client
	dials atomic.Int32
}

// NewJump prepares a jump host; it connects on first use.
func NewJump(cfg JumpConfig) *Jump {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	if len(cfg.KnownHostsFiles) == 0 {
		if home, err := os.UserHomeDir(); err == nil {
			cfg.KnownHostsFiles = []string{filepath.Join(home, ".ssh", "known_hosts")}
		}
	}
	return &Jump{cfg: cfg}
}

// Addr is user@host:port of the jump host.
func (j *Jump) Addr() string { return j.cfg.User + "@" + j.cfg.Addr }

// Config is what the jump was made from.
func (j *Jump) Config() JumpConfig { return j.cfg }

// DialContext opens a TCP connection to addr from the jump host.
func (j *Jump) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := j.client(ctx)
	if err != nil {
		return nil, err
	}
	c, err := conn.DialContext(ctx, network, addr)
	if err == nil {
		return c, nil
	}
	var open *ssh.OpenChannelError
	if errors.As(err, &open) {
		if open.Reason == ssh.Prohibited {
			return nil, &JumpError{Addr: j.cfg.Addr, Stage: "forward to " + addr, Err: err,
				Hint: "the jump host's sshd must allow TCP forwarding: AllowTcpForwarding yes in its sshd_config"}
		}
		return nil, fmt.Errorf("through %s: %w", j.Addr(), err) // the node does not answer (yet)
	}
	// The connection to the jump host broke: the next try dials again.
	j.forget(conn)
	return nil, fmt.Errorf("through %s: %w", j.Addr(), err)
}

// Dials counts the SSH connections made to the jump host.
func (j *Jump) Dials() int { return int(j.dials.Load()) }

// Close ends the connection to the jump host (and every node behind it).
func (j *Jump) Close() error {
	j.mu.Lock()
	conn := j.conn
	j.conn = nil
	j.mu.Unlock()
	if conn != nil {
		return conn.Close()
	}
	return nil
}

func (j *Jump) forget(conn *ssh.Client) {
	j.mu.Lock()
	if j.conn == conn {
		j.conn = nil
	}
	j.mu.Unlock()
	conn.Close()
}

// client is the live connection to the jump host, dialled if needed.
func (j *Jump) client(ctx context.Context) (*ssh.Client, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.conn != nil {
		return j.conn, nil
	}
	conn, err := j.dial(ctx)
	if err != nil {
		return nil, err
	}
	j.dials.Add(1)
	j.conn = conn
	go func() {
		conn.Wait()
		j.mu.Lock()
		if j.conn == conn {
			j.conn = nil
		}
		j.mu.Unlock()
	}()
	return conn, nil
}

func (j *Jump) dial(ctx context.Context) (*ssh.Client, error) {
	fail := func(stage string, err error, hint string) error {
		return &JumpError{Addr: j.cfg.Addr, Stage: stage, Err: err, Hint: hint}
	}
	signers, notes, closeAgent := j.signers()
	defer closeAgent()
	if len(signers) == 0 {
		return nil, fail("login", errors.New("no SSH key to log in with"), j.keyHint(notes))
	}
	callback, err := j.hostKeyCallback()
	if err != nil {
		return nil, fail("host key", err, "")
	}
	ctx, cancel := context.WithTimeout(ctx, j.cfg.DialTimeout)
	defer cancel()
	var dialer net.Dialer
	tcp, err := dialer.DialContext(ctx, "tcp", j.cfg.Addr)
	if err != nil {
		return nil, fail("connect", err, "is the host up and its sshd running? the libvirt connection uses the same host")
	}
	conn, err := handshake(ctx, tcp, j.cfg.Addr, &ssh.ClientConfig{
		User: j.cfg.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signers...)}, HostKeyCallback: callback,
	})
	if err != nil {
		var unknown *unknownJumpHost
		switch {
		case errors.As(err, &unknown):
			return nil, fail("host key", err, fmt.Sprintf("add its key to %s (connect once with \"ssh %s\" and check the fingerprint), name a file with known_hosts=FILE in %s, or add no_verify=1 there",
				strings.Join(j.cfg.KnownHostsFiles, " or "), j.Addr(), j.origin()))
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fail("login", err, j.keyHint(notes))
		case strings.Contains(err.Error(), "key mismatch"), strings.Contains(err.Error(), "knownhosts"):
			return nil, fail("host key", err, "the host offers another key than known_hosts pins: if it was reinstalled, remove the old line (ssh-keygen -R HOST)")
		}
		return nil, fail("connect", err, "")
	}
	return conn, nil
}

func (j *Jump) origin() string {
	if j.cfg.Origin == "" {
		return "the connection settings"
	}
	return j.cfg.Origin
}

func (j *Jump) keyHint(notes []string) string {
	h := fmt.Sprintf("lvslab logs in to %s with the key of keyfile=FILE in %s, the keys of ssh-agent (SSH_AUTH_SOCK) and ~/.ssh/id_*: one of them must be in that user's authorized_keys", j.Addr(), j.origin())
	if len(notes) > 0 {
		h += "; " + strings.Join(notes, "; ")
	}
	return h
}

// signers are the keys offered: key files, agent, default keys; notes say
// why some were left out. The agent signs during the handshake: closeAgent
// after it.
func (j *Jump) signers() (out []ssh.Signer, notes []string, closeAgent func()) {
	closeAgent = func() {}
	files := append([]string(nil), j.cfg.KeyFiles...)
	var defaults []string
	if j.cfg.DefaultKeys {
		if home, err := os.UserHomeDir(); err == nil {
			for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
				defaults = append(defaults, filepath.Join(home, ".ssh", n))
			}
		}
	}
	add := func(path string, must bool) {
		data, err := os.ReadFile(path)
		if err != nil {
			if must {
				notes = append(notes, fmt.Sprintf("key file %s: %v", path, err))
			}
			return
		}
		s, err := ssh.ParsePrivateKey(data)
		if err != nil {
			notes = append(notes, fmt.Sprintf("key file %s: %v (a key with a passphrase works through ssh-agent)", path, err))
			return
		}
		out = append(out, s)
	}
	for _, f := range files {
		add(f, true)
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); j.cfg.Agent && sock != "" {
		if c, err := net.Dial("unix", sock); err == nil {
			closeAgent = func() { c.Close() }
			if keys, err := agent.NewClient(c).Signers(); err == nil {
				out = append(out, keys...)
			}
		}
	}
	for _, f := range defaults {
		add(f, false)
	}
	return out, notes, closeAgent
}

// unknownJumpHost is a jump host whose key no known_hosts file lists.
type unknownJumpHost struct{ host, fingerprint string }

func (e *unknownJumpHost) Error() string {
	return fmt.Sprintf("%s is not in known_hosts (it offers %s)", e.host, e.fingerprint)
}

func (j *Jump) hostKeyCallback() (ssh.HostKeyCallback, error) {
	if j.cfg.NoVerify {
		return ssh.InsecureIgnoreHostKey(), nil
	}
	var files []string
	for _, f := range j.cfg.KnownHostsFiles {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return func(host string, _ net.Addr, key ssh.PublicKey) error {
			return &unknownJumpHost{host: host, fingerprint: ssh.FingerprintSHA256(key)}
		}, nil
	}
	check, err := knownhosts.New(files...)
	if err != nil {
		return nil, err
	}
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := check(host, remote, key)
		var keyErr *knownhosts.KeyError
		if errors.As(err, &keyErr) && len(keyErr.Want) == 0 {
			return &unknownJumpHost{host: host, fingerprint: ssh.FingerprintSHA256(key)}
		}
		return err
	}, nil
}

// DirectTCPIP is what a direct-tcpip channel (a ProxyJump, RFC 4254 7.2)
// asks of an SSH server: a connection to Host:Port, for the client at
// OriginHost:OriginPort.
type DirectTCPIP struct {
	Host       string
	Port       uint32
	OriginHost string
	OriginPort uint32
}

// ParseDirectTCPIP reads the request of a direct-tcpip channel.
func ParseDirectTCPIP(nch ssh.NewChannel) (DirectTCPIP, error) {
	var p DirectTCPIP
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		return DirectTCPIP{}, fmt.Errorf("malformed direct-tcpip request: %w", err)
	}
	return p, nil
}
