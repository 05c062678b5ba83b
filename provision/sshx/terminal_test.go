package sshx

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// A terminal asks for a pseudo-terminal of the given type and size, runs
// the login shell, types into it, reads its screen, follows a resize and
// ends at EOF once the shell exits.
func TestTerminal(t *testing.T) {
	srv, c := connected(t)
	term, err := c.OpenTerminal(testContext(t), "xterm", 132, 40)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	if got := <-srv.Windows; got != "xterm 132x40" {
		t.Errorf("pty-req %q, want xterm 132x40", got)
	}
	if err := term.Resize(0, 100000); err != nil {
		t.Fatal(err)
	}
	if got := <-srv.Windows; got != "change 80x500" {
		t.Errorf("window-change %q, want the clamped change 80x500", got)
	}
	if _, err := io.WriteString(term, "echo typed-$((6*7))\nexit\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(term).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "typed-42" {
		t.Errorf("screen %q (err %v), want typed-42", line, err)
	}
	if err := term.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := term.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// Cancelling the context the terminal was opened with ends its shell: a
// browser that goes away leaves no shell behind.
func TestTerminalEndsWithContext(t *testing.T) {
	_, c := connected(t)
	ctx, cancel := context.WithCancel(testContext(t))
	term, err := c.OpenTerminal(ctx, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, term)
		done <- err
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the shell's screen stayed open after its context ended")
	}
}
