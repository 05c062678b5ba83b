// Package labs holds the embedded lab files: every exercise of the
// classroom references, and the default lab.
package labs

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/lvslab/lvslab/topology"
)

//go:embed *.yaml
var files embed.FS

// Default is the lab used when a command is given none.
const Default = "tedu-nat"

// Names lists the embedded labs.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// Get returns an embedded lab file's bytes.
func Get(name string) ([]byte, error) {
	data, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no embedded lab %q (embedded labs: %s)", name, strings.Join(Names(), ", "))
	}
	return data, nil
}

// Load resolves a command's LAB argument: empty means the default lab, an
// existing file is read from disk, anything else names an embedded lab.
func Load(arg string) (*topology.Lab, error) {
	if arg == "" {
		arg = Default
	}
	if _, err := os.Stat(arg); err == nil {
		return topology.LoadFile(arg)
	}
	if strings.ContainsAny(arg, "/.") {
		return nil, fmt.Errorf("lab file %s: %w", arg, os.ErrNotExist)
	}
	data, err := Get(arg)
	if err != nil {
		return nil, err
	}
	return topology.Load(topology.EmbeddedFile(arg), data)
}
