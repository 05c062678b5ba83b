// Package sshx is the real executor of roles/engine and verify: it runs commands and moves files
// on a lab node over one reused SSH connection, with pinned host keys.
package sshx

import (
	"context"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	defaultUser        = "root"
	defaultTimeout     = 60 * time.Second
	defaultDialTimeout = 10 * time.Second
)

// Config says how to reach one node.
type Config struct {
	// Node names the node in errors and logs.
	Node string
	// Addr is host:port of the node's SSH server.
	Addr string
	// User defaults to root.
	User string
	// Signer is the lab key; preferred over Password when both are set.
	Signer ssh.Signer
	// Password is a fallback login; it never appears in errors or logs.
	Password string
	// KnownHostsFile is the lab's known_hosts; unknown hosts are pinned on
	// first use, a changed key is refused.
	KnownHostsFile string
	// HostKeyAlias, when set, is the name the host key is pinned under
	// instead of Addr, so that the key stays valid when the node is
	// re-addressed.
	HostKeyAlias string
	// Timeout bounds each command or file transfer whose context has no
	// deadline. Defaults to 60s.
	Timeout time.Duration
	// DialTimeout bounds the TCP connect plus SSH handshake. Defaults to 10s.
	DialTimeout time.Duration
	// Dialer opens the TCP connection to Addr; nil dials directly. A Jump's
	// DialContext reaches a node behind a remote hypervisor.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (c Config) withDefaults() Config {
	if c.User == "" {
		c.User = defaultUser
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = defaultDialTimeout
	}
	if c.Node == "" {
		c.Node = c.Addr
	}
	return c
}

// authMethods lists the configured logins, key first, with their names for
// messages (names only: a password is never shown).
func (c Config) authMethods() (methods []ssh.AuthMethod, names []string) {
	if c.Signer != nil {
		methods = append(methods, ssh.PublicKeys(c.Signer))
		names = append(names, "publickey")
	}
	if c.Password != "" {
		// Servers ask for passwords either way; keyboard-interactive is
		// what sshd offers when PAM handles logins.
		methods = append(methods, ssh.Password(c.Password), ssh.KeyboardInteractive(c.answerWithPassword))
		names = append(names, "password")
	}
	return methods, names
}

// answerWithPassword answers the hidden prompts of a keyboard-interactive
// login (the password prompt) and leaves echoed ones empty.
func (c Config) answerWithPassword(_, _ string, questions []string, echos []bool) ([]string, error) {
	answers := make([]string, len(questions))
	for i := range questions {
		if !echos[i] {
			answers[i] = c.Password
		}
	}
	return answers, nil
}

// hostKeyName is the known_hosts name the node's key is checked and pinned
// under.
func (c Config) hostKeyName() string {
	if c.HostKeyAlias == "" {
		return c.Addr
	}
	if _, _, err := net.SplitHostPort(c.HostKeyAlias); err == nil {
		return c.HostKeyAlias
	}
	return net.JoinHostPort(c.HostKeyAlias, "22")
}

// describe is "root@192.168.2.100:22 (publickey, password)" for messages.
func (c Config) describe() string {
	_, names := c.authMethods()
	auth := "no auth method"
	if len(names) > 0 {
		auth = strings.Join(names, ", ")
	}
	return c.User + "@" + c.Addr + " (" + auth + ")"
}
