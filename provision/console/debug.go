package console

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// debug is where --debug sends its trace; nil when it is off.
var debug struct {
	mu sync.Mutex
	w  io.Writer
}

// SetDebug turns the trace on (to w) or off (nil).
func SetDebug(w io.Writer) {
	debug.mu.Lock()
	defer debug.mu.Unlock()
	debug.w = w
}

// Debugging tells whether the trace is on, for callers that would have to
// do work to describe a call.
func Debugging() bool {
	debug.mu.Lock()
	defer debug.mu.Unlock()
	return debug.w != nil
}

// Trace records one finished call while --debug is on: where it went
// ("libvirt", "ssh web1"), what it was, how long it took since start, its
// error and its output, indented under it. Lines of concurrent calls never
// interleave.
func Trace(where, call string, start time.Time, output string, err error) {
	debug.mu.Lock()
	defer debug.mu.Unlock()
	if debug.w == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "debug: %s: %s (%s)", where, call, time.Since(start).Round(time.Millisecond))
	if err != nil {
		fmt.Fprintf(&b, ": %v", err)
	}
	b.WriteString("\n")
	if out := strings.TrimRight(output, "\n"); out != "" {
		for _, line := range strings.Split(out, "\n") {
			b.WriteString("    | " + line + "\n")
		}
	}
	io.WriteString(debug.w, b.String())
}

// Libvirt traces one libvirt call made by fn: defer-free, so it can wrap
// any call site as "err = console.Libvirt("NetworkCreate "+name, n.Create)".
func Libvirt(call string, fn func() error) error {
	start := time.Now()
	err := fn()
	Trace("libvirt", call, start, "", err)
	return err
}

// Call is Libvirt for a call that returns an object:
// "n, err := console.Call("NetworkDefineXML "+name, func() (*libvirt.Network, error) { ... })".
func Call[T any](call string, fn func() (T, error)) (T, error) {
	start := time.Now()
	v, err := fn()
	Trace("libvirt", call, start, "", err)
	return v, err
}
