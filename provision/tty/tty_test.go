package tty

import (
	"bytes"
	"os"
	"testing"
)

func TestNotATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if Is(f) || Is(&bytes.Buffer{}) {
		t.Error("a file or a buffer is taken for a terminal")
	}
}
