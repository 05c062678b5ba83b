// Package tty is what the class server's browser terminals and the SSH
// door share: the pseudo-terminal a student's shell opens on, and the
// shell itself.
package tty

import "io"

// Terminal is the pseudo-terminal a shell is opened on: its type and size.
type Terminal struct {
	Term       string
	Cols, Rows int
}

// Shell is an interactive shell on a node: what the student types is
// written to it, what it prints is read from it (Read returns io.EOF when
// the shell ends), and its window size.
type Shell interface {
	io.ReadWriteCloser
	Resize(cols, rows int) error
}
