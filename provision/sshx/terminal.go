package sshx

import (
	"context"
	"errors"
	"io"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Terminal is a login shell on a pseudo-terminal of the node, its screen
// and keyboard plain streams: what a browser terminal or the class's SSH
// door bridges a student to. Read gives the screen (the pseudo-terminal
// merges stdout and stderr), Write types, Resize follows the window, Close
// ends the shell. The client stays open: the caller owns it.
type Terminal struct {
	session *ssh.Session
	in      io.WriteCloser
	out     io.Reader
	once    sync.Once
	mu      sync.Mutex
	stop    func() bool // deregisters the close on ctx's end
}

// TerminalModes are the modes a terminal opens with: echo on, as a login
// on a console has it.
var TerminalModes = ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}

// OpenTerminal starts a login shell on a pseudo-terminal of type term
// ("xterm-256color" when empty) sized cols x rows. ctx bounds the opening
// and, once open, ends the shell when it is cancelled.
func (c *Client) OpenTerminal(ctx context.Context, term string, cols, rows int) (*Terminal, error) {
	if term == "" {
		term = "xterm-256color"
	}
	cols, rows = clampSize(cols, rows)
	session, _, err := c.openSession(ctx)
	if err != nil {
		return nil, err
	}
	t := &Terminal{session: session}
	fail := func(err error) (*Terminal, error) {
		session.Close()
		return nil, err
	}
	if t.in, err = session.StdinPipe(); err != nil {
		return fail(err)
	}
	if t.out, err = session.StdoutPipe(); err != nil {
		return fail(err)
	}
	session.Stderr = io.Discard // a pseudo-terminal sends all output as stdout
	if err := session.RequestPty(term, rows, cols, TerminalModes); err != nil {
		return fail(errors.New("the node refused a pseudo-terminal: " + err.Error()))
	}
	if err := session.Shell(); err != nil {
		return fail(err)
	}
	stop := context.AfterFunc(ctx, func() { t.Close() })
	t.mu.Lock()
	t.stop = stop
	t.mu.Unlock()
	return t, nil
}

// Read reads what the shell printed; io.EOF once it has exited.
func (t *Terminal) Read(p []byte) (int, error) { return t.out.Read(p) }

// Write types p into the shell.
func (t *Terminal) Write(p []byte) (int, error) { return t.in.Write(p) }

// Resize tells the shell its window is now cols x rows.
func (t *Terminal) Resize(cols, rows int) error {
	cols, rows = clampSize(cols, rows)
	return t.session.WindowChange(rows, cols)
}

// Close ends the shell (hang-up) and its session; it is safe to call twice.
func (t *Terminal) Close() error {
	var err error
	t.once.Do(func() {
		t.mu.Lock()
		if t.stop != nil {
			t.stop()
		}
		t.mu.Unlock()
		t.in.Close()
		err = t.session.Close()
		if errors.Is(err, io.EOF) {
			err = nil
		}
	})
	return err
}

// clampSize keeps a window's size sane: a browser or client may send 0 or
// absurd values, and a pseudo-terminal of 0 columns breaks line editing.
func clampSize(cols, rows int) (int, int) {
	clamp := func(v, def, max int) int {
		switch {
		case v <= 0:
			return def
		case v > max:
			return max
		}
		return v
	}
	return clamp(cols, 80, 1000), clamp(rows, 24, 500)
}
