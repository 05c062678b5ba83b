// Package sandbox runs a command inside a fresh private network namespace
// with its own libvirtd and virtlogd. Everything libvirt makes there
// (bridges, dnsmasq, taps, QEMU guests) lives and dies with the sandbox:
// nothing reaches the host's networks, and the sandbox's libvirt state,
// sockets and configuration never touch a workstation's own libvirtd.
package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lvslab/lvslab/provision/localhost"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/sshx"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

const (
	// InnerCommand is the hidden CLI command the sandbox re-executes inside
	// the namespaces; the program named by Options.Self must route it to
	// RunInner.
	InnerCommand = "__sandbox-inner"
	// EnvName is set to the namespace's name for the command run inside.
	EnvName = "LVSLAB_SANDBOX"
	// envInner carries the inner options from Run to RunInner.
	envInner = "LVSLAB_SANDBOX_INNER"
)

// KVMMask tells whether /dev/kvm is hidden from the sandbox's libvirtd.
type KVMMask string

const (
	// MaskAuto hides /dev/kvm when KVM cannot run a guest here (KVMUsable).
	MaskAuto KVMMask = "auto"
	// MaskAlways always hides /dev/kvm: guests run under QEMU TCG.
	MaskAlways KVMMask = "always"
	// MaskNever leaves /dev/kvm visible.
	MaskNever KVMMask = "never"
)

// Options configure a sandbox run. The zero value is ready to use.
type Options struct {
	// Name of the network namespace; default "lvslab-sb-<pid>".
	Name string
	// MaskKVM defaults to MaskAuto.
	MaskKVM KVMMask
	// Self is the program (and arguments) that runs InnerCommand; default
	// the running executable followed by InnerCommand.
	Self []string
	// ReadyTimeout bounds the wait for libvirtd to answer; default 60 s.
	ReadyTimeout time.Duration
	// Log receives the sandbox's own messages; default os.Stderr.
	Log io.Writer
	// Hypervisors, when above 0, makes that many simulated remote hosts
	// (each a namespace with its own libvirtd and sshd, reached over SSH)
	// and runs the command in a "teacher" namespace without a libvirtd of
	// its own; the command finds their URIs in EnvHypervisors.
	Hypervisors int
	// Stdin, Stdout and Stderr of the command; default the process's own.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// innerConfig is what the inner process needs to know.
type innerConfig struct {
	Name         string        `json:"name"`
	MaskKVM      bool          `json:"mask_kvm"`
	ReadyTimeout time.Duration `json:"ready_timeout"`
	// Teacher: no daemons; SSHDir holds the hypervisors' known_hosts.
	Teacher bool   `json:"teacher,omitempty"`
	SSHDir  string `json:"ssh_dir,omitempty"`
	// Keep: start the daemons, report them on stdout and leave them
	// running (Start); there is no command to run.
	Keep bool `json:"keep,omitempty"`
}

func (o Options) withDefaults() (Options, error) {
	if o.Name == "" {
		o.Name = fmt.Sprintf("lvslab-sb-%d", os.Getpid())
	}
	if o.MaskKVM == "" {
		o.MaskKVM = MaskAuto
	}
	switch o.MaskKVM {
	case MaskAuto, MaskAlways, MaskNever:
	default:
		return o, fmt.Errorf("invalid KVM mask %q: use auto, always or never", o.MaskKVM)
	}
	if len(o.Self) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find the lvslab executable to re-run inside the sandbox: %w", err)
		}
		o.Self = []string{exe, InnerCommand}
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	return o, nil
}

// Current returns the name of the sandbox this process runs in, or "".
func Current() string { return os.Getenv(EnvName) }

// shouldMask applies the KVM mask mode.
func shouldMask(mode KVMMask, usable func() error) (bool, string) {
	switch mode {
	case MaskAlways:
		return true, "asked for"
	case MaskNever:
		return false, ""
	}
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return false, ""
	}
	if err := usable(); err != nil {
		return true, err.Error()
	}
	return false, ""
}

