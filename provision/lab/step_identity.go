package lab

import (
	"errors"
	"fmt"
	"os"

	"github.com/lvslab/lvslab/provision/sshx"
)

// labIdentity makes (or reuses) the lab's state folder and SSH login key.
func labIdentity(r *run) error {
	dir := r.opts.Paths.LabDir(r.lab.Name)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("lab state folder: %w", err)
		}
		r.made("folder "+dir, func() error { return os.RemoveAll(dir) })
	}
	signer, line, err := sshx.EnsureKey(r.opts.Paths.KeyFile(r.lab.Name))
	if err != nil {
		return fmt.Errorf("lab SSH key in %s: %w", dir, err)
	}
	r.signer, r.authKey = signer, line
	return nil
}
