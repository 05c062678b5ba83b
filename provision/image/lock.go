package image

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lock takes an exclusive lock on one image name so that two builds (or a
// build and a remove) never work on it at once.
func lock(dir, name string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create image store %s: %w", dir, err)
	}
	path := filepath.Join(dir, "."+name+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("image %q is busy: another lvslab is building or removing it (lock %s)", name, path)
	}
	return func() { f.Close() }, nil
}
