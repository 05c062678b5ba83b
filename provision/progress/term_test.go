package progress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

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

func TestTraceLinesNeverInterleave(t *testing.T) {
	var b bytes.Buffer
	SetDebug(Plain(&b))
	defer SetDebug(nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			Trace("ssh web1", fmt.Sprintf("cmd%d", i), time.Now(), fmt.Sprintf("out%d-a\nout%d-b\n", i, i), nil)
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 60 {
		t.Fatalf("%d lines, want 60:\n%s", len(lines), b.String())
	}
	for j := 0; j < len(lines); j += 3 {
		var i int
		if _, err := fmt.Sscanf(lines[j], "debug: ssh web1: cmd%d (", &i); err != nil {
			t.Fatalf("line %d %q: %v", j, lines[j], err)
		}
		if lines[j+1] != fmt.Sprintf("    | out%d-a", i) || lines[j+2] != fmt.Sprintf("    | out%d-b", i) {
			t.Fatalf("output of cmd%d interleaved:\n%s", i, b.String())
		}
	}
}

func TestLibvirtTraceAndOff(t *testing.T) {
	var b bytes.Buffer
	SetDebug(Plain(&b))
	err := Libvirt("NetworkCreate tedu-private1", func() error { return errors.New("Network is already in use") })
	SetDebug(nil)
	if err == nil || !strings.HasPrefix(b.String(), "debug: libvirt: NetworkCreate tedu-private1 (") || !strings.Contains(b.String(), "): Network is already in use\n") {
		t.Fatalf("err %v, trace %q", err, b.String())
	}
	b.Reset()
	if Libvirt("DomainCreate x", func() error { return nil }) != nil || b.Len() != 0 || Debugging() {
		t.Fatalf("with the trace off: %q", b.String())
	}
}
