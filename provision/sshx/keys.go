package sshx

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lvslab/lvslab/provision/paths"
	"golang.org/x/crypto/ssh"
)

const keyComment = "lvslab"

// EnsureKey returns the login key kept in privPath (a lab's: paths.Root's
// KeyFile), creating it, its folder and privPath.pub on first use.
// authorizedKeyLine is the public key as an authorized_keys line without
// the trailing newline.
func EnsureKey(privPath string) (signer ssh.Signer, authorizedKeyLine string, err error) {
	pemBytes, err := os.ReadFile(privPath)
	switch {
	case err == nil:
		signer, err = ssh.ParsePrivateKey(pemBytes)
		if err != nil {
			return nil, "", fmt.Errorf("lab key %s: %w", privPath, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		pemBytes, err = newEd25519PEM()
		if err != nil {
			return nil, "", err
		}
		if signer, err = ssh.ParsePrivateKey(pemBytes); err != nil {
			return nil, "", err
		}
		if err := os.MkdirAll(filepath.Dir(privPath), 0o700); err != nil {
			return nil, "", err
		}
		if err := paths.WriteFileAtomic(privPath, pemBytes, 0o600); err != nil {
			return nil, "", err
		}
	default:
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
