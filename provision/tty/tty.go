// Package tty tells whether progress goes to a terminal, where lines may be
// redrawn in place, or to a log, where they may not.
package tty

import (
	"io"
	"os"

	"golang.org/x/term"
)

// Is tells whether w is a terminal.
func Is(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
