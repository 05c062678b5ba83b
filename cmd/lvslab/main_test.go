package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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

// lvslabOnPath links the binary under test into bin as "lvslab" ($LVSLAB_BIN
// when make gives one, else this test binary acting as lvslab) and returns
// the environment that puts bin first on PATH.
func lvslabOnPath(t *testing.T, bin string) []string {
	t.Helper()
	self := os.Getenv("LVSLAB_BIN")
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(self, filepath.Join(bin, "lvslab")); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), asMainEnv+"=1", "PATH="+bin+":"+os.Getenv("PATH"))
}
