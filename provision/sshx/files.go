package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
)

// tmpSuffix marks WriteFile's temporary files next to their target.
const tmpSuffix = ".tmp-lvslab"

// ReadFile reads a file over SFTP; a missing file is exists=false, no error.
func (c *Client) ReadFile(ctx context.Context, name string) (data []byte, exists bool, err error) {
	start := time.Now()
	err = c.withSFTP(ctx, func(files *sftp.Client) error {
		f, err := files.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		data, err = io.ReadAll(f)
		return err
	})
	progress.Trace("sftp "+c.node(), "read "+name, start, "", err)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: read %s: %w", c.node(), name, err)
	}
	return data, true, nil
}

// WriteFile replaces a file atomically: it writes name+".tmp-lvslab", sets its
// mode, then renames it over name, creating parent directories first.
func (c *Client) WriteFile(ctx context.Context, name string, data []byte, mode fs.FileMode) error {
	start := time.Now()
	err := c.withSFTP(ctx, func(files *sftp.Client) error {
		if err := files.MkdirAll(path.Dir(name)); err != nil {
			return err
		}
		tmp := name + tmpSuffix
		if err := writeRemote(files, tmp, data, mode); err != nil {
			files.Remove(tmp)
			return err
		}
		if err := files.PosixRename(tmp, name); err != nil {
			files.Remove(tmp)
			return err
		}
		return nil
	})
	progress.Trace("sftp "+c.node(), fmt.Sprintf("write %s (%d bytes, mode %o)", name, len(data), mode), start, "", err)
	if err != nil {
		return fmt.Errorf("%s: write %s: %w", c.node(), name, err)
	}
	return nil
}

func writeRemote(files *sftp.Client, name string, data []byte, mode fs.FileMode) error {
	f, err := files.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	return paths.WriteChmodClose(f, data, mode)
}

// withSFTP runs op within the command timeout. File operations are
// idempotent, so when the connection turns out to be gone op is retried
// once on a fresh one.
func (c *Client) withSFTP(ctx context.Context, op func(*sftp.Client) error) error {
	ctx, _, cancel := boundContext(ctx, c.cfg.Timeout)
	defer cancel()
	err := c.trySFTP(ctx, op)
	if err != nil && connectionLost(err) && ctx.Err() == nil {
		err = c.trySFTP(ctx, op)
	}
	return err
}

func (c *Client) trySFTP(ctx context.Context, op func(*sftp.Client) error) error {
	conn, err := c.connection(ctx)
	if err != nil {
		return err
	}
	return c.bounded(ctx, conn, func() error {
		files, err := c.sftpOn(conn)
		if err == nil {
			err = op(files)
		}
		if connectionLost(err) {
			c.drop(conn)
		}
		return err
	})
}

// sftpOn returns the SFTP client of conn, opening it on first use.
func (c *Client) sftpOn(conn *ssh.Client) (*sftp.Client, error) {
	c.mu.Lock()
	if c.conn == conn && c.files != nil {
		defer c.mu.Unlock()
		return c.files, nil
	}
	c.mu.Unlock()

	// Opened outside the lock: it is a round trip that may hang.
	files, err := sftp.NewClient(conn)
	if err != nil {
		return nil, fmt.Errorf("%w: start sftp: %w", sftp.ErrSSHFxConnectionLost, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.conn != conn:
		files.Close()
		return nil, sftp.ErrSSHFxConnectionLost
	case c.files != nil: // opened concurrently
		files.Close()
		return c.files, nil
	default:
		c.files = files
		return files, nil
	}
}

// connectionLost tells errors of a broken connection from errors of the
// operation itself.
func connectionLost(err error) bool {
	return err != nil && (errors.Is(err, sftp.ErrSSHFxConnectionLost) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE))
}
