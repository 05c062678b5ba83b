package image

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kdomanski/iso9660"

	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/sandbox"
)

// Addresses of the benchmark's isolated network, which exists only inside
// the sandbox's network namespace.
const (
	benchNet    = "lvsbench"
	benchHostIP = "192.168.100.1"
	benchVMIP   = "192.168.100.10"
)

// TestBootToSSHE2E measures boot-to-SSH of one VM from the default image
// under QEMU TCG: the test re-runs itself inside a sandbox, defines an
// isolated network and a direct-kernel-boot domain with a qcow2 overlay and
// a cidata seed ISO, starts it and waits for the SSH banner. The image is
// built first when missing.
func TestBootToSSHE2E(t *testing.T) {
	e2e(t)
	if sandbox.Current() == "" {
		// Build (or reuse) the image outside: the sandbox hides nothing it
		// needs, but a build is not part of the figure.
		if _, err := Build(context.Background(), Options{Name: benchImage(), Progress: progress.NewText(os.Stderr, progress.Interactive(os.Stderr)), Mirror: os.Getenv("LVSLAB_MIRROR")}); err != nil {
			t.Fatal(err)
		}
		args := []string{os.Args[0], "-test.run=^TestBootToSSHE2E$", "-test.v", "-test.timeout=15m"}
		code, err := sandbox.Run(context.Background(), sandbox.Options{
			Self:   []string{os.Args[0], sandbox.InnerCommand},
			Stdout: os.Stdout, Stderr: os.Stderr,
		}, args)
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 {
			t.Fatalf("boot benchmark inside the sandbox failed (exit %d)", code)
		}
		return
	}
	bootInSandbox(t)
}

