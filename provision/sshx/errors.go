package sshx

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	maxShownCmd    = 200
	maxShownOutput = 1500
)

// CommandError is a command that failed on a node: a non-zero exit, a
// timeout, or a session that broke before the command finished.
type CommandError struct {
	Node string
	// Cmd is the command as shown to users: the redacted text for RunSecret.
	Cmd string
	// ExitStatus is -1 when the command did not report one.
	ExitStatus int
	Stdout     string
	Stderr     string
	// Output is stdout and stderr interleaved as they arrived.
	Output string
	// Timeout is set when the command was stopped for running too long.
	Timeout time.Duration
	// Err is the cause when there is no exit status.
	Err error
}

func (e *CommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %q ", e.Node, shorten(e.Cmd, maxShownCmd))
	switch {
	case e.Timeout > 0:
		fmt.Fprintf(&b, "timed out after %s", seconds(e.Timeout))
	case e.ExitStatus >= 0:
		fmt.Fprintf(&b, "exited %d", e.ExitStatus)
	default:
		fmt.Fprintf(&b, "failed: %v", e.Err)
	}
	if out := tail(strings.TrimSpace(e.Output), maxShownOutput); out != "" {
		b.WriteString(": ")
		b.WriteString(out)
	}
	return b.String()
}

func (e *CommandError) Unwrap() error { return e.Err }

// seconds is "60s" or "0.2s": people set timeouts in seconds.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Round(100*time.Millisecond).Seconds(), 'f', -1, 64) + "s"
}

func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// tail keeps the end of the output: that is where failures explain
// themselves.
func tail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return "..." + s[len(s)-max:]
}
