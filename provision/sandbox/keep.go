package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvslab/lvslab/provision/paths"
)

// DefaultName is the network namespace of the sandbox Start makes.
const DefaultName = "lvslab-sb"

// keeperReport is what the inner half of Start prints on its stdout once
// the daemons answer: the processes it started and its namespace.
type keeperReport struct {
	Daemons []Proc `json:"daemons"`
	NetNS   string `json:"netns"`
}

// Start makes a sandbox that outlives this process: the network namespace
// (opts.Name, default DefaultName) and a private mount namespace with
// virtlogd and libvirtd running in them, recorded in dir (lvslab's state
// folder). It refuses when a sandbox recorded there still runs, and first
// removes what is left of one that died (a reboot, a killed daemon).
func Start(ctx context.Context, opts Options, dir string) (*State, error) {
	if cur := Current(); cur != "" {
		return nil, fmt.Errorf("this command runs inside sandbox %s already: start a sandbox from outside it", cur)
	}
	if opts.Hypervisors > 0 {
		return nil, errors.New("a started sandbox has one libvirtd: simulated hypervisors run only around one command (lvslab sandbox --hypervisors N -- COMMAND)")
	}
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := clearStale(dir, o.Log); err != nil {
		return nil, err
	}
	if err := checkHost(); err != nil {
		return nil, err
	}
	mask, why := shouldMask(o.MaskKVM, KVMUsable)
	if mask {
		fmt.Fprintf(o.Log, "sandbox: hiding /dev/kvm, guests run under QEMU TCG (%s)\n", why)
	}
	if err := createNamespace(ctx, o.Name); err != nil {
		return nil, err
	}
	st, err := startKeeper(ctx, o, mask)
	if err == nil {
		err = st.save(dir)
	}
	if err != nil {
		if derr := destroyNamespace(o.Name); derr != nil {
			fmt.Fprintf(o.Log, "sandbox: %v\n", derr)
		}
		return nil, err
	}
	return st, nil
}

// clearStale refuses when the sandbox recorded in dir runs, and removes
// what is left of one whose daemons are all gone.
func clearStale(dir string, log io.Writer) error {
	old, err := Load(dir)
	if err != nil || old == nil {
		return err
	}
	if old.Running() {
		return fmt.Errorf("sandbox %s runs already (since %s): use it (lvslab sandbox shell), or stop it first (lvslab sandbox stop)",
			old.Name, old.Started.Format(time.DateTime))
	}
	fmt.Fprintf(log, "sandbox: %s (started %s) is no longer running: removing what is left of it\n", old.Name, old.Started.Format(time.DateTime))
	return old.clear(dir, log)
}

// startKeeper runs the inner half in the new namespace: it privatizes
// libvirt's folders, starts the daemons, reports them and returns, leaving
// them running.
func startKeeper(ctx context.Context, o Options, mask bool) (*State, error) {
	cfg, _ := json.Marshal(innerConfig{Name: o.Name, MaskKVM: mask, ReadyTimeout: o.ReadyTimeout, Keep: true})
	line := innerCommand(o, nil)
	cmd := exec.CommandContext(ctx, line[0], line[1:]...)
	cmd.Env = append(os.Environ(), envInner+"="+string(cfg))
	cmd.Stderr = o.Log
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("start the sandbox's daemons in %s: %w (the reasons are above)", o.Name, err)
	}
	var rep keeperReport
	if err := json.Unmarshal(out, &rep); err != nil || len(rep.Daemons) == 0 {
		return nil, fmt.Errorf("the sandbox's daemons did not report (%v): %q", err, out)
	}
	return &State{Name: o.Name, NetNS: rep.NetNS, BootID: bootID(), MaskKVM: mask, Started: time.Now(), Daemons: rep.Daemons}, nil
}

// StopOptions configure Stop.
type StopOptions struct {
	// Down, when given, runs inside the sandbox before its daemons stop
	// ("lvslab down --all"): the labs go first, by libvirt's own means.
	Down []string
	// Log receives Down's output and the sandbox's messages; default
	// os.Stderr.
	Log io.Writer
}

