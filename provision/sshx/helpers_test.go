package sshx

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// testLab is a lab directory with its login key and known_hosts file.
type testLab struct {
	dir        string
	signer     ssh.Signer
	knownHosts string
}

func newLab(t *testing.T) *testLab {
	t.Helper()
	dir := t.TempDir()
	signer, _, err := EnsureKey(filepath.Join(dir, "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	return &testLab{dir: dir, signer: signer, knownHosts: filepath.Join(dir, "known_hosts")}
}

// server starts a node that accepts the lab key.
func (l *testLab) server(t *testing.T) *testServer {
	return startServer(t, serverOptions{authorized: l.signer.PublicKey()})
}

func (l *testLab) config(addr string) Config {
	return Config{Node: "web1", Addr: addr, Signer: l.signer, KnownHostsFile: l.knownHosts, DialTimeout: 5 * time.Second}
}

func (l *testLab) dial(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := Dial(testContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connected is a client logged in with the lab key to a node of its own.
func connected(t *testing.T) (*testServer, *Client) {
	t.Helper()
	lab := newLab(t)
	srv := lab.server(t)
	return srv, lab.dial(t, lab.config(srv.Addr))
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustRun(t *testing.T, c *Client, cmd string) string {
	t.Helper()
	out, err := c.Run(testContext(t), cmd)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
