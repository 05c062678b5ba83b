package sshx

import (
	"strings"
	"testing"
)

// A student's command streams its output and stderr apart, reads stdin,
// and its exit status is returned, not an error.
func TestStream(t *testing.T) {
	_, c := connected(t)
	var out, errw strings.Builder
	code, err := c.Stream(testContext(t), "tr a-z A-Z; echo oops >&2; exit 7", Session{Stdin: strings.NewReader("hello\n"), Stdout: &out, Stderr: &errw})
	if err != nil || code != 7 || out.String() != "HELLO\n" || errw.String() != "oops\n" {
		t.Errorf("code %d err %v stdout %q stderr %q", code, err, out.String(), errw.String())
	}
	code, err = c.Stream(testContext(t), "true", Session{Stdout: &out, Stderr: &errw})
	if err != nil || code != 0 {
		t.Errorf("true: code %d err %v", code, err)
	}
}

// Without a terminal, the shell reads its commands from stdin.
func TestShellFromPipe(t *testing.T) {
	_, c := connected(t)
	var out strings.Builder
	code, err := c.Shell(testContext(t), Session{Stdin: strings.NewReader("echo in the shell\nexit 3\n"), Stdout: &out, Stderr: &out})
	if err != nil || code != 3 || out.String() != "in the shell\n" {
		t.Errorf("code %d err %v output %q", code, err, out.String())
	}
}
