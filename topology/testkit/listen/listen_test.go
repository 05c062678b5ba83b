package listen

import (
	"io"
	"net"
	"testing"
	"time"
)

// Each connection reaches the function; when the test ends the server
// stops accepting and the connections it kept open are closed.
func TestServe(t *testing.T) {
	var addr string
	var held net.Conn
	t.Run("server", func(t *testing.T) {
		addr = Serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) { io.WriteString(c, "hello") })
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = c
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
			t.Errorf("read %q, %v; want hello", buf, err)
		}
	})
	defer held.Close()
	held.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := held.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the test the connection reads %d, %v; want EOF", n, err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("the listener still accepts after the test")
	}
}
