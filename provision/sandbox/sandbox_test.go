package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/topology/testkit/shtest"
)

func TestInnerCommand(t *testing.T) {
	o, err := Options{Self: []string{"/usr/bin/lvslab", InnerCommand}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(o.Name, "lvslab-sb-") || o.MaskKVM != MaskAuto {
		t.Errorf("defaults: %+v", o)
	}
	got := innerCommand(o, []string{"virsh", "list", "--all"})
	want := []string{"ip", "netns", "exec", o.Name, "/usr/bin/lvslab", InnerCommand, "--", "virsh", "list", "--all"}
	if !slices.Equal(got, want) {
		t.Errorf("innerCommand = %q, want %q", got, want)
	}
	if _, err := (Options{MaskKVM: "sometimes"}).withDefaults(); err == nil {
		t.Error("invalid mask accepted")
	}
}

func TestShouldMask(t *testing.T) {
	broken := func() error { return errors.New("no SSE3") }
	fine := func() error { return nil }
	if m, _ := shouldMask(MaskAlways, fine); !m {
		t.Error("always must mask")
	}
	if m, _ := shouldMask(MaskNever, broken); m {
		t.Error("never must not mask")
	}
	if _, err := os.Stat("/dev/kvm"); err == nil {
		if m, why := shouldMask(MaskAuto, broken); !m || why != "no SSE3" {
			t.Errorf("auto with broken KVM: %v %q", m, why)
		}
		if m, _ := shouldMask(MaskAuto, fine); m {
			t.Error("auto with working KVM must not mask")
		}
	}
}

func TestHelpers(t *testing.T) {
	if got := parsePids("12\n 345\nx\n0\n"); !slices.Equal(got, []int{12, 345}) {
		t.Errorf("parsePids = %v", got)
	}
	env := withoutEnv([]string{"A=1", envInner + "={}", "B=2"}, envInner)
	if !slices.Equal(env, []string{"A=1", "B=2"}) {
		t.Errorf("withoutEnv = %v", env)
	}
	if code, err := exitCode(shtest.Command("exit 7").Run()); code != 7 || err != nil {
		t.Errorf("exitCode = %d, %v", code, err)
	}
	if code, err := exitCode(nil); code != 0 || err != nil {
		t.Errorf("exitCode(nil) = %d, %v", code, err)
	}
}

func TestSnapshotRestoreAndConfig(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(src, "qemu/networks/autostart"), 0o755)
	os.WriteFile(filepath.Join(src, "qemu.conf"), []byte("#user = \"libvirt-qemu\"\n"), 0o600)
	os.WriteFile(filepath.Join(src, "qemu/networks/default.xml"), []byte("<network/>"), 0o600)
	os.Symlink("../default.xml", filepath.Join(src, "qemu/networks/autostart/default.xml"))
	entries, err := snapshot(src, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := restore(dst, entries); err != nil {
		t.Fatal(err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "qemu/networks/autostart/default.xml")); err != nil || l != "../default.xml" {
		t.Errorf("symlink = %q, %v", l, err)
	}
	if err := adaptConfig(dst); err != nil {
		t.Fatal(err)
	}
	conf, _ := os.ReadFile(filepath.Join(dst, "qemu.conf"))
	if !strings.Contains(string(conf), `user = "root"`) || !strings.Contains(string(conf), `security_driver = "none"`) {
		t.Errorf("qemu.conf = %s", conf)
	}
	if _, err := os.Lstat(filepath.Join(dst, "qemu/networks/default.xml")); !os.IsNotExist(err) {
		t.Error("default network kept in the sandbox")
	}
	// Folders only: the skeleton of a state directory.
	dirs, _ := snapshot(src, false)
	for _, e := range dirs {
		if !e.mode.IsDir() {
			t.Errorf("skeleton has file %s", e.rel)
		}
	}
}

func TestRunNeedsACommand(t *testing.T) {
	if _, err := Run(t.Context(), Options{}, nil); err == nil || !strings.Contains(err.Error(), "--") {
		t.Errorf("Run without argv: %v", err)
	}
	t.Setenv(envInner, "")
	if _, err := RunInner(t.Context(), []string{"--", "true"}); err == nil || !strings.Contains(err.Error(), "lvslab sandbox") {
		t.Errorf("RunInner outside a sandbox: %v", err)
	}
}

func TestHypervisorFixture(t *testing.T) {
	teacher, host := linkAddrs(2)
	if teacher != "10.253.2.1" || host != "10.253.2.2" {
		t.Errorf("link of hypervisor 2: %s, %s", teacher, host)
	}
	h := &hypervisor{Index: 2, Addr: host, Dir: "/var/tmp/sb/hv2"}
	if got := h.URI("/k/id", "/k/kh"); got != "qemu+ssh://root@10.253.2.2/system?keyfile=/k/id&known_hosts=/k/kh" {
		t.Errorf("URI = %s", got)
	}
	cfg := sshdConfig(h)
	for _, want := range []string{"ListenAddress 10.253.2.2\n", "AllowTcpForwarding yes\n", "PermitRootLogin prohibit-password\n",
		"PasswordAuthentication no\n", "HostKey /var/tmp/sb/hv2/ssh_host_ed25519_key\n", "AuthorizedKeysFile /var/tmp/sb/hv2/authorized_keys\n",
		"PidFile /run/sshd/"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("sshd_config lacks %q:\n%s", want, cfg)
		}
	}
}
