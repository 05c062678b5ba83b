package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// createNamespace makes the named network namespace with loopback up. A
// namespace of that name left by a crashed run (same pid, no process in it)
// is replaced.
func createNamespace(ctx context.Context, name string) error {
	if _, err := os.Stat("/run/netns/" + name); err == nil {
		if pids, _ := namespacePids(name); len(pids) > 0 {
			return fmt.Errorf("network namespace %s exists and is in use: choose another name", name)
		}
		if err := run(ctx, "ip", "netns", "delete", name); err != nil {
			return err
		}
	}
	if err := run(ctx, "ip", "netns", "add", name); err != nil {
		return fmt.Errorf("create the sandbox's network namespace: %w", err)
	}
	if err := run(ctx, "ip", "-n", name, "link", "set", "lo", "up"); err != nil {
		destroyNamespace(name)
		return err
	}
	return nil
}

// namespacePids lists the processes in the named network namespace.
func namespacePids(name string) ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	if err != nil {
		return nil, err
	}
	return parsePids(string(out)), nil
}

func parsePids(s string) []int {
	var pids []int
	for _, f := range strings.Fields(s) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// destroyNamespace stops every process left in the namespace (libvirtd,
// virtlogd, qemu, dnsmasq: by pid, only those of this namespace), then
// deletes it.
func destroyNamespace(name string) error {
	stopPids(func() []int {
		pids, _ := namespacePids(name)
		return pids
	}, 10*time.Second)
	if err := run(context.Background(), "ip", "netns", "delete", name); err != nil {
		return fmt.Errorf("remove network namespace %s: %w (remove it by hand with \"ip netns delete %s\")", name, err, name)
	}
	return nil
}

// stopPids sends SIGTERM to the processes list returns, waits for them up to
// grace, then SIGKILLs what is left.
func stopPids(list func() []int, grace time.Duration) {
	pids := list()
	if len(pids) == 0 {
		return
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if len(list()) == 0 {
			return
		}
	}
	for _, pid := range list() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for i := 0; i < 30 && len(list()) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}
