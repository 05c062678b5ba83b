// Package serve is the web side of "lvslab class serve": one long-running
// HTTPS server that is each student's door to their own copy of the lab
// (their nodes, a terminal and the serial console of each in the browser,
// their handout, "check my work" and its history) and the teacher's live
// view of the class (a grid that fits one screen for thirty students,
// updated by server-sent events, with reset, up and revoke).
//
// Everything the server knows about the lab comes through a Backend, which
// the caller implements over SSH and libvirt; the server itself never runs a
// command on its host. Everything read from a guest is hostile: a student is
// root in their guests, so node names, states, addresses, check text and
// error messages are stripped of control characters, bounded in size and
// only ever put into pages by html/template or the DOM's textContent.
package serve

import (
	"context"
	"io"

	"github.com/lvslab/lvslab/provision/class/tty"
)

// Backend is what the server needs from the class. The caller implements it
// over SSH and libvirt; tests implement it with a fake. Every method may be
// slow or hang: the server calls it with a deadline and at most a few calls
// per student at once, so one student's broken copy never stalls another's.
type Backend interface {
	// Students are the class's students (from the class file or record).
	// It is called on many requests: it must answer from memory, without
	// I/O.
	Students() []string
	// Nodes are the nodes of student's copy and their state; an error
	// (a copy down or missing) is shown to that student as a sentence.
	Nodes(ctx context.Context, student string) ([]Node, error)
	// Shell is an interactive PTY shell as the lab's user on node of
	// student's copy; it ends when ctx ends or it is closed.
	Shell(ctx context.Context, student, node string, t Terminal) (Shell, error)
	// Console is node's serial console (the way back when a student cut
	// off the node's network).
	Console(ctx context.Context, student, node string) (io.ReadWriteCloser, error)
	// Check judges student's copy ("check my work").
	Check(ctx context.Context, student string) (CheckResult, error)
	// Reset brings student's copy back to the start of stage ("" = bare).
	Reset(ctx context.Context, student, stage string) error
	// Handout is student's printable handout, a whole HTML page.
	Handout(ctx context.Context, student string) (html string, err error)
	// Up brings a missing copy up.
	Up(ctx context.Context, student string) error
}

// Node is one node of a student's copy.
type Node struct {
	Name      string   `json:"name"`
	State     string   `json:"state"`
	Addresses []string `json:"addresses"`
}

// Terminal is the browser terminal's type and size when a shell opens.
type Terminal = tty.Terminal

// Shell is an open interactive shell: bytes both ways, and the window size.
type Shell = tty.Shell

// CheckResult is one "check my work": each check of the copy, or Error when
// the copy could not be judged at all.
type CheckResult struct {
	Checks []Check `json:"checks"`
	Error  string  `json:"error,omitempty"`
}

// Check is one desired fact of one node: whether it holds, and when not,
// why and how to fix it.
type Check struct {
	Node string `json:"node"`
	Name string `json:"name"`
	Pass bool   `json:"pass"`
	Why  string `json:"why,omitempty"`
	Fix  string `json:"fix,omitempty"`
}