// Stop removes the sandbox recorded in dir: its labs (opts.Down), then the
// daemons it started (by their recorded pid, only while that pid is still
// the process it started), whatever else is left in its own network
// namespace, the namespace and the record. It returns the stopped
// sandbox's state, nil when none was recorded.
func Stop(ctx context.Context, dir string, opts StopOptions) (*State, error) {
	if cur := Current(); cur != "" {
		return nil, fmt.Errorf("this command runs inside sandbox %s: stop it from outside (leave its shell first)", cur)
	}
	log := opts.Log
	if log == nil {
		log = os.Stderr
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := Load(dir)
	if err != nil || st == nil {
		return nil, err
	}
	if len(opts.Down) > 0 && st.Running() {
		line, _ := st.EnterArgv(opts.Down, "/")
		cmd := exec.CommandContext(ctx, line[0], line[1:]...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(log, "sandbox: removing its labs failed (%v): its VMs go with the namespace\n", err)
		}
	}
	return st, st.clear(dir, log)
}

// clear stops the recorded daemons that are still the processes the
// sandbox started, then removes its namespace (when it is still the
// sandbox's) and the record.
func (s *State) clear(dir string, log io.Writer) error {
	stopPids(func() []int {
		var pids []int
		for _, p := range s.alive() {
			pids = append(pids, p.PID)
		}
		return pids
	}, 10*time.Second)
	if err := s.removeNamespace(log); err != nil {
		return err
	}
	return removeState(dir)
}

// removeNamespace deletes the sandbox's network namespace, with what is
// left in it (the guests and dnsmasq its libvirtd started), when the
// namespace of that name is still the one the sandbox made.
func (s *State) removeNamespace(log io.Writer) error {
	id, err := netnsID(s.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if s.NetNS != "" && id != s.NetNS {
		fmt.Fprintf(log, "sandbox: network namespace %s is not the sandbox's any more (%s, the sandbox's was %s): left alone\n", s.Name, id, s.NetNS)
		return nil
	}
	return destroyNamespace(s.Name)
}

// netnsID is the identity of the named network namespace, as
// /proc/PID/ns/net shows it.
func netnsID(name string) (string, error) {
	fi, err := os.Stat(filepath.Join(netnsDir, name))
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("stat %s: no inode", name)
	}
	return fmt.Sprintf("net:[%d]", st.Ino), nil
}

// EnterArgv is the command line that runs argv inside the running sandbox,
// in its network and mount namespaces (those of a daemon it started), in
// folder dir ("" leaves the namespace's root), with EnvName set.
func (s *State) EnterArgv(argv []string, dir string) ([]string, error) {
	alive := s.alive()
	if len(alive) == 0 {
		return nil, fmt.Errorf("sandbox %s is not running (lvslab sandbox status)", s.Name)
	}
	line := []string{"nsenter", "--target", strconv.Itoa(alive[0].PID), "--net", "--mount", "--", "env"}
	if dir != "" {
		// By path, once inside: the sandbox's own mounts then apply.
		line = append(line, "--chdir="+dir)
	}
	line = append(line, EnvName+"="+s.Name)
	return append(line, argv...), nil
}

// Exec replaces this process with argv run inside the running sandbox, in
// the current folder: its terminal, signals and exit status are argv's.
// It returns only when argv could not be started.
func Exec(s *State, argv []string) error {
	if len(argv) == 0 {
		return errors.New("no command to run in the sandbox")
	}
	dir, _ := os.Getwd()
	line, err := s.EnterArgv(argv, dir)
	if err != nil {
		return err
	}
	path, err := exec.LookPath(line[0])
	if err != nil {
		return errors.New("nsenter is missing: install the Debian package util-linux")
	}
	return syscall.Exec(path, line, os.Environ())
}

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

// readPidFile is the Proc of the daemon name whose pid file is file.
func readPidFile(name, file string) (Proc, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return Proc{}, fmt.Errorf("read %s's pid file: %w", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return Proc{}, fmt.Errorf("%s's pid file %s: %w", name, file, err)
	}
	return procOf(name, pid)
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
