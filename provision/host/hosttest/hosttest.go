// Package hosttest gives tests libvirt's in-process mock.
package hosttest

import (
	"testing"

	"libvirt.org/go/libvirt"
)

// Conn opens libvirt's in-process mock, test:///default, closed when the
// test ends. Its state lives as long as a connection is open, so every
// test starts from the driver's defaults.
func Conn(t testing.TB) *libvirt.Connect {
	t.Helper()
	conn, err := libvirt.NewConnect("test:///default")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
