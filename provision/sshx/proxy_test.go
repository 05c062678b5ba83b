package sshx

import (
	"io"
	"net"
	"sync"
	"testing"
)

// freezingProxy forwards loopback TCP to a target until Freeze, after which
// it silently stops forwarding in both directions while keeping the
// sockets open: what a session sees when the node's address changes under
// it.
type freezingProxy struct {
	Addr   string
	ln     net.Listener
	frozen chan struct{}
	once   sync.Once
}

func startProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{Addr: ln.Addr().String(), ln: ln, frozen: make(chan struct{})}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, client, server)
			mu.Unlock()
			go p.pipe(server, client)
			go p.pipe(client, server)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.Freeze()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
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