// innerCommand is the command line that enters the namespace and re-runs
// this program there: "ip netns exec" also gives it its own mount namespace.
func innerCommand(o Options, argv []string) []string {
	cmd := append([]string{"ip", "netns", "exec", o.Name}, o.Self...)
	return append(append(cmd, "--"), argv...)
}

// Run runs argv in a new sandbox and returns its exit code. The namespace,
// the daemons and any guest left running are removed on return, also when
// ctx ends or the process gets SIGINT or SIGTERM.
func Run(ctx context.Context, opts Options, argv []string) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("no command to run in the sandbox: give one after \"--\", for example: lvslab sandbox -- virsh list --all")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return 0, err
	}
	if err := checkHost(); err != nil {
		return 0, err
	}
	if o.Hypervisors > 0 {
		return runHosts(ctx, o, argv)
	}
	mask, why := shouldMask(o.MaskKVM, KVMUsable)
	if mask {
		fmt.Fprintf(o.Log, "sandbox: hiding /dev/kvm, guests run under QEMU TCG (%s)\n", why)
	}
	if err := createNamespace(ctx, o.Name); err != nil {
		return 0, err
	}
	defer func() {
		if err := destroyNamespace(o.Name); err != nil {
			fmt.Fprintf(o.Log, "sandbox: %v\n", err)
		}
	}()

	cfg, _ := json.Marshal(innerConfig{Name: o.Name, MaskKVM: mask, ReadyTimeout: o.ReadyTimeout})
	line := innerCommand(o, argv)
	cmd := exec.Command(line[0], line[1:]...)
	cmd.Env = append(os.Environ(), envInner+"="+string(cfg))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("enter sandbox %s: %w", o.Name, err)
	}
	waitErr := waitForwarding(ctx, cmd)
	return exitCode(waitErr)
}

// waitForwarding waits for cmd, passing SIGINT/SIGTERM (and ctx's end) on
// as SIGTERM; a second one kills it.
func waitForwarding(ctx context.Context, cmd *exec.Cmd) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ctxDone := ctx.Done()
	asked := 0
	for {
		select {
		case err := <-done:
			return err
		case <-sigs:
		case <-ctxDone:
			ctxDone = nil
		}
		asked++
		if asked == 1 {
			cmd.Process.Signal(syscall.SIGTERM)
		} else {
			cmd.Process.Kill()
		}
	}
}

