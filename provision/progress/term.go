package progress

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Interactive tells whether progress written to w may redraw lines in place
// (carriage returns, cursor movement): only on a terminal whose TERM is set
// and not "dumb". Elsewhere (CI logs, files, pipes, Emacs shells) progress
// is plain lines.
func Interactive(w io.Writer) bool {
	if t := os.Getenv("TERM"); t == "" || t == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
