// Package shtest runs the shell that lvslab writes (plans, handouts, seed
// and probe scripts, checks) under this machine's sh in tests, with some of
// the commands it calls stubbed.
package shtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Need skips the test unless each of tools is on PATH.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip("no " + tool + " on PATH (make deps installs what the tests run)")
		}
	}
}

// Parses fails the test, naming what, when sh -n refuses script.
func Parses(t testing.TB, what, script string) {
	t.Helper()
	if err := parse(script); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// parse is what sh -n says of script: nil when it parses.
func parse(script string) error {
	if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
		return fmt.Errorf("sh -n: %v\n%s", err, out)
	}
	return nil
}

// Stubs writes each of stubs (a command's name, the sh script that stands
// in for it) as an executable in a new folder, for the front of PATH, and
// returns the folder.
func Stubs(t testing.TB, stubs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, script := range stubs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Command is sh -c script with env (NAME=value) over this process's
// environment, for the caller to run.
func Command(script string, env ...string) *exec.Cmd {
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// Succeeds runs script as Command does and tells whether it exits 0,
// logging what it printed; the test fails when sh cannot run at all.
func Succeeds(t testing.TB, script string, env ...string) bool {
	t.Helper()
	out, err := Command(script, env...).CombinedOutput()
	if len(out) > 0 {
		t.Logf("%s", out)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return err == nil
}
