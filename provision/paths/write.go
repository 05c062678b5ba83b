package paths

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes a local file so that readers never see it half
// written: a temporary file beside it, then renamed over path.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) error {
	return writeBeside(path, data, mode, os.Rename)
}

// WriteChmodClose writes data to a fresh file f, sets its mode and closes
// it: a local or a remote (SFTP) file alike. Chmod rather than a create
// mode: the umask must not weaken it.
func WriteChmodClose(f interface {
	io.WriteCloser
	Chmod(fs.FileMode) error
}, data []byte, mode fs.FileMode) error {
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteFileOnce writes a local file that is made once and then kept: a
// temporary file beside it, then linked to path. A link, not a rename:
// when two processes write it at once, the first one's stays and both read
// it back. An existing file is not an error (nothing is written).
func WriteFileOnce(path string, data []byte, mode fs.FileMode) error {
	return writeBeside(path, data, mode, func(tmp, path string) error {
		if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return nil
	})
}

// writeBeside writes data to a temporary file beside path, then hands it to
// put (a rename, a link); the temporary name is removed afterwards.
func writeBeside(path string, data []byte, mode fs.FileMode, put func(tmp, path string) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if err := WriteChmodClose(tmp, data, mode); err != nil {
		return err
	}
	return put(tmp.Name(), path)
}
