package host

import (
	"fmt"
	"io"

	"libvirt.org/go/libvirt"
)

// ConsoleStream is a domain's serial console through libvirt's stream
// (what virsh console does): Write sends to the guest, Read receives what
// it prints (io.EOF when the stream ends). Abort ends it; Close frees it.
type ConsoleStream struct {
	dom    *libvirt.Domain
	stream *libvirt.Stream
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

func (c *ConsoleStream) Write(p []byte) (int, error) { return c.stream.Send(p) }

func (c *ConsoleStream) Read(p []byte) (int, error) {
	n, err := c.stream.Recv(p)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}

// Abort ends the stream: a Read or Write blocked on it returns.
func (c *ConsoleStream) Abort() error { return c.stream.Abort() }

// Close frees the stream and the domain handle.
func (c *ConsoleStream) Close() error {
	c.stream.Free()
	return c.dom.Free()
}
