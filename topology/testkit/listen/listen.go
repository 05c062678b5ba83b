// Package listen runs the small servers of tests: a listener that hands
// every connection it accepts to a function, closed with the test.
package listen

import (
	"net"
	"sync"
	"testing"
)

// Serve listens on address of network (a listen that fails fails the test)
// and hands each connection it accepts to handle, in a goroutine of its
// own, until the test ends: then the listener and every connection it
// accepted are closed. It returns the listener's address.
func Serve(t testing.TB, network, address string, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	ended := false
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if ended {
				c.Close()
			} else {
				conns = append(conns, c)
				go handle(c)
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		ended = true
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