func bootInSandbox(t *testing.T) {
	img, err := Resolve("", benchImage())
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	sh(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", img.Disk, "-F", "qcow2", filepath.Join(work, "overlay.qcow2"))
	sh(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(work, "id"))
	pub, err := os.ReadFile(filepath.Join(work, "id.pub"))
	if err != nil {
		t.Fatal(err)
	}
	writeSeed(t, filepath.Join(work, "seed.iso"), benchInit(strings.TrimSpace(string(pub))))

	netXML := filepath.Join(work, "net.xml")
	os.WriteFile(netXML, []byte(fmt.Sprintf(`<network><name>%s</name><bridge name='lvsbench0'/>
<ip address='%s' netmask='255.255.255.0'/></network>`, benchNet, benchHostIP)), 0o644)
	virsh(t, "net-define", netXML)
	virsh(t, "net-start", benchNet)
	domXML := filepath.Join(work, "dom.xml")
	os.WriteFile(domXML, []byte(benchDomain(img, work)), 0o644)
	virsh(t, "define", domXML)

	start := time.Now()
	virsh(t, "start", "lvsbench")
	banner, err := waitSSHBanner(benchVMIP+":22", 3*time.Minute)
	boot := time.Since(start)
	if err != nil {
		console, _ := os.ReadFile(filepath.Join(work, "console.log"))
		t.Fatalf("no SSH banner after %s: %v\nconsole:\n%s", boot.Round(100*time.Millisecond), err, console)
	}
	login := time.Now()
	out := sshRun(t, work, "systemd-analyze; systemd-analyze critical-chain ssh.service; journalctl -o short-monotonic -u lvslab-seed | tail -4; dmesg | grep -E 'Run /init|Freeing unused kernel|EXT4-fs .vda.: mounted|systemd 252|virtio_net.*eth0' ; systemd-analyze blame | head -12; ipvsadm -Ln | head -2; hostname; df -h / | tail -1")
	t.Logf("SSH login + commands took %s:\n%s", time.Since(login).Round(100*time.Millisecond), out)
	fmt.Printf("BENCH boot-to-SSH %.1f s with %d vCPU, seed on %s, NIC ROM off=%v (banner %q), disk %.0f MB, kernel+initrd %.1f MB\n",
		boot.Seconds(), benchVCPUs(), benchSeedBus().bus, benchNICROM() != "", strings.TrimSpace(banner), float64(img.Manifest.DiskBytes)/1e6,
		float64(img.Manifest.KernelBytes+img.Manifest.InitrdBytes)/1e6)
	virsh(t, "destroy", "lvsbench")
}

// benchInit is the seed's lvslab-init.sh: a static address and root's key.
func benchInit(pubKey string) string {
	return `#!/bin/sh
set -e
install -d -m 700 /root/.ssh
echo '` + pubKey + `' > /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
echo bench > /etc/hostname
hostname bench
cat > /etc/systemd/network/10-eth0.network <<EOF
[Match]
Name=eth0
[Network]
Address=` + benchVMIP + `/24
EOF
`
}

func benchDomain(img Image, work string) string {
	seed := benchSeedBus()
	return fmt.Sprintf(`<domain type='qemu'>
  <name>lvsbench</name>
  <memory unit='MiB'>512</memory>
  <vcpu>%d</vcpu>
  <os>
    <type arch='x86_64' machine='%s'>hvm</type>
    <kernel>%s</kernel>
    <initrd>%s</initrd>
    <cmdline>%s</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%s/overlay.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='%s'>
      <driver name='qemu' type='raw'/>
      <source file='%s/seed.iso'/>
      <target dev='%s' bus='%s'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <source network='%s'/>
      <model type='virtio'/>%s
    </interface>
    <serial type='file'><source path='%s/console.log'/></serial>
    <console type='file'><source path='%s/console.log'/></console>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
`, benchVCPUs(), seed.machine, img.Kernel, img.Initrd, img.Cmdline, work,
		seed.device, work, seed.target, seed.bus, benchNet, benchNICROM(), work, work)
}

// seedBus is how the seed ISO is attached.
type seedBus struct{ machine, device, target, bus string }

// benchSeedBus is how lvslab attaches the seed: a read-only virtio disk
// (the image has no ATA or cdrom driver).
func benchSeedBus() seedBus { return seedBus{"pc", "disk", "vdb", "virtio"} }

func writeSeed(t *testing.T, path, initScript string) {
	w, err := iso9660.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cleanup()
	if err := w.AddFile(strings.NewReader(initScript), "lvslab-init.sh"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := w.WriteTo(f, "cidata"); err != nil {
		t.Fatal(err)
	}
}

// waitSSHBanner dials addr until it sends an SSH identification line.
func waitSSHBanner(addr string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			n, rerr := c.Read(buf)
			c.Close()
			if n > 0 && bytes.HasPrefix(buf[:n], []byte("SSH-")) {
				return string(buf[:n]), nil
			}
			last = rerr
		} else {
			last = err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "", last
}

func sshRun(t *testing.T, work, command string) string {
	t.Helper()
	out, err := exec.Command("ssh", "-i", filepath.Join(work, "id"), "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR",
		"root@"+benchVMIP, command).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	return string(out)
}

func virsh(t *testing.T, args ...string) {
	t.Helper()
	sh(t, "virsh", append([]string{"-q", "-c", "qemu:///system"}, args...)...)
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// benchVCPUs is LVSLAB_BENCH_VCPUS, default 1 (a lab runs several VMs on
// few host cores, so one VM rarely gets more).
func benchVCPUs() int {
	if n, err := strconv.Atoi(os.Getenv("LVSLAB_BENCH_VCPUS")); err == nil && n > 0 {
		return n
	}
	return 1
}

// benchImage is LVSLAB_BENCH_IMAGE, default DefaultName.
func benchImage() string {
	if n := os.Getenv("LVSLAB_BENCH_IMAGE"); n != "" {
		return n
	}
	return DefaultName
}

// benchNICROM is "<rom enabled='no'/>" when LVSLAB_BENCH_NOROM=1: SeaBIOS
// then skips the NIC's iPXE option ROM, useless with direct kernel boot.
func benchNICROM() string {
	if os.Getenv("LVSLAB_BENCH_NOROM") == "1" {
		return "\n      <rom enabled='no'/>"
	}
	return ""
}
