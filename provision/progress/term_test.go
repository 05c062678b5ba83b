package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns the terminal end of a new pseudo-terminal.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pts.Close() })
	return pts
}

func TestInteractiveHonoursTERM(t *testing.T) {
	tty := openPTY(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	cases := []struct {
		term string
		out  io.Writer
		want bool
	}{
		{"xterm-256color", tty, true},
		{"dumb", tty, false}, // Emacs shells, some CI consoles
		{"", tty, false},
		{"xterm-256color", w, false}, // a pipe
		{"xterm-256color", &bytes.Buffer{}, false},
	}
	for _, c := range cases {
		t.Setenv("TERM", c.term)
		if got := Interactive(c.out); got != c.want {
			t.Errorf("TERM=%q, %T: Interactive = %v, want %v", c.term, c.out, got, c.want)
		}
	}
}
