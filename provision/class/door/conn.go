package door

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// errTooManyFiles is an accept failing for want of file descriptors: the
// door waits and accepts again.
var errTooManyFiles = syscall.EMFILE

// idleConn enforces the handshake deadline, then the idle timeout: any
// traffic either way pushes the deadline on, so a client that sends a byte
// now and then cannot hold a handshake open, and a connection with nothing
// going on is closed.
type idleConn struct {
	net.Conn
	idle atomic.Int64 // nanoseconds; 0 while the handshake deadline holds
}

func newIdleConn(nc net.Conn, handshake time.Duration) *idleConn {
	nc.SetDeadline(time.Now().Add(handshake))
	return &idleConn{Conn: nc}
}

// startIdle ends the handshake deadline and starts the idle timeout.
func (c *idleConn) startIdle(idle time.Duration) {
	c.idle.Store(int64(idle))
	c.Conn.SetDeadline(time.Now().Add(idle))
}

func (c *idleConn) touch() {
	if d := time.Duration(c.idle.Load()); d > 0 {
		c.Conn.SetDeadline(time.Now().Add(d))
	}
}

func (c *idleConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.touch()
	}
	return n, err
}

func (c *idleConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.touch()
	}
	return n, err
}

// addrKey is the address a client's failures and handshakes are counted
// under: its IP, or its /64 for IPv6 (one host commonly holds a whole /64).
func addrKey(a net.Addr) string {
	var ip net.IP
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.IP
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.String()
		}
		ip = net.ParseIP(host)
		if ip == nil {
			return host
		}
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

// slots bounds the channels open at once on one connection.
type slots struct {
	mu     sync.Mutex
	n, max int
}

func newSlots(max int) *slots { return &slots{max: max} }

func (s *slots) take() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n >= s.max {
		return false
	}
	s.n++
	return true
}

func (s *slots) give() {
	s.mu.Lock()
	s.n--
	s.mu.Unlock()
}

// chanConn is an SSH channel seen as a net.Conn, for the inner SSH server a
// jump channel carries. Deadlines are not supported (the outer connection
// has them).
type chanConn struct {
	ch            ssh.Channel
	local, remote net.Addr
}

func (c *chanConn) Read(b []byte) (int, error)         { return c.ch.Read(b) }
func (c *chanConn) Write(b []byte) (int, error)        { return c.ch.Write(b) }
func (c *chanConn) Close() error                       { return c.ch.Close() }
func (c *chanConn) LocalAddr() net.Addr                { return c.local }
func (c *chanConn) RemoteAddr() net.Addr               { return c.remote }
func (c *chanConn) SetDeadline(t time.Time) error      { return nil }
func (c *chanConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *chanConn) SetWriteDeadline(t time.Time) error { return nil }
