package sshx

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/lvslab/lvslab/topology/testkit/listen"
)

// freezingProxy forwards loopback TCP to a target until Freeze, after which
// it silently stops forwarding in both directions while keeping the
// sockets open: what a session sees when the node's address changes under
// it.
type freezingProxy struct {
	Addr   string
	frozen chan struct{}
	once   sync.Once
}

// startProxy forwards to target until the test ends, when the connections
// to the target close with the clients'.
func startProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	p := &freezingProxy{frozen: make(chan struct{})}
	var servers []net.Conn
	var mu sync.Mutex
	p.Addr = listen.Serve(t, "tcp", "127.0.0.1:0", func(client net.Conn) {
		server, err := net.Dial("tcp", target)
		if err != nil {
			client.Close()
			return
		}
		mu.Lock()
		servers = append(servers, server)
		mu.Unlock()
		go p.pipe(server, client)
		p.pipe(client, server)
	})
	t.Cleanup(func() {
		p.Freeze()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range servers {
			c.Close()
		}
	})
	return p
}

func (p *freezingProxy) Freeze() { p.once.Do(func() { close(p.frozen) }) }

func (p *freezingProxy) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.frozen:
			return // drop the bytes, keep the sockets open
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
