// Package sandbox runs a command inside a fresh private network namespace
// with its own libvirtd and virtlogd. Everything libvirt makes there
// (bridges, dnsmasq, taps, QEMU guests) lives and dies with the sandbox:
// nothing reaches the host's networks, and the sandbox's libvirt state,
// sockets and configuration never touch a workstation's own libvirtd.
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/lvslab/lvslab/provision/localhost"
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
