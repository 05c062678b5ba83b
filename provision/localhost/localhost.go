// Package localhost is what lvslab asks of the machine it runs on: root
// and programs for the commands that need them (image build, sandbox), and
// its processes.
package localhost

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Require refuses to go on without root (rootErr, which says why root is
// needed and how to run as root) or without the programs of tools (program
// -> its Debian package): every package to install is named once, sorted,
// in the error of what the tools are missing for ("to build images").
func Require(rootErr, missingFor string, tools map[string]string) error {
	if os.Geteuid() != 0 {
		return errors.New(rootErr)
	}
	var missing []string
	for tool, pkg := range tools {
		if _, err := exec.LookPath(tool); err != nil && !slices.Contains(missing, pkg) {
			missing = append(missing, pkg)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("missing tools %s: install the Debian packages %s", missingFor, strings.Join(missing, " "))
	}
	return nil
}

// PIDs lists the processes running now: the numeric entries of /proc.
func PIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Proc is a file of process pid in /proc ("fd", "ns/net", "comm"...).
func Proc(pid int, elem ...string) string {
	return filepath.Join(append([]string{"/proc", strconv.Itoa(pid)}, elem...)...)
}