// exitCode turns a Wait error into the command's exit code.
func exitCode(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

// hostTools maps the programs a sandbox needs to their Debian packages.
var hostTools = map[string]string{
	"ip":       "iproute2",
	"nsenter":  "util-linux",
	"libvirtd": "libvirt-daemon-system",
	"virtlogd": "libvirt-daemon-system",
	"virsh":    "libvirt-clients",
	"dnsmasq":  "dnsmasq-base",
}

func checkHost() error {
	return localhost.Require("the sandbox needs root (network and mount namespaces, libvirtd): run it with sudo",
		"for the sandbox", hostTools)
}

const (
	// HypervisorCommand is the hidden CLI command that runs one simulated
	// hypervisor inside its namespace; route it to RunHypervisor.
	HypervisorCommand = "__sandbox-hypervisor"
	// EnvHypervisors lists, space-separated, the libvirt URIs of the
	// sandbox's hypervisors, for the command run in the teacher namespace.
	EnvHypervisors = "LVSLAB_HYPERVISORS"
	sshdPath       = "/usr/sbin/sshd"
)

// hypervisor is one simulated remote host: a network namespace joined to
// the teacher's by a veth pair, with its own libvirtd and sshd.
type hypervisor struct {
	Index     int           `json:"index"`
	Namespace string        `json:"namespace"`
	Addr      string        `json:"addr"` // its address on the link to the teacher
	Dir       string        `json:"dir"`  // host key, authorized_keys, sshd_config, pool
	MaskKVM   bool          `json:"mask_kvm"`
	Ready     time.Duration `json:"-"` // how long it took to start
	cmd       *exec.Cmd
	stderr    *progress.Prefixed // its lines, into the sandbox's log
	stdin     io.WriteCloser
	readyCh   chan error
}

// URI is the libvirt URI the teacher reaches the hypervisor with.
func (h *hypervisor) URI(keyFile, knownHosts string) string {
	return fmt.Sprintf("qemu+ssh://root@%s/system?keyfile=%s&known_hosts=%s", h.Addr, keyFile, knownHosts)
}

// linkAddrs are the teacher's and hypervisor i's addresses on their veth
// link: 10.253.i.0/24, outside lvslab's management pool (10.250.0.0/16).
func linkAddrs(i int) (teacher, host string) {
	return fmt.Sprintf("10.253.%d.1", i), fmt.Sprintf("10.253.%d.2", i)
}

// sshdConfig lets in root with the sandbox's key only, and forwards TCP:
// lvslab reaches the nodes through it.
func sshdConfig(h *hypervisor) string {
	return fmt.Sprintf(`# lvslab sandbox hypervisor %d
ListenAddress %s
HostKey %s
PidFile /run/sshd/lvslab-sshd.pid
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
Subsystem sftp internal-sftp
`, h.Index, h.Addr, filepath.Join(h.Dir, "ssh_host_ed25519_key"), filepath.Join(h.Dir, "authorized_keys"))
}

// runHosts is Run with opts.Hypervisors hypervisor namespaces: the command
// runs in the teacher namespace (no libvirtd of its own), which reaches
// each hypervisor only over SSH.
func runHosts(ctx context.Context, o Options, argv []string) (code int, err error) {
	if _, err := os.Stat(sshdPath); err != nil {
		return 0, errors.New("the sandbox's hypervisors need sshd: install the Debian package openssh-server (make deps)")
	}
	start := time.Now()
	dir, err := os.MkdirTemp("/var/tmp", o.Name+"-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if err := createNamespace(ctx, o.Name); err != nil {
		return 0, err
	}
	var hosts []*hypervisor
	defer func() {
		stopHypervisors(hosts, o.Log)
		for _, h := range hosts {
			if err := destroyNamespace(h.Namespace); err != nil {
				fmt.Fprintf(o.Log, "sandbox: %v\n", err)
			}
		}
		if err := destroyNamespace(o.Name); err != nil {
			fmt.Fprintf(o.Log, "sandbox: %v\n", err)
		}
	}()
	keyFile, knownHosts := filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "known_hosts")
	_, authorized, err := sshx.EnsureKey(keyFile)
	if err != nil {
		return 0, err
	}
	mask, why := shouldMask(o.MaskKVM, KVMUsable)
	if mask {
		fmt.Fprintf(o.Log, "sandbox: hiding /dev/kvm, guests run under QEMU TCG (%s)\n", why)
	}
	var uris []string
	for i := 1; i <= o.Hypervisors; i++ {
		h := &hypervisor{Index: i, Namespace: fmt.Sprintf("%s-hv%d", o.Name, i), Dir: filepath.Join(dir, fmt.Sprintf("hv%d", i)), MaskKVM: mask}
		if err := createNamespace(ctx, h.Namespace); err != nil {
			return 0, err
		}
		hosts = append(hosts, h)
		if err := prepareHypervisor(ctx, o.Name, h, authorized, knownHosts); err != nil {
			return 0, err
		}
		uris = append(uris, h.URI(keyFile, knownHosts))
	}
	var logMu sync.Mutex // the hypervisors' lines, one at a time
	for _, h := range hosts {
		if err := startHypervisor(o, h, &logMu); err != nil {
			return 0, err
		}
	}
	for _, h := range hosts {
		if err := awaitHypervisor(ctx, o, h); err != nil {
			return 0, err
		}
		fmt.Fprintf(o.Log, "sandbox: hypervisor %d (namespace %s) ready at %s after %s\n", h.Index, h.Namespace, h.Addr, h.Ready.Round(100*time.Millisecond))
	}
	fmt.Fprintf(o.Log, "sandbox: %d hypervisors ready in %s; %s=%q\n", len(hosts), time.Since(start).Round(100*time.Millisecond), EnvHypervisors, strings.Join(uris, " "))

	cfg, _ := json.Marshal(innerConfig{Name: o.Name, Teacher: true, SSHDir: dir, ReadyTimeout: o.ReadyTimeout})
	line := innerCommand(o, argv)
	cmd := exec.Command(line[0], line[1:]...)
	cmd.Env = append(os.Environ(), envInner+"="+string(cfg), EnvHypervisors+"="+strings.Join(uris, " "))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("enter sandbox %s: %w", o.Name, err)
	}
	return exitCode(waitForwarding(ctx, cmd))
}

