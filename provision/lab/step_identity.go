package lab

import (
	"errors"
	"fmt"
	"os"

	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/sshx"
)

// labIdentity makes (or reuses) the lab's state folder and SSH login key.
func labIdentity(r *run) error {
	r.stateDir = paths.StateDir(r.opts.Home, r.lab.Name)
	r.knownHosts = paths.KnownHostsFile(r.stateDir)
	r.keyFile = paths.KeyFile(r.stateDir)
	if _, err := os.Stat(r.stateDir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(r.stateDir, 0o700); err != nil {
			return fmt.Errorf("lab state folder: %w", err)
		}
		dir := r.stateDir
		r.made("folder "+dir, func() error { return os.RemoveAll(dir) })
	}
	signer, line, err := sshx.EnsureKey(r.stateDir)
	if err != nil {
		return fmt.Errorf("lab SSH key in %s: %w", r.stateDir, err)
	}
	r.signer, r.authKey = signer, line
	return nil
}
