package access

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/lvslab/lvslab/provision/progress"
)

// ConsoleLogin is the login of an image on its serial console: the lab
// file's "login:". The password is typed at the password prompt only; it
// never appears in an error, a trace or anything lvslab writes.
type ConsoleLogin struct {
	User, Password string
}

// ConsoleOpener opens a node's serial console (OpenConsole for real; a
// fake guest in tests).
type ConsoleOpener func(node string) (io.ReadWriteCloser, error)

// How long each part of a console login may take, once the VM answers:
// the wait for the first prompt is the caller's (its context).
var (
	consoleWake   = 3 * time.Second  // between two Enters while nothing answers
	consolePrompt = 30 * time.Second // for each prompt after the first
	consoleScript = 3 * time.Minute  // for the script (a network restart under TCG)
)

// Prompts and answers on the console. The markers are printed by printf
// from a format, so the echo of the command that prints one never matches.
var (
	loginPrompt    = regexp.MustCompile(`(?i)login:\s*$`)
	passwordPrompt = regexp.MustCompile(`(?i)password:\s*$`)
	shellPrompt    = regexp.MustCompile(`[#$]\s*$`)
	loginRefused   = regexp.MustCompile(`(?i)login incorrect|authentication failure|permission denied`)
	readyMark      = regexp.MustCompile(`lvslab-ready\r?\n`)
	quietMark      = regexp.MustCompile(`lvslab-quiet\r?\n`)
	exitMark       = regexp.MustCompile(`lvslab-exit-(\d+)\r?\n`)
)

// Bootstrap logs in on node's serial console as login says and runs script
// there (lvslab-console.sh: mgmt0's address, the login key, the pinned host
// key), the way a classroom's student pastes a setup: for an image that
// reads no seed. status hears each stage. The script is sent with the
// terminal's echo off, so the keys in it never reach the console's log.
func (a *Access) Bootstrap(ctx context.Context, node string, login ConsoleLogin, script []byte, status func(string)) error {
	open := a.consoles
	if open == nil {
		open = func(node string) (io.ReadWriteCloser, error) { return a.OpenConsole(node) }
	}
	start := time.Now()
	rw, err := open(node)
	if err != nil {
		return err
	}
	defer rw.Close()
	s := newConsoleSession(rw, login.Password)
	err = s.bootstrap(ctx, login, script, status)
	progress.Trace("console "+node, "log in as "+login.User+" (the lab file's password) and set up mgmt0, the login key and the host key", start, s.tail(), err)
	if err != nil {
		return fmt.Errorf("node %s: over its serial console: %w; the console's last lines:\n%s", node, err, indent(s.tail()))
	}
	return nil
}

// consoleSession reads what the guest prints into a buffer that waitFor
// matches and consumes.
type consoleSession struct {
	rw     io.ReadWriter
	secret string

	mu      sync.Mutex
	pending []byte // printed since the last match
	seen    []byte // the last few KB printed, for errors
	readErr error
	more    chan struct{}
}

func newConsoleSession(rw io.ReadWriter, secret string) *consoleSession {
	s := &consoleSession{rw: rw, secret: secret, more: make(chan struct{}, 1)}
	go s.read()
	return s
}

func (s *consoleSession) read() {
	buf := make([]byte, 4096)
	for {
		n, err := s.rw.Read(buf)
		s.mu.Lock()
		s.pending = append(s.pending, buf[:n]...)
		s.seen = append(s.seen, buf[:n]...)
		if len(s.seen) > 4096 {
			s.seen = s.seen[len(s.seen)-4096:]
		}
		if err != nil {
			s.readErr = err
		}
		s.mu.Unlock()
		select {
		case s.more <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// errWaited is a wait that ran out of time.
var errWaited = errors.New("no answer")

// waitFor waits up to d (or ctx) until what the guest printed since the
// last match matches one of res; it consumes it and returns the index and
// the text.
func (s *consoleSession) waitFor(ctx context.Context, d time.Duration, res ...*regexp.Regexp) (int, string, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		s.mu.Lock()
		text := strings.TrimRight(string(s.pending), "\x00")
		for i, re := range res {
			if re.MatchString(text) {
				s.pending = nil
				s.mu.Unlock()
				return i, text, nil
			}
		}
		readErr := s.readErr
		s.mu.Unlock()
		if readErr != nil {
			return -1, "", fmt.Errorf("the console closed: %w", readErr)
		}
		select {
		case <-s.more:
		case <-timer.C:
			return -1, "", errWaited
		case <-ctx.Done():
			return -1, "", ctx.Err()
		}
	}
}

func (s *consoleSession) send(text string) error {
	_, err := io.WriteString(s.rw, text)
	return err
}

// tail is the last lines the guest printed, the password blotted out
// should the guest ever have echoed it.
func (s *consoleSession) tail() string {
	s.mu.Lock()
	text := string(s.seen)
	s.mu.Unlock()
	text = Redact(text, s.secret)
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(text, "\r", ""), "\n"), "\n")
	if len(lines) > 12 {
		lines = lines[len(lines)-12:]
	}
	return strings.Join(lines, "\n")
}

