package image

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/lvslab/lvslab/provision/localhost"
)

// openers lists the processes holding path open (running VMs hold their
// backing image), by scanning /proc/*/fd.
func openers(path string) []int {
	var pids []int
	for _, pid := range localhost.PIDs() {
		fds, _ := os.ReadDir(localhost.Proc(pid, "fd"))
		for _, fd := range fds {
			if target, err := os.Readlink(localhost.Proc(pid, "fd", fd.Name())); err == nil && target == path {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// checkUnused refuses to replace or remove an image whose disk running VMs
// use as their backing file: their overlays would silently break.
func checkUnused(dir, name string) error {
	disk := filepath.Join(dir, name, DiskFile)
	if pids := openers(disk); len(pids) > 0 {
		return fmt.Errorf("image %q is in use by running VMs (processes %v): take their labs down first (\"lvslab down\")", name, pids)
	}
	return nil
}
