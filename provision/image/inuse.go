package image

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// openers lists the processes holding path open (running VMs hold their
// backing image), by scanning /proc/*/fd.
func openers(path string) []int {
	procs, _ := os.ReadDir("/proc")
	var pids []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name())); err == nil && target == path {
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
