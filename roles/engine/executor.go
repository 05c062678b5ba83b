package engine

import (
	"context"
	"io/fs"
)

// Executor is how roles reach a node: a recording fake in unit tests, SSH
// for real. Roles never know which one they talk to.
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
