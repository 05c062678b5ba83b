// Package progresstest watches lvslab's progress in tests.
package progresstest

import (
	"bytes"
	"testing"

	"github.com/lvslab/lvslab/provision/progress"
)

// Debug turns the --debug trace on until the test ends, as plain lines
// into the buffer it returns.
func Debug(t testing.TB) *bytes.Buffer {
	var trace bytes.Buffer
	progress.SetDebug(progress.Plain(&trace))
	t.Cleanup(func() { progress.SetDebug(nil) })
	return &trace
}
