package host

import (
	"fmt"
	"io"
	"sync"

	"libvirt.org/go/libvirt"
)

// ConsoleStream is a domain's serial console through libvirt's stream
// (what virsh console does): Write sends to the guest, Read receives what
// it prints (io.EOF when the stream ends). Abort ends it; Close ends and
// frees it, also while another goroutine is blocked reading or writing.
type ConsoleStream struct {
	dom    *libvirt.Domain
	stream *libvirt.Stream

	mu     sync.Mutex
	closed bool
	busy   sync.WaitGroup // the reads and writes under way
}

// OpenConsole opens the serial console of domain, node's VM (node names
// it in errors), taking it over from another client (a stale session).
func OpenConsole(conn *Conn, domain, node string) (*ConsoleStream, error) {
	dom, err := conn.LookupDomainByName(domain)
	if err != nil {
		return nil, fmt.Errorf("find the VM of %s: %w", node, err)
	}
	stream, err := conn.NewStream(0)
	if err != nil {
		dom.Free()
		return nil, err
	}
	if err := dom.OpenConsole("", stream, libvirt.DOMAIN_CONSOLE_FORCE); err != nil {
		stream.Free()
		dom.Free()
		return nil, fmt.Errorf("open the serial console of %s: %w", node, err)
	}
	return &ConsoleStream{dom: dom, stream: stream}, nil
}

// enter admits a read or write unless the stream is closed.
func (c *ConsoleStream) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.busy.Add(1)
	return true
}

func (c *ConsoleStream) Write(p []byte) (int, error) {
	if !c.enter() {
		return 0, io.ErrClosedPipe
	}
	defer c.busy.Done()
	return c.stream.Send(p)
}

func (c *ConsoleStream) Read(p []byte) (int, error) {
	if !c.enter() {
		return 0, io.EOF
	}
	defer c.busy.Done()
	n, err := c.stream.Recv(p)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}

// Abort ends the stream: a Read or Write blocked on it returns.
func (c *ConsoleStream) Abort() error { return c.stream.Abort() }

// Close aborts the stream, waits for the reads and writes under way to
// return (freeing under a blocked one would pull libvirt's stream from
// under it), then frees the stream and the domain handle. A second Close
// does nothing.
func (c *ConsoleStream) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.stream.Abort()
	c.busy.Wait()
	c.stream.Free()
	return c.dom.Free()
}
