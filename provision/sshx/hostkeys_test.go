package sshx

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func readLines(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func TestTrustOnFirstUsePinsThenRefusesChangedKey(t *testing.T) {
	lab := newLab(t)
	srv := lab.server(t)
	cfg := lab.config(srv.Addr)

	lab.dial(t, cfg).Close()
	want := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr)}, srv.HostKey.PublicKey())
	if lines := readLines(t, lab.knownHosts); len(lines) != 1 || lines[0] != want {
		t.Fatalf("known_hosts = %q, want %q", lines, want)
	}
	if info, _ := os.Stat(lab.knownHosts); info.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v", info.Mode())
	}
	lab.dial(t, cfg).Close() // the pin is accepted

	// The node comes back with another key, as after a rebuild.
	if err := PinHostKey(lab.knownHosts, srv.Addr, newSigner(t).PublicKey()); err != nil {
		t.Fatal(err)
	}
	_, err := Dial(testContext(t), cfg)
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("err = %v, want *HostKeyChangedError", err)
	}
	for _, want := range []string{
		"host key of web1 (" + srv.Addr + ") changed",
		ssh.FingerprintSHA256(srv.HostKey.PublicKey()),
		`if the lab was rebuilt run "lvslab down" first`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if lines := readLines(t, lab.knownHosts); len(lines) != 1 {
		t.Errorf("a refused key must not be pinned: %q", lines)
	}

	// Waiting will not fix a changed key: WaitReady stops at once.
	attempts := 0
	if _, err := WaitReady(testContext(t), cfg, Retry{Attempt: func(string, error) error { attempts++; return nil }}); !errors.As(err, &changed) || attempts != 0 {
		t.Errorf("WaitReady = %v after %d attempts", err, attempts)
	}
}

// pinnedServer starts a server whose host key lvslab generated and pinned,
// offering more host keys besides.
func pinnedServer(t *testing.T, lab *testLab, more ...ssh.Signer) *testServer {
	t.Helper()
	hostPEM, hostPub, err := GenerateHostKey()
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.ParsePrivateKey(hostPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, serverOptions{authorized: lab.signer.PublicKey(), hostKey: hostKey, moreHostKeys: more})
	if err := PinHostKey(lab.knownHosts, srv.Addr, hostPub); err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestPinnedHostKeyIsAccepted(t *testing.T) {
	lab := newLab(t)
	srv := pinnedServer(t, lab)
	before, _ := os.ReadFile(lab.knownHosts)
	lab.dial(t, lab.config(srv.Addr)).Close()
	if after, _ := os.ReadFile(lab.knownHosts); string(after) != string(before) {
		t.Errorf("known_hosts changed from %q to %q", before, after)
	}
}

// A server with more host keys than the pinned one (an ECDSA key, which
// the client would otherwise prefer) is asked for the pinned kind.
func TestPinnedKindIsAskedFor(t *testing.T) {
	lab := newLab(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, _ := ssh.NewSignerFromKey(ecKey)
	srv := pinnedServer(t, lab, ecSigner)
	lab.dial(t, lab.config(srv.Addr)).Close()
	if got := pinnedAlgorithms(lab.config(srv.Addr)); len(got) != 1 || got[0] != ssh.KeyAlgoED25519 {
		t.Errorf("pinned algorithms %v", got)
	}
	if got := pinnedAlgorithms(lab.config("127.0.0.1:1")); got != nil {
		t.Errorf("nothing pinned, yet algorithms %v", got)
	}
}

func TestPinHostKeyReplacesOnlyThatHost(t *testing.T) {
	file := t.TempDir() + "/known_hosts"
	a, b, other := newSigner(t).PublicKey(), newSigner(t).PublicKey(), newSigner(t).PublicKey()
	for _, step := range []struct {
		addr string
		key  ssh.PublicKey
	}{{"192.168.2.100:22", a}, {"192.168.2.101:22", other}, {"192.168.2.100:22", b}} {
		if err := PinHostKey(file, step.addr, step.key); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		knownhosts.Line([]string{"192.168.2.101"}, other),
		knownhosts.Line([]string{"192.168.2.100"}, b),
	}
	if got := readLines(t, file); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("known_hosts =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestHostKeyAliasSurvivesNewAddress(t *testing.T) {
	lab := newLab(t)
	hostKey := newSigner(t)
	if err := PinHostKey(lab.knownHosts, "web1", hostKey.PublicKey()); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, serverOptions{authorized: lab.signer.PublicKey(), hostKey: hostKey})
	cfg := lab.config(srv.Addr)
	cfg.HostKeyAlias = "web1"
	lab.dial(t, cfg).Close()
	if lines := readLines(t, lab.knownHosts); len(lines) != 1 {
		t.Errorf("known_hosts = %q, want the alias pin only", lines)
	}

	// Another key under the same alias is refused wherever it answers.
	impostor := startServer(t, serverOptions{authorized: lab.signer.PublicKey()})
	cfg.Addr = impostor.Addr
	var changed *HostKeyChangedError
	if _, err := Dial(testContext(t), cfg); !errors.As(err, &changed) {
		t.Fatalf("err = %v, want *HostKeyChangedError", err)
	}
}

func TestParallelFirstDialsPinEveryNode(t *testing.T) {
	lab := newLab(t)
	const nodes = 8
	var servers []*testServer
	for range nodes {
		servers = append(servers, lab.server(t))
	}
	var wg sync.WaitGroup
	errs := make(chan error, nodes)
	for _, srv := range servers {
		wg.Go(func() {
			c, err := Dial(context.Background(), lab.config(srv.Addr))
			if err == nil {
				c.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if lines := readLines(t, lab.knownHosts); len(lines) != nodes {
		t.Fatalf("%d pins, want %d:\n%s", len(lines), nodes, strings.Join(lines, "\n"))
	}
	for _, srv := range servers { // every pin is intact
		lab.dial(t, lab.config(srv.Addr)).Close()
	}
}

func TestNoKnownHostsFileIsRefused(t *testing.T) {
	lab := newLab(t)
	cfg := lab.config(lab.server(t).Addr)
	cfg.KnownHostsFile = ""
	if _, err := Dial(testContext(t), cfg); err == nil || !strings.Contains(err.Error(), "known_hosts") {
		t.Fatalf("err = %v", err)
	}
}
