package sshx

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/lvslab/lvslab/topology/testkit/listen"
)

// hypervisor is an in-process jump host (direct-tcpip) with its user's key
// in a file and its host key in a known_hosts file.
type hypervisor struct {
	srv        *testServer
	keyFile    string
	knownHosts string
	signer     ssh.Signer
}

func startHypervisor(t *testing.T, forward bool) *hypervisor {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	signer, _, err := EnsureKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, serverOptions{authorized: signer.PublicKey(), forward: forward})
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.Addr)}, srv.HostKey.PublicKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &hypervisor{srv: srv, keyFile: keyFile, knownHosts: kh, signer: signer}
}

func (h *hypervisor) jump(t *testing.T) *Jump {
	j := NewJump(JumpConfig{User: "root", Addr: h.srv.Addr, KeyFiles: []string{h.keyFile}, KnownHostsFiles: []string{h.knownHosts}, Origin: "the test URI"})
	t.Cleanup(func() { j.Close() })
	return j
}

func TestJumpReachesNodesOverOneConnection(t *testing.T) {
	hv := startHypervisor(t, true)
	j := hv.jump(t)
	lab := newLab(t)
	web1, web2 := lab.server(t), lab.server(t)
	for _, srv := range []*testServer{web1, web2} {
		cfg := lab.config(srv.Addr)
		cfg.Dialer = j.DialContext
		c := lab.dial(t, cfg)
		out, err := c.Run(testContext(t), "echo through")
		if err != nil || strings.TrimSpace(out) != "through" {
			t.Fatalf("command through the jump: %q, %v", out, err)
		}
	}
	if n := hv.srv.Conns.Load(); n != 1 || j.Dials() != 1 {
		t.Errorf("jump host got %d connections (%d dials), want 1 shared by both nodes", n, j.Dials())
	}
	if n := hv.srv.Forwards.Load(); n != 2 {
		t.Errorf("%d forwarded channels, want 2", n)
	}
	// The jump connection drops (the hypervisor's sshd restarted): the next
	// node connection dials it again.
	hv.srv.DropConnections()
	time.Sleep(100 * time.Millisecond)
	cfg := lab.config(web1.Addr)
	cfg.Dialer = j.DialContext
	lab.dial(t, cfg)
	if j.Dials() != 2 {
		t.Errorf("after a drop: %d dials, want 2", j.Dials())
	}
}

func TestJumpRefusalsStopTheWaitWithTheWayOut(t *testing.T) {
	lab := newLab(t)
	node := lab.server(t)
	hv := startHypervisor(t, true)
	other := newLab(t)
	noForward := startHypervisor(t, false)
	cases := []struct {
		name string
		cfg  JumpConfig
		want []string
	}{
		{"unknown host key", JumpConfig{User: "root", Addr: hv.srv.Addr, KeyFiles: []string{hv.keyFile}, KnownHostsFiles: []string{filepath.Join(t.TempDir(), "none")}},
			[]string{"host key", "not in known_hosts", "no_verify=1", "known_hosts=FILE"}},
		{"wrong key", JumpConfig{User: "root", Addr: hv.srv.Addr, KeyFiles: []string{filepath.Join(other.dir, "id_ed25519")}, KnownHostsFiles: []string{hv.knownHosts}},
			[]string{"login", "unable to authenticate", "keyfile=FILE", "ssh-agent", "authorized_keys"}},
		{"missing key file", JumpConfig{User: "root", Addr: hv.srv.Addr, KeyFiles: []string{"/nonexistent/key"}, KnownHostsFiles: []string{hv.knownHosts}},
			[]string{"no SSH key", "/nonexistent/key"}},
		{"no forwarding", JumpConfig{User: "root", Addr: noForward.srv.Addr, KeyFiles: []string{noForward.keyFile}, KnownHostsFiles: []string{noForward.knownHosts}},
			[]string{"AllowTcpForwarding yes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := NewJump(tc.cfg)
			defer j.Close()
			cfg := lab.config(node.Addr)
			cfg.Dialer = j.DialContext
			start := time.Now()
			_, err := WaitReady(testContext(t), cfg, Retry{Poll: 50 * time.Millisecond})
			var jerr *JumpError
			if !errors.As(err, &jerr) {
				t.Fatalf("err = %v, want a JumpError", err)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("the wait went on for %s: a refusal is final", time.Since(start))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestJumpNoVerifyAndAgent(t *testing.T) {
	hv := startHypervisor(t, true)
	keyring := agent.NewKeyring()
	priv, err := os.ReadFile(hv.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := keyring.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
		t.Fatal(err)
	}
	sock := listen.Serve(t, "unix", filepath.Join(t.TempDir(), "agent.sock"), func(c net.Conn) { agent.ServeAgent(keyring, c) })
	t.Setenv("SSH_AUTH_SOCK", sock)
	lab := newLab(t)
	node := lab.server(t)
	// No key file, no known_hosts: the agent's key, and no_verify=1.
	j := NewJump(JumpConfig{User: "root", Addr: hv.srv.Addr, Agent: true, NoVerify: true, KnownHostsFiles: []string{filepath.Join(t.TempDir(), "none")}})
	defer j.Close()
	cfg := lab.config(node.Addr)
	cfg.Dialer = j.DialContext
	lab.dial(t, cfg)
}