// prepareHypervisor links h's namespace to the teacher's and writes its
// sshd's files; the host key goes into the teacher's known_hosts.
func prepareHypervisor(ctx context.Context, teacher string, h *hypervisor, authorized, knownHosts string) error {
	teacherAddr, addr := linkAddrs(h.Index)
	h.Addr = addr
	link := fmt.Sprintf("hv%d", h.Index)
	// The pair is made inside the teacher's namespace and one end moved to
	// the hypervisor's: nothing of it ever exists in the root namespace.
	for _, args := range [][]string{
		{"-n", teacher, "link", "add", link, "type", "veth", "peer", "name", "uplink", "netns", h.Namespace},
		{"-n", teacher, "addr", "add", teacherAddr + "/24", "dev", link},
		{"-n", teacher, "link", "set", link, "up"},
		{"-n", h.Namespace, "addr", "add", addr + "/24", "dev", "uplink"},
		{"-n", h.Namespace, "link", "set", "uplink", "up"},
	} {
		if err := run(ctx, "ip", args...); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(h.Dir, "pool"), 0o711); err != nil {
		return err
	}
	priv, pub, err := sshx.GenerateHostKey()
	if err != nil {
		return err
	}
	files := map[string]string{
		"ssh_host_ed25519_key": string(priv),
		"authorized_keys":      authorized + "\n",
		"sshd_config":          sshdConfig(h),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(h.Dir, name), []byte(data), 0o600); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(knownHosts, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s %s", addr, ssh.MarshalAuthorizedKey(pub))
	return err
}

// startHypervisor runs HypervisorCommand in h's namespace, in a process
// group of its own (Ctrl-C reaches the command, which may still need the
// hosts to clean up); it stops when its stdin closes. Its stderr goes to
// the log, line by line, under logMu.
func startHypervisor(o Options, h *hypervisor, logMu *sync.Mutex) error {
	cfg, _ := json.Marshal(h)
	line := append([]string{"ip", "netns", "exec", h.Namespace}, o.Self[0], HypervisorCommand)
	h.cmd = exec.Command(line[0], line[1:]...)
	h.cmd.Env = append(os.Environ(), envInner+"="+string(cfg))
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	h.stderr = progress.NewPrefixed(o.Log, logMu, fmt.Sprintf("sandbox: hypervisor %d: ", h.Index))
	h.cmd.Stderr = h.stderr
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		return err
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := h.cmd.Start(); err != nil {
		return fmt.Errorf("start hypervisor %d: %w", h.Index, err)
	}
	ready := make(chan error, 1)
	started := time.Now()
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("said %q", line)
		}
		h.Ready = time.Since(started)
		ready <- err
		io.Copy(io.Discard, stdout)
	}()
	h.readyCh = ready
	return nil
}

