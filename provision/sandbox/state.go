package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvslab/lvslab/provision/paths"
)

// StateFileName is the record of the running sandbox in lvslab's state
// folder (paths.Root's Home: /var/lib/lvslab for root).
const StateFileName = "sandbox.json"

// State is the record "lvslab sandbox start" leaves of the sandbox it
// started: enough to find it again, enter it, and stop exactly the
// processes it started.
type State struct {
	// Name is the network namespace (/run/netns/NAME).
	Name string `json:"name"`
	// NetNS is the namespace's identity as /proc/PID/ns/net shows it
	// ("net:[4026532311]"): a namespace of the same name made later by
	// someone else is not the sandbox's.
	NetNS string `json:"netns"`
	// BootID is the kernel's boot_id when the sandbox started: after a
	// reboot no recorded pid means anything.
	BootID  string    `json:"boot_id"`
	MaskKVM bool      `json:"mask_kvm"`
	Started time.Time `json:"started"`
	// Daemons are the processes the sandbox started: virtlogd, libvirtd.
	Daemons []Proc `json:"daemons"`
}

// Proc is one process the sandbox started, known by its pid and its start
// time: a pid the kernel gave to another process since has another start.
type Proc struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// Start is the process's start time in clock ticks after boot, field
	// 22 of /proc/PID/stat.
	Start uint64 `json:"start"`
}

// Locations, variables for the tests.
var (
	procDir    = "/proc"
	netnsDir   = "/run/netns"
	bootIDFile = "/proc/sys/kernel/random/boot_id"
)

// statePath is the state file in dir.
func statePath(dir string) string { return filepath.Join(dir, StateFileName) }

// Load reads the sandbox's record in dir (lvslab's state folder): nil
// when there is none.
func Load(dir string) (*State, error) {
	data, err := os.ReadFile(statePath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the sandbox's record: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil || st.Name == "" {
		return nil, fmt.Errorf("the sandbox's record %s is damaged (%v): remove it, and the namespace it names if one is left (ip netns list)", statePath(dir), err)
	}
	return &st, nil
}

// save writes st to dir at once (readers never see half of it).
func (s *State) save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return paths.WriteFileAtomic(statePath(dir), append(data, '\n'), 0o644)
}

// remove deletes the record in dir; one already gone is fine.
func removeState(dir string) error {
	if err := os.Remove(statePath(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Alive tells whether p is still the process the sandbox started: same
// boot, and its pid's process started at the recorded time.
func (s *State) Alive(p Proc) bool {
	if s.BootID != "" && s.BootID != bootID() {
		return false
	}
	start, err := procStart(p.PID)
	return err == nil && start == p.Start
}

// Running tells whether any daemon of the sandbox is alive (they hold its
// namespaces).
func (s *State) Running() bool { return len(s.alive()) > 0 }

// alive lists the recorded daemons still alive, in their order.
func (s *State) alive() []Proc { return s.daemons(true) }

// Gone lists the recorded daemons that are no longer running.
func (s *State) Gone() []Proc { return s.daemons(false) }

// daemons lists the recorded daemons that are alive, or those that are not.
func (s *State) daemons(alive bool) []Proc {
	var out []Proc
	for _, p := range s.Daemons {
		if s.Alive(p) == alive {
			out = append(out, p)
		}
	}
	return out
}

// procStart reads a process's start time (ticks after boot) from
// /proc/PID/stat: field 22, counted after the command name in parentheses
// (which may itself hold spaces and parentheses).
func procStart(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no process %d", pid)
	}
	data, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(s[i+1:]) // field 3 (state) onwards
	const startField = 22 - 3
	if len(fields) <= startField {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	return strconv.ParseUint(fields[startField], 10, 64)
}

// procOf is the Proc of a running pid, named name.
func procOf(name string, pid int) (Proc, error) {
	start, err := procStart(pid)
	if err != nil {
		return Proc{}, fmt.Errorf("%s (pid %d): %w", name, pid, err)
	}
	return Proc{Name: name, PID: pid, Start: start}, nil
}

// bootID is the kernel's id of this boot, "" when unknown.
func bootID() string {
	b, _ := os.ReadFile(bootIDFile)
	return strings.TrimSpace(string(b))
}

// lockDir takes the sandbox's lock in dir, so that two "start" or "stop"
// never run at once; the returned func releases it.
func lockDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "sandbox.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, errors.New("another \"lvslab sandbox start\" or \"stop\" is running: wait for it")
	}
	return func() { f.Close() }, nil
}

// Describe writes what "lvslab sandbox status" shows: the sandbox, since
// when, and each daemon it started with its pid, running or gone.
func (s *State) Describe(w io.Writer) {
	guests := "guests under KVM when libvirt offers it"
	if s.MaskKVM {
		guests = "guests under QEMU TCG (/dev/kvm hidden)"
	}
	fmt.Fprintf(w, "sandbox %s: started %s, network namespace %s, %s\n", s.Name, s.Started.Format(time.DateTime), s.Name, guests)
	for _, p := range s.Daemons {
		state := "running"
		if !s.Alive(p) {
			state = "gone"
		}
		fmt.Fprintf(w, "  %-9s pid %-8d %s\n", p.Name, p.PID, state)
	}
}
