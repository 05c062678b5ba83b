package progress

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Traced: one libvirt call or SSH command finished, for the --debug trace.
type Traced struct {
	Where   string   `json:"where"` // "libvirt", "ssh web1", "sftp web1"
	Call    string   `json:"call"`
	Elapsed Duration `json:"seconds"`
	Output  string   `json:"output,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// text is the call's line with its output indented under it.
func (e Traced) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "debug: %s: %s (%s)", e.Where, e.Call, e.Elapsed.D().Round(time.Millisecond))
	if e.Error != "" {
		fmt.Fprintf(&b, ": %s", e.Error)
	}
	b.WriteString("\n")
	if out := strings.TrimRight(e.Output, "\n"); out != "" {
		for _, line := range strings.Split(out, "\n") {
			b.WriteString("    | " + line + "\n")
		}
	}
	return b.String()
}

// debug is where --debug sends its trace; nil when it is off.
var debug struct {
	mu sync.Mutex
	s  Sink
}

// SetDebug turns the trace on (to s) or off (nil).
func SetDebug(s Sink) {
	debug.mu.Lock()
	defer debug.mu.Unlock()
	debug.s = s
}

func debugSink() Sink {
	debug.mu.Lock()
	defer debug.mu.Unlock()
	return debug.s
}

// Debugging tells whether the trace is on, for callers that would have to
// do work to describe a call.
func Debugging() bool { return debugSink() != nil }

// Trace records one finished call while --debug is on: where it went
// ("libvirt", "ssh web1"), what it was, how long it took since start, its
// error and its output.
func Trace(where, call string, start time.Time, output string, err error) {
	if s := debugSink(); s != nil {
		s.Emit(Traced{Where: where, Call: call, Elapsed: Since(start), Output: output, Error: ErrorText(err)})
	}
}

// Libvirt traces one libvirt call made by fn: defer-free, so it can wrap
// any call site as "err = progress.Libvirt("NetworkCreate "+name, n.Create)".
func Libvirt(call string, fn func() error) error {
	start := time.Now()
	err := fn()
	Trace("libvirt", call, start, "", err)
	return err
}

// Call is Libvirt for a call that returns an object:
// "n, err := progress.Call("NetworkDefineXML "+name, func() (*libvirt.Network, error) { ... })".
func Call[T any](call string, fn func() (T, error)) (T, error) {
	start := time.Now()
	v, err := fn()
	Trace("libvirt", call, start, "", err)
	return v, err
}
