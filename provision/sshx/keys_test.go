package sshx

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
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
