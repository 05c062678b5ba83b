package sshx

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lvslab/lvslab/provision/paths"
	"golang.org/x/crypto/ssh"
)

const keyComment = "lvslab"

// EnsureKey returns the login key kept in privPath (a lab's: paths.Root's
// KeyFile), as EnsurePrivateKey does, and writes privPath.pub beside it.
// authorizedKeyLine is the public key as an authorized_keys line without
// the trailing newline.
func EnsureKey(privPath string) (signer ssh.Signer, authorizedKeyLine string, err error) {
	signer, err = EnsurePrivateKey(privPath)
	if err != nil {
		return nil, "", err
	}
	line := authorizedKey(signer.PublicKey())
	// The .pub file is a convenience for people (ssh -i); rewrite it if it is
	// missing or stale rather than trusting it.
	pubPath := privPath + ".pub"
	if cur, err := os.ReadFile(pubPath); err != nil || strings.TrimSpace(string(cur)) != line {
		if err := paths.WriteFileAtomic(pubPath, []byte(line+"\n"), 0o644); err != nil {
			return nil, "", err
		}
	}
	return signer, line, nil
}

// EnsurePrivateKey returns the ed25519 key kept at path: a lab's login key,
// a class door's host key. On first use it generates one there (mode 0600,
// in a folder made 0700); two processes doing so at once keep one key. A
// key file others may read is refused, as ssh and sshd refuse one.
func EnsurePrivateKey(path string) (ssh.Signer, error) {
	signer, err := readPrivateKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return signer, err
	}
	pemBytes, err := newEd25519PEM()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if err := paths.WriteFileOnce(path, pemBytes, 0o600); err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return readPrivateKey(path)
}

func readPrivateKey(path string) (ssh.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("private key %s may be read by others (mode %04o): chmod 600 it", path, st.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return signer, nil
}

// GenerateHostKey makes an ed25519 host key for a node's seed, so that the
// key can be pinned before the node first boots.
func GenerateHostKey() (privatePEM []byte, pub ssh.PublicKey, err error) {
	privatePEM, err = newEd25519PEM()
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.ParsePrivateKey(privatePEM)
	if err != nil {
		return nil, nil, err
	}
	return privatePEM, signer.PublicKey(), nil
}

// newEd25519PEM returns a fresh key in the OpenSSH private key format that
// both ssh(1) and cloud-init accept.
func newEd25519PEM() ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, keyComment)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(block), nil
}

func authorizedKey(pub ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + keyComment
}
