// Package guest is how every reader and writer of lvslab reaches a lab
// node: one Executor (provision/sshx.Client for real, a recording fake in
// tests), one Dialer from node names to executors, and one protocol for
// reading a guest in a single round trip (Probe).
package guest

import (
	"context"
	"io/fs"
)

// Executor runs commands and moves files on one node as root. Roles, the
// apply engine, verify, check and the drill all talk to it and never know
// whether it is SSH or a fake.
type Executor interface {
	// Run runs a shell command (sh -c) as root on the node. A non-zero exit
	// status is returned as an error that carries the command and its output.
	Run(ctx context.Context, cmd string) (stdout string, err error)
	// ReadFile returns a file's content; a missing file is (nil, nil) with
	// exists=false so that callers can compare before writing.
	ReadFile(ctx context.Context, path string) (data []byte, exists bool, err error)
	// WriteFile writes a file atomically (temp file + rename), creating parent
	// directories.
	WriteFile(ctx context.Context, path string, data []byte, mode fs.FileMode) error
}

// Dialer opens an executor on a lab node, by node name. Who dials owns the
// executor and closes it when it has a Close method.
type Dialer func(node string) (Executor, error)
