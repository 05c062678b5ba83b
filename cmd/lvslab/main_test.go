package main

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// asMainEnv makes the test binary behave as lvslab itself, so that tests
// can run it from a shell (the completion scripts call "lvslab").
const asMainEnv = "LVSLAB_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(run(os.Args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// lvslab runs the CLI in-process and returns its exit code and output.
func lvslab(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(append([]string{"lvslab"}, args...), &o, &e)
	return code, o.String(), e.String()
}

// lvslabProcess runs the CLI as a process of its own (urfave/cli keeps some
// state in package variables that in-process runs share).
func lvslabProcess(t *testing.T, args ...string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), asMainEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lvslab %q: %v", args, err)
	}
	return string(out)
}
