package sshx

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// Session is what a student's own command or shell is connected to.
type Session struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Stream runs a student's command as ssh would (by the login shell, no
// pseudo-terminal, no timeout: it may run for long), its output streamed
// as it comes, and returns its exit status. Ctrl-C (ctx) kills it.
func (c *Client) Stream(ctx context.Context, cmd string, s Session) (int, error) {
	return c.interact(ctx, s, func(session *ssh.Session) error { return session.Start(cmd) })
}

// Shell opens a login shell: on a pseudo-terminal, in raw mode, sized like
// the student's terminal, when stdin is one; a plain shell reading stdin
// otherwise.
func (c *Client) Shell(ctx context.Context, s Session) (int, error) {
	var restore func()
	defer func() {
		if restore != nil {
			restore()
		}
	}()
	return c.interact(ctx, s, func(session *ssh.Session) error {
		if f, ok := s.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			var err error
			if restore, err = pty(session, f); err != nil {
				return err
			}
		}
		return session.Shell()
	})
}

// pty asks for a pseudo-terminal of the student's terminal's size and type,
// puts the local terminal in raw mode and follows its resizes; restore
// undoes both.
func pty(session *ssh.Session, f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	w, h, err := term.GetSize(fd)
	if err != nil {
		w, h = 80, 24
	}
	name := os.Getenv("TERM")
	if name == "" {
		name = "xterm"
	}
	if err := session.RequestPty(name, h, w, ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}); err != nil {
		return nil, err
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		for range winch {
			if w, h, err := term.GetSize(fd); err == nil {
				session.WindowChange(h, w)
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(winch)
		term.Restore(fd, old)
	}, nil
}

// interact opens a session wired to s, starts it and waits for its exit
// status; ctx ends it.
func (c *Client) interact(ctx context.Context, s Session, start func(*ssh.Session) error) (int, error) {
	session, conn, err := c.openSession(ctx)
	if err != nil {
		return -1, err
	}
	defer session.Close()
	session.Stdout, session.Stderr = s.Stdout, s.Stderr
	if s.Stdin != nil {
		// a pipe, not session.Stdin: ssh's copy would block the exit on
		// a terminal that is never closed
		in, err := session.StdinPipe()
		if err != nil {
			return -1, err
		}
		go func() {
			io.Copy(in, s.Stdin)
			in.Close()
		}()
	}
	if err := start(session); err != nil {
		return -1, err
	}
	if err = c.await(ctx, session, conn); err != nil && err == ctx.Err() {
		return -1, err
	}
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exit.ExitStatus(), nil
	}
	return -1, err
}
