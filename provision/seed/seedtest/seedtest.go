// Package seedtest reads seeds back for tests.
package seedtest

import (
	"bytes"
	"io"
	"testing"

	"github.com/kdomanski/iso9660"
)

// ReadISO is the files of a seed's ISO 9660 image by name, and its volume
// label; an image that does not read fails the test.
func ReadISO(t testing.TB, data []byte) (map[string]string, string) {
	t.Helper()
	img, err := iso9660.OpenImage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	label, err := img.Label()
	if err != nil {
		t.Fatal(err)
	}
	root, err := img.RootDir()
	if err != nil {
		t.Fatal(err)
	}
	children, err := root.GetChildren()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, c := range children {
		b, err := io.ReadAll(c.Reader())
		if err != nil {
			t.Fatal(err)
		}
		files[c.Name()] = string(b)
	}
	return files, label
}
