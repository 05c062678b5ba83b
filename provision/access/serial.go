package access

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/lvslab/lvslab/provision/host"
)

// ConsoleEscape ends "lvslab console", as Ctrl-] ends virsh console.
const ConsoleEscape = 0x1d

// Console attaches in and out to node's serial console through libvirt's
// stream (what virsh console does), in raw mode when in is a terminal,
// until ConsoleEscape is typed, the VM stops or ctx ends. The console is
// where a student goes when a change of address cut SSH off.
func (a *Access) Console(ctx context.Context, node string, in *os.File, out io.Writer) error {
	stream, err := a.OpenConsole(node)
	if err != nil {
		return err
	}
	defer stream.Close()
	if term.IsTerminal(int(in.Fd())) {
		old, err := term.MakeRaw(int(in.Fd()))
		if err != nil {
			return err
		}
		defer term.Restore(int(in.Fd()), old)
	}
	fmt.Fprintf(out, "connected to the console of %s (escape character is ^])\r\n", node)
	done := make(chan error, 2)
	go func() { done <- copyUntilEscape(stream, in) }()
	go func() {
		_, err := io.Copy(out, stream)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	return err // the deferred Close aborts the stream and waits for the copy under way
}

// OpenConsole opens node's serial console as a stream (the class server's
// way back to a node whose network the student cut off); Close ends it.
func (a *Access) OpenConsole(node string) (*host.ConsoleStream, error) {
	d, ok := a.tags[node]
	if !ok {
		return nil, fmt.Errorf("lab %s has no VM for node %s (\"lvslab status %s\")", a.lab, node, a.lab)
	}
	if d.State != host.StateRunning {
		return nil, fmt.Errorf("the VM of %s is %s: start it with \"lvslab up\"", node, d.State)
	}
	return host.OpenConsole(a.conn, d.Name, node)
}

// copyUntilEscape copies src to dst until src ends or holds ConsoleEscape
// (which is not sent): nil then.
func copyUntilEscape(dst io.Writer, src io.Reader) error {
	buf := make([]byte, 1024)
	for {
		n, err := src.Read(buf)
		chunk := buf[:n]
		i := bytes.IndexByte(chunk, ConsoleEscape)
		if i >= 0 {
			chunk = chunk[:i]
		}
		if len(chunk) > 0 {
			if _, werr := dst.Write(chunk); werr != nil {
				return werr
			}
		}
		if i >= 0 || errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
