package image

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/lvslab/lvslab/provision/sandbox"
)

// TestMain lets the test binary play "lvslab __sandbox-inner" when the boot
// benchmark re-runs itself inside a sandbox.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandbox.InnerCommand {
		code, err := sandbox.RunInner(context.Background(), os.Args[2:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			os.Exit(125)
		}
		os.Exit(code)
	}
	// A failed build keeps its log in the temporary folder: the tests'
	// failures go to one of their own, removed after.
	tmp, err := os.MkdirTemp("", "lvslab-image-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("TMPDIR", tmp)
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}
