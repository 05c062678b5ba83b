package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvslab/lvslab/provision/localhost"
	"github.com/lvslab/lvslab/provision/paths"
)

// Paths private to the sandbox.
var (
	// stateDirs get an empty tmpfs (with the host's folder skeleton) so that
	// sockets, pid files, domain and network definitions and logs stay in the
	// sandbox. /var/lib/lvslab (the image cache) is deliberately not here.
	stateDirs = []string{"/run/libvirt", "/var/run/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt"}
	// labDirs get an empty tmpfs: lvslab's per-lab state (keys, host key
	// pins) and console logs belong to the sandbox's labs, which die with
	// it; two sandboxes running the same lab must not share them.
	labDirs = []string{paths.System().LabsDir(), paths.System().Logs}
	// configDir gets a private copy of its content.
	configDir = "/etc/libvirt"
	// Pid files inside the private /run/libvirt: the defaults (/run/*.pid)
	// would collide with a workstation's own daemons.
	libvirtdPidFile = "/run/libvirt/lvslab-libvirtd.pid"
	virtlogdPidFile = "/run/libvirt/lvslab-virtlogd.pid"
)

// qemuConfSandbox is appended to the private qemu.conf: QEMU runs as root
// without relabelling, since the sandbox's disks live in root-owned places.
const qemuConfSandbox = `
# --- lvslab sandbox ---
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
# No private /dev per guest: it would try to recreate the masked /dev/kvm.
namespaces = [ ]
`

// RunInner is the sandbox's inside half, run by InnerCommand in the new
// network and mount namespaces: it privatizes libvirt's folders, starts
// virtlogd and libvirtd, runs argv and stops everything again. For Start
// (Keep) it reports the daemons on stdout instead and leaves them running.
func RunInner(ctx context.Context, argv []string) (int, error) {
	var cfg innerConfig
	if err := json.Unmarshal([]byte(os.Getenv(envInner)), &cfg); err != nil || cfg.Name == "" {
		return 0, fmt.Errorf("%s is an internal command of \"lvslab sandbox\"; run that instead", InnerCommand)
	}
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 && !cfg.Keep {
		return 0, errors.New("no command to run in the sandbox")
	}
	// Mounts made here must never propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return 0, fmt.Errorf("make the sandbox's mounts private: %w", err)
	}
	if cfg.MaskKVM {
		if err := hideKVM(); err != nil {
			return 0, fmt.Errorf("hide /dev/kvm: %w", err)
		}
	}
	if cfg.Keep {
		return 0, keepDaemons(ctx, cfg)
	}
	defer stopDaemons()
	if cfg.Teacher {
		if err := teacherMounts(cfg.SSHDir); err != nil {
			return 0, err
		}
	} else {
		if err := privatizeLibvirt(); err != nil {
			return 0, err
		}
		if err := startDaemons(ctx, cfg.ReadyTimeout); err != nil {
			return 0, err
		}
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(withoutEnv(os.Environ(), envInner), EnvName+"="+cfg.Name)
	if err := cmd.Start(); err != nil {
		return 127, fmt.Errorf("run %s in the sandbox: %w", argv[0], err)
	}
	return exitCode(waitForwarding(ctx, cmd))
}

// keepDaemons is the inside half of Start: the private folders and the
// daemons, then one line of JSON (keeperReport) on stdout. The daemons stay
// when it returns; on failure it stops them.
func keepDaemons(ctx context.Context, cfg innerConfig) (err error) {
	defer func() {
		if err != nil {
			stopDaemons()
		}
	}()
	if err := privatizeLibvirt(); err != nil {
		return err
	}
	if err := startDaemons(ctx, cfg.ReadyTimeout); err != nil {
		return err
	}
	var rep keeperReport
	for _, d := range [][2]string{{"virtlogd", virtlogdPidFile}, {"libvirtd", libvirtdPidFile}} {
		p, err := readPidFile(d[0], d[1])
		if err != nil {
			return err
		}
		rep.Daemons = append(rep.Daemons, p)
	}
	if rep.NetNS, err = os.Readlink("/proc/self/ns/net"); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// hideKVM puts an empty read-only regular file over /dev/kvm. Seen here: with
// /dev/null bound there, libvirtd still took it for a KVM device and probed
// QEMU again on every call (16-30 s per define); a plain file is not a
// device, so libvirt settles on TCG once (a define then takes milliseconds).
func hideKVM() error {
	f, err := os.CreateTemp("", "lvslab-nokvm-")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	// The bind mount keeps the inode; the name can go at once.
	defer os.Remove(name)
	if err := unix.Mount(name, "/dev/kvm", "", unix.MS_BIND, ""); err != nil {
		return err
	}
	return unix.Mount("", "/dev/kvm", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, "")
}

func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// privatizeLibvirt mounts an empty tmpfs over each state folder (recreating
// the host's sub-folders, which libvirtd expects) and a tmpfs copy over
// /etc/libvirt, then adapts that copy.
func privatizeLibvirt() error {
	for _, dir := range stateDirs {
		if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			continue // /var/run -> /run: already done through its target
		}
		skeleton, _ := snapshot(dir, false)
		if err := privateTmpfs(dir, 0o755); err != nil {
			return err
		}
		if err := restore(dir, skeleton); err != nil {
			return err
		}
	}
	for _, dir := range labDirs {
		if err := privateTmpfs(dir, 0o755); err != nil {
			return err
		}
	}
	files, err := snapshot(configDir, true)
	if err != nil {
		return fmt.Errorf("read %s (is libvirt-daemon-system installed?): %w", configDir, err)
	}
	if err := privateTmpfs(configDir, 0o755); err != nil {
		return err
	}
	if err := restore(configDir, files); err != nil {
		return err
	}
	return adaptConfig(configDir)
}

