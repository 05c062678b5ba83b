package sshx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHostsMu serialises known_hosts updates inside this process (nodes
// dial in parallel); flock extends that to concurrent lvslab processes.
var knownHostsMu sync.Mutex

// HostKeyChangedError is a node offering a host key other than the pinned
// one: either a rebuilt lab whose old pins remain, or someone in the middle.
type HostKeyChangedError struct {
	Node string
	Addr string
	File string
	Line int
	// Want and Got are key fingerprints (SHA256:...).
	Want string
	Got  string
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("host key of %s (%s) changed: %s:%d pins %s, the node offers %s; "+
		"if the lab was rebuilt run \"lvslab down\" first", e.Node, e.Addr, e.File, e.Line, e.Want, e.Got)
}

// PinHostKey records key as the only accepted host key for addr (host:port,
// or a HostKeyAlias) in file, replacing any earlier pin for that name. It is
// used when lvslab generated the node's host key, before the first connect.
func PinHostKey(file, addr string, key ssh.PublicKey) error {
	name := knownhosts.Normalize(addr)
	return rewritePins(file, []string{name}, knownhosts.Line([]string{name}, key)+"\n")
}

// UnpinHost removes every pin of the names (host:port or aliases) from
// file: the node is gone, and a later node at its address has another key.
// A missing file has nothing to remove.
func UnpinHost(file string, names ...string) error {
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var norm []string
	for _, n := range names {
		norm = append(norm, knownhosts.Normalize(n))
	}
	return rewritePins(file, norm, "")
}

// rewritePins rewrites file without the lines that pin any of names, then
// adds line (if any).
func rewritePins(file string, names []string, line string) error {
	return withKnownHosts(file, func(f *os.File, content []byte) error {
		var kept bytes.Buffer
		for _, l := range strings.SplitAfter(string(content), "\n") {
			if !slices.ContainsFunc(names, func(n string) bool { return pinsName(l, n) }) {
				kept.WriteString(l)
			}
		}
		if line != "" {
			ensureNewline(&kept)
			kept.WriteString(line)
		}
		if err := f.Truncate(0); err != nil {
			return err
		}
		_, err := f.WriteAt(kept.Bytes(), 0)
		return err
	})
}

// hostKeyCallback accepts the pinned key, pins an unknown host on first use,
// and refuses a changed key. It never ignores host keys.
func hostKeyCallback(cfg Config) ssh.HostKeyCallback {
	return func(_ string, remote net.Addr, key ssh.PublicKey) error {
		if cfg.KnownHostsFile == "" {
			return fmt.Errorf("%s: no known_hosts file configured to check the host key", cfg.Node)
		}
		name := cfg.hostKeyName()
		return withKnownHosts(cfg.KnownHostsFile, func(f *os.File, content []byte) error {
			check, err := knownhosts.New(cfg.KnownHostsFile)
			if err != nil {
				return err
			}
			err = check(name, remote, key)
			var keyErr *knownhosts.KeyError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
				return appendPin(f, content, name, key)
			case errors.As(err, &keyErr):
				want := keyErr.Want[0]
				return &HostKeyChangedError{
					Node: cfg.Node, Addr: cfg.Addr, File: want.Filename, Line: want.Line,
					Want: ssh.FingerprintSHA256(want.Key), Got: ssh.FingerprintSHA256(key),
				}
			default:
				return fmt.Errorf("host key of %s (%s): %w", cfg.Node, cfg.Addr, err)
			}
		})
	}
}

func appendPin(f *os.File, content []byte, name string, key ssh.PublicKey) error {
	var line bytes.Buffer
	if len(content) > 0 && content[len(content)-1] != '\n' {
		line.WriteByte('\n')
	}
	line.WriteString(knownhosts.Line([]string{knownhosts.Normalize(name)}, key) + "\n")
	_, err := f.WriteAt(line.Bytes(), int64(len(content)))
	return err
}

// withKnownHosts runs fn with file (created if missing) locked and its
// current content read.
func withKnownHosts(file string, fn func(f *os.File, content []byte) error) error {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", file, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	content, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	return fn(f, content)
}

// pinsName reports whether a known_hosts line lists exactly name among its
// host patterns.
func pinsName(line, name string) bool {
	fields := strings.Fields(line)
	if len(fields) < 2 || strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], "@") {
		return false
	}
	for _, host := range strings.Split(fields[0], ",") {
		if host == name {
			return true
		}
	}
	return false
}

func ensureNewline(b *bytes.Buffer) {
	if b.Len() > 0 && b.Bytes()[b.Len()-1] != '\n' {
		b.WriteByte('\n')
	}
}

// pinnedAlgorithms are the host key algorithms of the keys pinned for the
// node, for the handshake to ask for: a server with more host keys than
// lvslab pinned (an EL guest whose sshd-keygen made RSA and ECDSA keys
// beside the pinned ed25519 one) would otherwise show the kind the client
// prefers, which no pin matches. nil (any kind) when nothing is pinned.
func pinnedAlgorithms(cfg Config) []string {
	data, err := os.ReadFile(cfg.KnownHostsFile)
	if err != nil {
		return nil
	}
	name := knownhosts.Normalize(cfg.hostKeyName())
	var algos []string
	for _, line := range strings.Split(string(data), "\n") {
		if !pinsName(line, name) {
			continue
		}
		_, _, key, _, _, err := ssh.ParseKnownHosts([]byte(line))
		if err != nil {
			continue
		}
		kinds := []string{key.Type()}
		if key.Type() == ssh.KeyAlgoRSA {
			kinds = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, k := range kinds {
			if !slices.Contains(algos, k) {
				algos = append(algos, k)
			}
		}
	}
	return algos
}
