package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/report"
)

// Every command's error goes through run, which tells libvirt's errors in
// sentences (host.ExplainAt): status and verify too, which never
// called Explain themselves. A libvirt that does not answer is a socket
// nothing listens on (no daemon is started).
func TestEveryCommandExplainsLibvirtErrors(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "libvirt-sock")
	uri := "qemu+unix:///system?socket=" + sock
	for _, args := range [][]string{
		{"status", "--connect", uri},
		{"status", "--connect", uri, "tedu-nat"},
		{"verify", "--connect", uri, "tedu-nat"},
		{"check", "--connect", uri, "tedu-nat"},
		{"drill", "fail", "web1", "--connect", uri, "tedu-nat"},
		{"ls", "--connect", uri},
		{"down", "--connect", uri, "tedu"},
		{"up", "--dry-run", "--connect", uri, "tedu-nat"},
	} {
		code, _, stderr := lvslab(t, args...)
		if code != report.ExitCannot {
			t.Errorf("%s: exit code %d, want %d\n%s", strings.Join(args, " "), code, report.ExitCannot, stderr)
		}
		if want := "nothing listens on libvirt's socket " + sock; !strings.Contains(stderr, want) || strings.Contains(stderr, "virError") {
			t.Errorf("%s: libvirt's error is not explained (want %q):\n%s", args[0], want, stderr)
		}
		if !strings.Contains(stderr, "cannot connect to libvirt at "+uri) {
			t.Errorf("%s: the context around libvirt's error is lost:\n%s", args[0], stderr)
		}
	}
}