// privateTmpfs mounts an empty tmpfs of the namespace's own on dir (made
// if missing), hiding the host's files there from the sandbox alone.
func privateTmpfs(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=%04o", mode)); err != nil {
		return fmt.Errorf("mount a private tmpfs on %s: %w", dir, err)
	}
	return nil
}

// adaptConfig edits the sandbox's private libvirt configuration.
func adaptConfig(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "qemu.conf"), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(qemuConfSandbox); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// The host's "default" network (virbr0, 192.168.122.0/24, dnsmasq) has
	// nothing to do in a lab sandbox.
	os.Remove(filepath.Join(dir, "qemu/networks/autostart/default.xml"))
	os.Remove(filepath.Join(dir, "qemu/networks/default.xml"))
	return nil
}

// entry is one file system object remembered by snapshot.
type entry struct {
	rel      string
	mode     os.FileMode
	uid, gid int
	data     []byte // regular files
	link     string // symlinks
}

// snapshot reads the tree under dir: folders only, or with files and links.
func snapshot(dir string, withFiles bool) ([]entry, error) {
	var out []entry
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		st, _ := fi.Sys().(*syscall.Stat_t)
		e := entry{rel: rel, mode: fi.Mode()}
		if st != nil {
			e.uid, e.gid = int(st.Uid), int(st.Gid)
		}
		switch {
		case fi.IsDir():
		case !withFiles:
			return nil
		case fi.Mode()&os.ModeSymlink != 0:
			if e.link, err = os.Readlink(path); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if e.data, err = os.ReadFile(path); err != nil {
				return err
			}
		default:
			return nil
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// restore recreates a snapshot under dir.
func restore(dir string, entries []entry) error {
	for _, e := range entries {
		p := filepath.Join(dir, e.rel)
		var err error
		switch {
		case e.mode.IsDir():
			err = os.MkdirAll(p, 0o755)
		case e.mode&os.ModeSymlink != 0:
			err = os.Symlink(e.link, p)
		default:
			err = os.WriteFile(p, e.data, 0o600)
		}
		if err != nil {
			return fmt.Errorf("copy %s into the sandbox: %w", p, err)
		}
		if e.mode&os.ModeSymlink == 0 {
			os.Chmod(p, e.mode.Perm()|e.mode&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
		}
		os.Lchown(p, e.uid, e.gid)
	}
	return nil
}

// startDaemons starts virtlogd and libvirtd and waits until libvirtd answers.
func startDaemons(ctx context.Context, timeout time.Duration) error {
	for _, d := range [][]string{
		{"virtlogd", "--daemon", "--pid-file", virtlogdPidFile},
		{"libvirtd", "--daemon", "--pid-file", libvirtdPidFile},
	} {
		if out, err := exec.CommandContext(ctx, d[0], d[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("start %s in the sandbox: %v: %s", d[0], err, strings.TrimSpace(string(out)))
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := exec.CommandContext(cctx, "virsh", "-c", "qemu:///system", "version").CombinedOutput()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("libvirtd in the sandbox did not answer within %s: %s (see /var/log/libvirt inside the sandbox)", timeout, strings.TrimSpace(string(out)))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stopDaemons stops everything else in this network namespace: libvirtd,
// virtlogd and whatever they left (qemu, dnsmasq). The outer half checks
// again after us.
func stopDaemons() {
	self := os.Getpid()
	stopPids(func() []int {
		var pids []int
		for _, pid := range pidsInMyNetns() {
			if pid != self {
				pids = append(pids, pid)
			}
		}
		return pids
	}, 10*time.Second)
}

// pidsInMyNetns lists processes sharing this process's network namespace.
func pidsInMyNetns() []int {
	mine, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return nil
	}
	var pids []int
	for _, pid := range localhost.PIDs() {
		if ns, err := os.Readlink(localhost.Proc(pid, "ns", "net")); err == nil && ns == mine {
			pids = append(pids, pid)
		}
	}
	return pids
}
