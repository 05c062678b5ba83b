package sshx

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileIsAtomicAndCreatesParents(t *testing.T) {
	_, c := connected(t)
	ctx := testContext(t)
	dir := t.TempDir()
	name := filepath.Join(dir, "etc/sysctl.d/90-lvs.conf")

	for _, content := range []string{"net.ipv4.ip_forward = 1\n", "net.ipv4.ip_forward = 0\n"} {
		if err := c.WriteFile(ctx, name, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil || string(got) != content {
			t.Fatalf("file = %q, %v; want %q", got, err, content)
		}
	}
	info, err := os.Stat(name)
	if err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, %v; want 0640", info.Mode(), err)
	}
	if _, err := os.Stat(name + tmpSuffix); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestWriteFileModeIsNotWeakenedByUmask(t *testing.T) {
	_, c := connected(t)
	name := filepath.Join(t.TempDir(), "script")
	if err := c.WriteFile(testContext(t), name, []byte("#!/bin/sh\n"), 0o777); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(name); info.Mode().Perm() != 0o777 {
		t.Errorf("mode = %v, want 0777", info.Mode())
	}
}

func TestReadFile(t *testing.T) {
	_, c := connected(t)
	ctx := testContext(t)
	dir := t.TempDir()

	data, exists, err := c.ReadFile(ctx, filepath.Join(dir, "missing"))
	if err != nil || exists || data != nil {
		t.Fatalf("missing file: %q, %v, %v", data, exists, err)
	}

	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644)
	data, exists, err = c.ReadFile(ctx, filepath.Join(dir, "empty"))
	if err != nil || !exists || len(data) != 0 {
		t.Fatalf("empty file: %q, %v, %v", data, exists, err)
	}

	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i)
	}
	os.WriteFile(filepath.Join(dir, "big"), big, 0o644)
	data, exists, err = c.ReadFile(ctx, filepath.Join(dir, "big"))
	if err != nil || !exists || string(data) != string(big) {
		t.Fatalf("big file: %d bytes, %v, %v", len(data), exists, err)
	}

	if _, _, err := c.ReadFile(ctx, dir); err == nil {
		t.Error("reading a directory should fail")
	}
}
