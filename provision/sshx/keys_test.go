package sshx

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestEnsureKeyCreatesThenLoads(t *testing.T) {
	key := filepath.Join(t.TempDir(), "lab", "id_ed25519")
	signer, line, err := EnsureKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(line, "ssh-ed25519 ") || !strings.HasSuffix(line, " lvslab") {
		t.Errorf("authorized key line %q", line)
	}
	info, err := os.Stat(key)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v, %v", info, err)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil || string(pub) != line+"\n" {
		t.Fatalf(".pub = %q, %v", pub, err)
	}
	parsed, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil || !bytes.Equal(parsed.Marshal(), signer.PublicKey().Marshal()) {
		t.Fatalf(".pub does not match the key: %v", err)
	}

	again, againLine, err := EnsureKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if againLine != line || !bytes.Equal(again.PublicKey().Marshal(), signer.PublicKey().Marshal()) {
		t.Error("second EnsureKey made a new key instead of loading it")
	}
}

func TestEnsureKeyRewritesMissingPub(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id_ed25519")
	_, line, err := EnsureKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(key + ".pub")
	if _, again, err := EnsureKey(key); err != nil || again != line {
		t.Fatalf("EnsureKey = %q, %v", again, err)
	}
	if pub, err := os.ReadFile(key + ".pub"); err != nil || string(pub) != line+"\n" {
		t.Fatalf(".pub = %q, %v", pub, err)
	}
}

// A private key others may read is refused, as ssh and sshd refuse one,
// and left as it is.
func TestPrivateKeyOthersMayReadIsRefused(t *testing.T) {
	key := filepath.Join(t.TempDir(), "door_host_key")
	if _, err := EnsurePrivateKey(key); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(key)
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsurePrivateKey(key); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a key others may read was used: %v", err)
	}
	if _, _, err := EnsureKey(key); err == nil {
		t.Error("a lab key others may read was used")
	}
	if after, _ := os.ReadFile(key); !bytes.Equal(before, after) {
		t.Error("the refused key was replaced")
	}
}

// Processes that make the key at once all get the one key that stays: a
// rename would leave some of them holding a key the file no longer has.
func TestPrivateKeyMadeAtOnceIsOneKey(t *testing.T) {
	key := filepath.Join(t.TempDir(), "lab", "id_ed25519")
	const n = 8
	keys := make(chan ssh.Signer, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := EnsurePrivateKey(key)
			if err != nil {
				t.Error(err)
				return
			}
			keys <- s
		}()
	}
	wg.Wait()
	close(keys)
	kept, err := EnsurePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for s := range keys {
		if !bytes.Equal(s.PublicKey().Marshal(), kept.PublicKey().Marshal()) {
			t.Fatal("a caller got a key the file does not hold")
		}
	}
	if left, _ := filepath.Glob(key + ".tmp-*"); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestEnsureKeyRejectsGarbage(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id_ed25519")
	os.WriteFile(key, []byte("not a key"), 0o600)
	if _, _, err := EnsureKey(key); err == nil {
		t.Fatal("garbage key accepted")
	}
}

func TestGenerateHostKeyIsOpenSSHFormat(t *testing.T) {
	privatePEM, pub, err := GenerateHostKey()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(privatePEM, []byte("-----BEGIN OPENSSH PRIVATE KEY-----")) {
		t.Errorf("PEM starts with %q", privatePEM[:40])
	}
	signer, err := ssh.ParsePrivateKey(privatePEM)
	if err != nil {
		t.Fatal(err)
	}
	if pub.Type() != ssh.KeyAlgoED25519 || !bytes.Equal(signer.PublicKey().Marshal(), pub.Marshal()) {
		t.Error("public key does not match the private key")
	}
}