func awaitHypervisor(ctx context.Context, o Options, h *hypervisor) error {
	select {
	case err := <-h.readyCh:
		if err != nil {
			return fmt.Errorf("hypervisor %d did not start (its messages are above): %v", h.Index, err)
		}
		return nil
	case <-time.After(o.ReadyTimeout + 30*time.Second):
		return fmt.Errorf("hypervisor %d not ready within %s", h.Index, o.ReadyTimeout+30*time.Second)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopHypervisors closes each one's stdin (it then stops its daemons) and
// waits; one that does not end in time is killed by its pid.
func stopHypervisors(hosts []*hypervisor, log io.Writer) {
	for _, h := range hosts {
		if h.stdin != nil {
			h.stdin.Close()
		}
	}
	for _, h := range hosts {
		if h.cmd == nil || h.cmd.Process == nil {
			continue
		}
		done := make(chan struct{})
		go func() { h.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			fmt.Fprintf(log, "sandbox: hypervisor %d did not stop: killing pid %d\n", h.Index, h.cmd.Process.Pid)
			h.cmd.Process.Kill()
			<-done
		}
		h.stderr.Flush() // its last words, even without a newline
	}
}

// RunHypervisor is one hypervisor's inside half: private libvirt folders
// (and lvslab's pool folder bound to the host's own), virtlogd, libvirtd
// and sshd; "ready" on stdout; then it waits for stdin to close and stops
// everything in its namespace.
func RunHypervisor(ctx context.Context) error {
	var h hypervisor
	if err := json.Unmarshal([]byte(os.Getenv(envInner)), &h); err != nil || h.Namespace == "" {
		return fmt.Errorf("%s is an internal command of \"lvslab sandbox --hypervisors\"", HypervisorCommand)
	}
	// Only the closing of stdin (or SIGTERM) ends a hypervisor.
	signal.Ignore(syscall.SIGINT)
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the hypervisor's mounts private: %w", err)
	}
	if h.MaskKVM {
		if err := hideKVM(); err != nil {
			return fmt.Errorf("hide /dev/kvm: %w", err)
		}
	}
	if err := privatizeLibvirt(); err != nil {
		return err
	}
	defer stopDaemons()
	if err := privateTmpfs("/run/sshd", 0o755); err != nil {
		return err
	}
	// lvslab's pool folder on a hypervisor: a folder of the sandbox's own on
	// disk is bound there, so the hosts' disks really differ and stay off tmpfs.
	hostPoolDir := paths.System().Remote().Pool
	if err := os.MkdirAll(hostPoolDir, 0o711); err != nil {
		return err
	}
	if err := unix.Mount(filepath.Join(h.Dir, "pool"), hostPoolDir, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind the hypervisor's pool folder: %w", err)
	}
	if err := startDaemons(ctx, 60*time.Second); err != nil {
		return err
	}
	sshd := exec.CommandContext(ctx, sshdPath, "-f", filepath.Join(h.Dir, "sshd_config"), "-E", filepath.Join(h.Dir, "sshd.log"))
	if out, err := sshd.CombinedOutput(); err != nil {
		return fmt.Errorf("start sshd: %v: %s (see %s)", err, strings.TrimSpace(string(out)), filepath.Join(h.Dir, "sshd.log"))
	}
	fmt.Println("ready")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	eof := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(eof) }()
	select {
	case <-eof:
	case <-stop:
	case <-ctx.Done():
	}
	return nil
}

// teacherMounts gives the teacher namespace an empty /run/libvirt & co. (no
// libvirtd is reachable there, not even the host's by its socket) and a
// private ~/.ssh holding the hypervisors' host keys, so libvirt's own ssh
// checks them without touching the user's known_hosts.
func teacherMounts(sshDir string) error {
	for _, dir := range append(append([]string(nil), stateDirs...), labDirs...) {
		if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			continue
		}
		if err := privateTmpfs(dir, 0o755); err != nil {
			return err
		}
	}
	home := "/root"
	if me, err := user.Current(); err == nil && me.HomeDir != "" {
		home = me.HomeDir
	}
	dotSSH := filepath.Join(home, ".ssh")
	known, err := os.ReadFile(filepath.Join(sshDir, "known_hosts"))
	if err != nil {
		return err
	}
	if err := privateTmpfs(dotSSH, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dotSSH, "known_hosts"), known, 0o600)
}
