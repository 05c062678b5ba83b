package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Part is one file of an image as a remote pool holds it.
type Part struct {
	Path   string // the local file
	Suffix string // of its volume name: ".qcow2", ".vmlinuz", ".initrd"
	Size   int64
}

// Parts are the files a remote host needs to boot the image: the disk and,
// for direct kernel boot, the kernel and initrd.
func (i Image) Parts() ([]Part, error) {
	parts := []Part{{Path: i.Disk, Suffix: ".qcow2"}}
	if i.Format == "raw" {
		parts[0].Suffix = ".img"
	}
	if i.DirectBoot() {
		parts = append(parts, Part{Path: i.Kernel, Suffix: ".vmlinuz"}, Part{Path: i.Initrd, Suffix: ".initrd"})
	}
	for k := range parts {
		st, err := os.Stat(parts[k].Path)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", i.Name, err)
		}
		parts[k].Size = st.Size()
	}
	return parts, nil
}

// VolumeBase is the name stem of the image's volumes in a remote pool:
// "image-<name>-<version>". No "_": no lab's volume prefix ("<lab>_")
// ever matches it, so "down" never takes it.
func VolumeBase(name, version string) string {
	name = strings.NewReplacer("_", "-", "/", "-").Replace(name)
	return "image-" + name + "-" + version
}

// versionCache is .version in a built image's folder: the Version of the
// files as they were (sizes and times), so that it is computed once.
type versionCache struct {
	Stamp   string `json:"stamp"`
	Version string `json:"version"`
}

// Version is a short checksum of the image's content (disk, kernel,
// initrd, in order): the name of its copy in a remote pool carries it, so a
// host holds each version once and a rebuilt image is uploaded again.
// A built or imported image keeps it in .version (recomputed when a file
// changes).
func (i Image) Version() (string, error) {
	parts, err := i.Parts()
	if err != nil {
		return "", err
	}
	var stamp strings.Builder
	for _, p := range parts {
		st, err := os.Stat(p.Path)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&stamp, "%s:%d:%d;", filepath.Base(p.Path), st.Size(), st.ModTime().UnixNano())
	}
	cache := ""
	if (i.Kind == Built || i.Kind == Imported) && i.Dir != "" {
		cache = filepath.Join(i.Dir, ".version")
		var c versionCache
		if data, err := os.ReadFile(cache); err == nil && json.Unmarshal(data, &c) == nil && c.Stamp == stamp.String() && c.Version != "" {
			return c.Version, nil
		}
	}
	all := sha256.New()
	for _, p := range parts {
		f, err := os.Open(p.Path)
		if err != nil {
			return "", err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("checksum of %s: %w", p.Path, err)
		}
		all.Write(h.Sum(nil))
	}
	version := hex.EncodeToString(all.Sum(nil))[:12]
	if cache != "" {
		data, _ := json.Marshal(versionCache{Stamp: stamp.String(), Version: version})
		_ = os.WriteFile(cache, data, 0o644) // a read-only store recomputes next time
	}
	return version, nil
}
