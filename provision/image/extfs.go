package image

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path"
	"strconv"
	"strings"
)

// extFS reads files of an ext2/3/4 filesystem inside a raw disk file with
// debugfs (e2fsprogs), without mounting it: no root, no loop device. Paths
// are absolute in the guest; symbolic links are followed inside the
// filesystem, never on the host.
type extFS struct {
	ctx    context.Context
	device string                       // "disk.raw?offset=N", debugfs's way to a filesystem inside a file
	dirs   map[string]map[string]uint32 // folder -> name -> mode, as read
}

// maxLinks bounds the symbolic links one lookup follows.
const maxLinks = 16

func openExtFS(ctx context.Context, rawDisk string, offset int64) *extFS {
	return &extFS{ctx: ctx, device: rawDisk + "?offset=" + strconv.FormatInt(offset, 10), dirs: map[string]map[string]uint32{}}
}

// debugfs runs one debugfs request and returns what it printed; its
// complaints (a missing file) go to stderr and come back as the error.
func (x *extFS) debugfs(request string) ([]byte, error) {
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(x.ctx, "debugfs", "-R", request, x.device)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("debugfs -R %q: %w: %s", request, err, strings.TrimSpace(errOut.String()))
	}
	// The first line of stderr is debugfs's version banner.
	_, complaint, _ := strings.Cut(errOut.String(), "\n")
	if complaint = strings.TrimSpace(complaint); complaint != "" {
		return out.Bytes(), errors.New(complaint)
	}
	return out.Bytes(), nil
}

// list reads a folder's entries and their modes (debugfs "ls -p":
// /inode/mode/uid/gid/name/size/).
func (x *extFS) list(dir string) (map[string]uint32, error) {
	if m, ok := x.dirs[dir]; ok {
		return m, nil
	}
	out, err := x.debugfs("ls -p " + quoteDebugfs(dir))
	m := map[string]uint32{}
	if err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Split(line, "/")
			if len(f) < 7 || f[5] == "." || f[5] == ".." {
				continue
			}
			if mode, err := strconv.ParseUint(f[2], 8, 32); err == nil {
				m[f[5]] = uint32(mode)
			}
		}
	}
	x.dirs[dir] = m
	return m, err
}

// File mode types as ext4 stores them.
const (
	modeType = 0o170000
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
)

// resolve follows p's symbolic links, each component's in turn, and
// returns the real path and its mode; fs.ErrNotExist when it is missing.
func (x *extFS) resolve(p string) (string, uint32, error) {
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur, mode := "/", uint32(modeDir)
	for hops := 0; len(parts) > 0; {
		name := parts[0]
		parts = parts[1:]
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			cur = path.Dir(cur)
			continue
		}
		entries, err := x.list(cur)
		m, ok := entries[name]
		if !ok {
			if err != nil {
				return "", 0, err
			}
			return "", 0, fs.ErrNotExist
		}
		next := path.Join(cur, name)
		if m&modeType != modeLink {
			cur, mode = next, m
			continue
		}
		if hops++; hops > maxLinks {
			return "", 0, fmt.Errorf("%s: too many symbolic links", p)
		}
		target, err := x.readlink(next)
		if err != nil {
			return "", 0, err
		}
		if strings.HasPrefix(target, "/") {
			cur = "/"
		}
		parts = append(strings.Split(strings.Trim(target, "/"), "/"), parts...)
	}
	return cur, mode, nil
}

// readlink reads a symbolic link: a fast link's target is in "stat", a
// longer one is the link's data.
func (x *extFS) readlink(p string) (string, error) {
	out, err := x.debugfs("stat " + quoteDebugfs(p))
	if err != nil {
		return "", err
	}
	if _, rest, ok := strings.Cut(string(out), "Fast link dest: \""); ok {
		if target, _, ok := strings.Cut(rest, "\"\n"); ok {
			return target, nil
		}
	}
	data, err := x.debugfs("cat " + quoteDebugfs(p))
	return string(data), err
}

// Stat tells what p is after its links: modeFile, modeDir, ... (0 and
// fs.ErrNotExist when it does not exist).
func (x *extFS) Stat(p string) (uint32, error) {
	_, mode, err := x.resolve(p)
	return mode & modeType, err
}

// Exists tells whether p exists (after its links).
func (x *extFS) Exists(p string) bool {
	_, err := x.Stat(p)
	return err == nil
}

// regular resolves p to a regular file's real path.
func (x *extFS) regular(p string) (string, error) {
	real, mode, err := x.resolve(p)
	if err == nil && mode&modeType != modeFile {
		err = fmt.Errorf("%s is not a regular file", p)
	}
	return real, err
}

// ReadFile reads a regular file.
func (x *extFS) ReadFile(p string) ([]byte, error) {
	real, err := x.regular(p)
	if err != nil {
		return nil, err
	}
	return x.debugfs("cat " + quoteDebugfs(real))
}

// ReadDir lists a folder's names.
func (x *extFS) ReadDir(p string) ([]string, error) {
	real, mode, err := x.resolve(p)
	if err != nil {
		return nil, err
	}
	if mode&modeType != modeDir {
		return nil, fmt.Errorf("%s is not a folder", p)
	}
	entries, err := x.list(real)
	var names []string
	for n := range entries {
		names = append(names, n)
	}
	return names, err
}

// Dump copies a regular file out to dst on the host.
func (x *extFS) Dump(p, dst string) error {
	real, err := x.regular(p)
	if err != nil {
		return err
	}
	_, err = x.debugfs("dump " + quoteDebugfs(real) + " " + quoteDebugfs(dst))
	return err
}

// quoteDebugfs quotes an argument for debugfs's own parser, which knows
// double quotes only.
func quoteDebugfs(s string) string {
	if !strings.ContainsAny(s, " \t\"") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// Filesystem magic numbers at their places.
var fsMagics = []struct {
	name   string
	offset int64
	magic  []byte
}{
	{"ext4", 1024 + 56, []byte{0x53, 0xef}},
	{"xfs", 0, []byte("XFSB")},
	{"btrfs", 65536 + 64, []byte("_BHRfS_M")},
	{"vfat", 82, []byte("FAT32   ")},
	{"vfat", 54, []byte("FAT16   ")},
	{"vfat", 54, []byte("FAT12   ")},
	{"LVM2", 512 + 24, []byte("LVM2 001")},
	{"swap", 4096 - 10, []byte("SWAPSPACE2")},
}

// fsType names the filesystem at offset of r by its magic, "" when unknown.
func fsType(r io.ReaderAt, offset int64) string {
	for _, m := range fsMagics {
		b := make([]byte, len(m.magic))
		if _, err := r.ReadAt(b, offset+m.offset); err == nil && bytes.Equal(b, m.magic) {
			if m.name == "ext4" {
				return extVersion(r, offset)
			}
			return m.name
		}
	}
	return ""
}

// extVersion tells ext2, ext3 and ext4 apart by the superblock's feature
// flags (journal; extents or 64bit).
func extVersion(r io.ReaderAt, offset int64) string {
	sb := make([]byte, 1024)
	if _, err := r.ReadAt(sb, offset+1024); err != nil {
		return "ext4"
	}
	compat := binary.LittleEndian.Uint32(sb[0x5c:])
	incompat := binary.LittleEndian.Uint32(sb[0x60:])
	switch {
	case incompat&(0x40|0x80) != 0: // extents, 64bit
		return "ext4"
	case compat&0x4 != 0: // has_journal
		return "ext3"
	}
	return "ext2"
}
