package progress

import (
	"fmt"
	"strings"
	"time"
)

// The events of up's wait for SSH and of its configure step, per node.

// WaitStarted: up waits for SSH on these nodes, at most Timeout.
type WaitStarted struct {
	Nodes   []string `json:"nodes"`
	Timeout Duration `json:"timeout_seconds"`
}

// NodeWaiting: a node does not answer yet (Error: the last try's).
type NodeWaiting struct {
	Node    string   `json:"node"`
	User    string   `json:"user"`
	Addr    string   `json:"addr"`
	Elapsed Duration `json:"seconds"`
	Error   string   `json:"error,omitempty"`
}

// NodeReady: a node accepted the SSH login.
type NodeReady struct {
	Node    string   `json:"node"`
	Addr    string   `json:"addr"`
	Elapsed Duration `json:"seconds"`
}

// NodeFailed: the wait for a node failed, or was interrupted.
type NodeFailed struct {
	Node        string `json:"node"`
	Error       string `json:"error"`
	Interrupted bool   `json:"interrupted,omitempty"`
}

// NodeRestored: a node that did not answer SSH had what cut lvslab off
// (Causes, in words: "mgmt0 is down") undone through its guest agent.
type NodeRestored struct {
	Node   string   `json:"node"`
	Causes []string `json:"causes"`
}

// NodeConsole: a new node of an image that reads no seed is set up over
// its serial console before the SSH wait; Stage is where that is
// ("waiting for the login prompt on the serial console").
type NodeConsole struct {
	Node  string `json:"node"`
	Stage string `json:"stage"`
}

// WaitDone: every node's wait ended.
type WaitDone struct {
	Elapsed Duration `json:"seconds"`
}

// ConfigureStarted: the configure step begins on these nodes.
type ConfigureStarted struct {
	Nodes []string `json:"nodes"`
}

// ConfigureStep: one configure step on one node, as the engine reports it
// (Status: unchanged, changed or failed).
type ConfigureStep struct {
	Node   string `json:"node"`
	Step   string `json:"step"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// NodeConfigured: a node is configured: what changed (nothing: it was
// unchanged), or why it failed.
type NodeConfigured struct {
	Node    string   `json:"node"`
	OS      string   `json:"os,omitempty"`
	Changed []string `json:"changed,omitempty"`
	Checked int      `json:"checked"` // steps read back
	Elapsed Duration `json:"seconds"`
	Error   string   `json:"error,omitempty"`
}

// ConfigureDone: every node's configure ended.
type ConfigureDone struct {
	Elapsed Duration `json:"seconds"`
}

func (e WaitStarted) text() string {
	return fmt.Sprintf("  waiting for SSH on %d nodes (timeout %s)\n", len(e.Nodes), e.Timeout.D())
}

// The wait's node events are lines of the node table (see table), not
// lines of their own.
func (NodeWaiting) text() string  { return "" }
func (NodeReady) text() string    { return "" }
func (NodeFailed) text() string   { return "" }
func (NodeRestored) text() string { return "" }
func (NodeConsole) text() string  { return "" }
func (WaitDone) text() string     { return "" }

// nodeEvent is an event that sets a node's line in the table.
type nodeEvent interface {
	Event
	nodeLine() (node, line string)
}

func (e NodeWaiting) nodeLine() (string, string) {
	s := fmt.Sprintf("waiting for SSH %s@%s (%s)", e.User, e.Addr, e.Elapsed.D().Round(time.Second))
	if e.Error != "" {
		s += ": " + shortError(e.Error)
	}
	return e.Node, s
}

func (e NodeReady) nodeLine() (string, string) {
	return e.Node, fmt.Sprintf("ready on %s after %s", e.Addr, e.Elapsed.tenths())
}

func (e NodeFailed) nodeLine() (string, string) {
	if e.Interrupted {
		return e.Node, "interrupted"
	}
	return e.Node, "FAILED: " + FirstLine(e.Error)
}

func (e ConfigureStarted) text() string { return fmt.Sprintf("configure: %d nodes\n", len(e.Nodes)) }

func (e ConfigureStep) text() string {
	if e.Status == "unchanged" {
		return ""
	}
	return fmt.Sprintf("   %-10s %-8s %s\n", e.Node, e.Status, e.Step)
}

func (e NodeConfigured) text() string {
	switch {
	case e.Error != "":
		return fmt.Sprintf("   %-10s failed after %s: %s\n", e.Node, e.Elapsed.tenths(), e.Error)
	case len(e.Changed) > 0:
		return fmt.Sprintf("   %-10s changed (%s) in %s\n", e.Node, strings.Join(e.Changed, ", "), e.Elapsed.tenths())
	default:
		return fmt.Sprintf("   %-10s unchanged (%d steps checked, %s) in %s\n", e.Node, e.Checked, e.OS, e.Elapsed.tenths())
	}
}

func (e ConfigureDone) text() string {
	return fmt.Sprintf("configure: done in %s\n", e.Elapsed.tenths())
}

func (e NodeRestored) nodeLine() (string, string) {
	return e.Node, "restored lvslab's access through its guest agent: " + AndList(e.Causes)
}

func (e NodeConsole) nodeLine() (string, string) { return e.Node, e.Stage }

// AndList is items as one clause: "a, b and c".
func AndList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// FirstLine is s up to its first newline.
func FirstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// shortError is the end of a dial error, which says most ("connection
// refused").
func shortError(s string) string {
	s = FirstLine(s)
	if i := strings.LastIndex(s, ": "); i >= 0 && len(s)-i < 60 {
		return s[i+2:]
	}
	if len(s) > 80 {
		return s[len(s)-80:]
	}
	return s
}