// Redact blots secret out of text.
func Redact(text, secret string) string {
	if secret == "" {
		return text
	}
	return strings.ReplaceAll(text, secret, "********")
}

func indent(s string) string {
	return "  | " + strings.ReplaceAll(s, "\n", "\n  | ")
}

// bootstrap is the whole dialogue: log in, turn the echo off, send the
// script, run it, log out.
func (s *consoleSession) bootstrap(ctx context.Context, login ConsoleLogin, script []byte, status func(string)) error {
	status("waiting for the login prompt on the serial console")
	if err := s.login(ctx, login); err != nil {
		return err
	}
	status("logged in as " + login.User + " on the serial console, sending the set-up")
	if err := s.quiet(ctx); err != nil {
		return err
	}
	if err := s.send(heredoc(script)); err != nil {
		return err
	}
	status("running the set-up on the serial console (mgmt0, keys, sshd)")
	_, text, err := s.waitFor(ctx, consoleScript, exitMark)
	if err != nil {
		return fmt.Errorf("the set-up script did not finish: %w", err)
	}
	// Log out (the echo comes back with the next login), leaving the
	// console at its login prompt for a student.
	s.send("stty echo; exit\r")
	if code := exitMark.FindStringSubmatch(text)[1]; code != "0" {
		return fmt.Errorf("the set-up script failed (exit status %s)", code)
	}
	return nil
}

// login wakes the console until it shows a login prompt (or a shell,
// logged in already), then logs in.
func (s *consoleSession) login(ctx context.Context, login ConsoleLogin) error {
	for {
		if err := s.send("\r"); err != nil {
			return err
		}
		i, _, err := s.waitFor(ctx, consoleWake, loginPrompt, shellPrompt)
		if errors.Is(err, errWaited) {
			continue
		}
		if err != nil {
			return fmt.Errorf("no login prompt: %w", err)
		}
		if i == 1 {
			return nil // a shell: logged in already
		}
		break
	}
	if err := s.send(login.User + "\r"); err != nil {
		return err
	}
	i, _, err := s.waitFor(ctx, consolePrompt, passwordPrompt, shellPrompt, loginPrompt)
	switch {
	case err != nil:
		return fmt.Errorf("no password prompt after the login %s: %w", login.User, err)
	case i == 1:
		return nil // no password asked
	case i == 2:
		return fmt.Errorf("the console asked for the login again after %s", login.User)
	}
	if err := s.send(login.Password + "\r"); err != nil {
		return err
	}
	i, _, err = s.waitFor(ctx, consolePrompt, shellPrompt, loginRefused, loginPrompt)
	switch {
	case err != nil:
		return fmt.Errorf("no shell after the password: %w", err)
	case i != 0:
		return fmt.Errorf("the guest refused the login %s with the lab file's login.password: is it the image's password?", login.User)
	}
	return nil
}

// quiet turns the terminal's echo off and proves that it is: the script
// holds the host's private key, which must not reach the console's log.
func (s *consoleSession) quiet(ctx context.Context) error {
	if err := s.send("stty -echo; printf 'lvslab-%s\\n' ready\r"); err != nil {
		return err
	}
	if _, _, err := s.waitFor(ctx, consolePrompt, readyMark); err != nil {
		return fmt.Errorf("no shell answers: %w", err)
	}
	if err := s.send("printf 'lvslab-%s\\n' quiet\r"); err != nil {
		return err
	}
	_, text, err := s.waitFor(ctx, consolePrompt, quietMark)
	if err != nil {
		return fmt.Errorf("no shell answers: %w", err)
	}
	if strings.Contains(text, "printf") {
		return errors.New("the terminal still echoes what is typed (stty -echo had no effect): the set-up, which holds keys, is not sent")
	}
	return nil
}

// heredoc is what is typed to run script: its base64 (no character a
// terminal would take for a control key, short lines) into a file, then
// the file run and its exit status printed.
func heredoc(script []byte) string {
	var b bytes.Buffer
	b.WriteString("base64 -d >/tmp/lvslab-console.sh <<'LVSLAB_EOF'\r")
	enc := base64.StdEncoding.EncodeToString(script)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r")
		enc = enc[76:]
	}
	b.WriteString(enc + "\rLVSLAB_EOF\r")
	b.WriteString("sh /tmp/lvslab-console.sh; printf 'lvslab-exit-%s\\n' \"$?\"; rm -f /tmp/lvslab-console.sh\r")
	return b.String()
}
