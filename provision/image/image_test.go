package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/progress"
)

const fakeKernel = "6.1.0-99-amd64"

// fakeRunner records commands and makes the files the real tools would.
type fakeRunner struct {
	cmds   []Command
	failOn string // command name that fails
	// rawQcow2: qemu-img convert copies the raw disk as it is, so that a
	// test reads its boot sector.
	rawQcow2 bool
}

func (f *fakeRunner) Run(ctx context.Context, c Command, out io.Writer) error {
	f.cmds = append(f.cmds, c)
	if c.Name == f.failOn {
		fmt.Fprintln(out, "E: simulated failure")
		return errors.New(c.Name + ": exit status 1")
	}
	switch c.Name {
	case "cp":
		return ExecRunner{}.Run(ctx, c, out)
	case "unshare": // debootstrap
		i := slices.Index(c.Args, "debootstrap")
		return fakeRootfs(c.Args[i+4])
	case "mkfs.ext4":
		return os.WriteFile(c.Args[len(c.Args)-2], []byte("ext4"), 0o644)
	case "qemu-img":
		if f.rawQcow2 {
			return ExecRunner{}.Run(ctx, Command{Name: "cp", Args: c.Args[len(c.Args)-2:]}, out)
		}
		return os.WriteFile(c.Args[len(c.Args)-1], []byte("QFI\xfbfake-qcow2"), 0o644)
	case "chroot": // grub-mkimage -o FILE
		if i := slices.Index(c.Args, "-o"); len(c.Args) > 1 && c.Args[1] == "grub-mkimage" && i > 0 {
			core := filepath.Join(c.Args[0], c.Args[i+1])
			os.MkdirAll(filepath.Dir(core), 0o755)
			return os.WriteFile(core, bytes.Repeat([]byte("core"), 300), 0o644)
		}
	}
	return nil
}

func (f *fakeRunner) names() []string {
	var out []string
	for _, c := range f.cmds {
		out = append(out, c.Name)
	}
	return out
}

func fakeRootfs(root string) error {
	files := map[string]string{
		"boot/vmlinuz-" + fakeKernel:      "kernel",
		"boot/initrd.img-" + fakeKernel:   "initrd",
		"etc/ssh/ssh_host_rsa_key":        "secret",
		"usr/share/doc/curl/copyright":    "c",
		"usr/share/doc/curl/README":       "r",
		"usr/share/locale/de/x.mo":        "x",
		"usr/share/locale/locale.alias":   "a",
		"usr/share/man/man1/curl.1.gz":    "m",
		"usr/bin/busybox":                 "\x7fELF busybox",
		"usr/lib/grub/i386-pc/boot.img":   string(bytes.Repeat([]byte("GRUB"), 128)),
		"usr/lib/grub/i386-pc/normal.mod": "mod",
		"etc/os-release":                  "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
		"var/lib/dpkg/status": "Package: openssh-client\nVersion: 1:9.2p1-2+deb12u3\n\n" +
			"Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2p1-2+deb12u3\n",
		"lib/modules/" + fakeKernel + "/modules.dep": "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko\n" +
			"kernel/drivers/virtio/virtio.ko:\nkernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio.ko\n" +
			"kernel/fs/isofs/isofs.ko:\nkernel/crypto/crc32c_generic.ko:\nkernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\nkernel/fs/jbd2/jbd2.ko:\n" +
			"kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko kernel/lib/other.ko\n" +
			"kernel/net/netfilter/nf_conntrack.ko:\nkernel/lib/other.ko:\nkernel/sound/snd.ko:\n",
	}
	for _, m := range []string{"fs/isofs/isofs.ko", "drivers/virtio/virtio.ko", "drivers/virtio/virtio_pci.ko", "crypto/crc32c_generic.ko",
		"fs/ext4/ext4.ko", "fs/jbd2/jbd2.ko", "drivers/block/virtio_blk.ko", "net/netfilter/ipvs/ip_vs.ko", "net/netfilter/nf_conntrack.ko", "lib/other.ko", "sound/snd.ko"} {
		files["lib/modules/"+fakeKernel+"/kernel/"+m] = "ko"
	}
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func TestBuildMakesImageThenReusesIt(t *testing.T) {
	dir := t.TempDir()
	run := &fakeRunner{}
	var said bytes.Buffer
	img, err := Build(context.Background(), Options{Dir: dir, Mirror: "http://mirror.example/debian", Runner: run, Progress: progress.Plain(&said)})
	if err != nil {
		t.Fatal(err)
	}
	if img.Kind != Built || img.Name != DefaultName || !img.DirectBoot() {
		t.Errorf("image = %+v", img)
	}
	if img.Manifest.KernelVersion != fakeKernel || img.Manifest.Cmdline != Cmdline || img.Cmdline != Cmdline {
		t.Errorf("manifest = %+v", img.Manifest)
	}
	for _, f := range []string{DiskFile, KernelFile, InitrdFile, ManifestFile, LogFile} {
		if _, err := os.Stat(filepath.Join(dir, DefaultName, f)); err != nil {
			t.Error(err)
		}
	}
	deb := run.cmds[0]
	want := []string{"--mount", "--propagation", "private", "--", "debootstrap", "--variant=minbase"}
	if deb.Name != "unshare" || !slices.Equal(deb.Args[:6], want) || deb.Args[len(deb.Args)-1] != "http://mirror.example/debian" ||
		!strings.Contains(deb.Args[6], "linux-image-amd64") || !strings.Contains(deb.Args[6], ",qemu-guest-agent,") || deb.Args[7] != DefaultSuite {
		t.Errorf("debootstrap command = %v", deb)
	}
	if !strings.Contains(said.String(), "[7/7] convert to qcow2: done") {
		t.Errorf("progress:\n%s", said.String())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".build-") {
			t.Errorf("build folder %s left behind", e.Name())
		}
	}

	// A second build is a no-op; --force rebuilds from the debootstrap cache.
	again := &fakeRunner{}
	if _, err := Build(context.Background(), Options{Dir: dir, Mirror: "http://mirror.example/debian", Runner: again}); err != nil {
		t.Fatal(err)
	}
	if len(again.cmds) != 0 {
		t.Errorf("cached build ran %v", again.names())
	}
	// A stale image (edit makes its manifest stale) is rebuilt once, and
	// the build says why.
	rebuilt := func(what string, edit func(*Manifest), says string) {
		t.Helper()
		m, _ := readManifest(filepath.Join(dir, DefaultName))
		edit(&m)
		if err := writeManifest(filepath.Join(dir, DefaultName), m); err != nil {
			t.Fatal(err)
		}
		said.Reset()
		runner := &fakeRunner{}
		if _, err := Build(context.Background(), Options{Dir: dir, Mirror: "http://mirror.example/debian", Runner: runner, Progress: progress.Plain(&said)}); err != nil {
			t.Fatal(err)
		}
		if len(runner.cmds) == 0 || !strings.Contains(said.String(), says) {
			t.Errorf("%s was not rebuilt: ran %v, said %q", what, runner.names(), said.String())
		}
	}
	// An image built by an older recipe (without nginx).
	rebuilt("an image without nginx", func(m *Manifest) {
		m.Packages = slices.DeleteFunc(m.Packages, func(p string) bool { return p == "nginx" })
	}, "lacks nginx, which lvslab's recipe now installs: rebuilding it")
	// An image of an older recipe revision (the same packages).
	rebuilt("an image of an older recipe", func(m *Manifest) { m.Recipe = RecipeRevision - 1 }, "built by an older recipe")
	if m, _ := readManifest(filepath.Join(dir, DefaultName)); m.Recipe != RecipeRevision {
		t.Errorf("rebuilt image records recipe %d, want %d", m.Recipe, RecipeRevision)
	}
	forced := &fakeRunner{}
	if _, err := Build(context.Background(), Options{Dir: dir, Mirror: "http://mirror.example/debian", Runner: forced, Force: true}); err != nil {
		t.Fatal(err)
	}
	if got := forced.names(); got[0] != "cp" || slices.Contains(got, "unshare") {
		t.Errorf("forced build should copy the debootstrap cache, ran %v", got)
	}
}

func TestBuildConfiguresGuest(t *testing.T) {
	dir := t.TempDir()
	run := &fakeRunner{}
	if _, err := Build(context.Background(), Options{Dir: dir, Runner: run, RootPassword: "lab"}); err != nil {
		t.Fatal(err)
	}
	var chroots []string
	for _, c := range run.cmds {
		if c.Name == "chroot" {
			chroots = append(chroots, strings.Join(c.Args[1:], " ")+" <"+c.Stdin)
		}
	}
	all := strings.Join(chroots, "\n")
	for _, want := range []string{"systemctl enable systemd-networkd.service lvslab-seed.service ssh.service",
		"systemctl mask apt-daily.timer", "chpasswd <root:lab\n", "depmod -a " + fakeKernel} {
		if !strings.Contains(all, want) {
			t.Errorf("no chroot command %q in:\n%s", want, all)
		}
	}
}

func TestNoReexecWorks(t *testing.T) {
	root := t.TempDir()
	if noReexecWorks(root) {
		t.Error("no dpkg status, yet sshd -r is assumed to work")
	}
	status := filepath.Join(root, "var/lib/dpkg/status")
	os.MkdirAll(filepath.Dir(status), 0o755)
	for version, want := range map[string]bool{"1:9.2p1-2+deb12u3": true, "1:10.0p1-5": false} {
		data := "Package: openssh-client\nVersion: 1:9.2p1-2\n\nPackage: openssh-server\nStatus: install ok installed\nVersion: " + version + "\n\nPackage: zsh\nVersion: 5.9\n"
		if err := os.WriteFile(status, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := noReexecWorks(root); got != want {
			t.Errorf("openssh-server %s: noReexecWorks = %v, want %v", version, got, want)
		}
	}
}

func TestKeyOnlyImageRootHasNoPassword(t *testing.T) {
	run := &fakeRunner{}
	if _, err := Build(context.Background(), Options{Dir: t.TempDir(), Runner: run}); err != nil {
		t.Fatal(err)
	}
	for _, c := range run.cmds {
		if c.Name == "chroot" && strings.Join(c.Args[1:], " ") == "usermod --password * root" {
			return
		}
	}
	t.Errorf("root's password was not set to \"*\" (sshd without PAM refuses a locked root): ran %v", run.names())
}

func TestOpenSSHBefore(t *testing.T) {
	for v, want := range map[string]bool{
		"1:9.2p1-2+deb12u3": true, "1:9.7p1-7": true, "1:9.8p1-3": false, "1:10.0p1-5": false,
		"8.4p1-5": true, "1:9.10p1-1": false, "": false, "garbage": false,
	} {
		if got := opensshBefore(v, 9, 8); got != want {
			t.Errorf("opensshBefore(%q, 9, 8) = %v, want %v", v, got, want)
		}
	}
}

func TestFailedBuildLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	_, err := Build(context.Background(), Options{Dir: dir, Runner: &fakeRunner{failOn: "mkfs.ext4"}})
	if err == nil || !strings.Contains(err.Error(), "simulated failure") || !strings.Contains(err.Error(), "full log") {
		t.Fatalf("error = %v", err)
	}
	// The log is kept where the error says, outside the removed folder.
	kept := filepath.Join(os.TempDir(), "lvslab-image-"+DefaultName+"-failed.log")
	if b, err := os.ReadFile(kept); err != nil || !strings.Contains(string(b), "simulated failure") {
		t.Errorf("kept log %s: %v", kept, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != ".debootstrap" && !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("failed build left %s", e.Name())
		}
	}
	if _, err := Resolve(dir, DefaultName); !errors.Is(err, ErrNotBuilt) {
		t.Errorf("Resolve after a failed build: %v", err)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	if _, err := Build(context.Background(), Options{Dir: dir, Name: "lab", Runner: &fakeRunner{}}); err != nil {
		t.Fatal(err)
	}
	img, err := Resolve(dir, "lab")
	if err != nil || img.Kind != Built || img.Disk != filepath.Join(dir, "lab", DiskFile) || img.Kernel == "" {
		t.Errorf("Resolve(lab) = %+v, %v", img, err)
	}

	_, err = Resolve(dir, "missing")
	if !errors.Is(err, ErrNotBuilt) || !strings.Contains(err.Error(), "lvslab image build --name missing") {
		t.Errorf("missing image error = %v", err)
	}

	own := filepath.Join(t.TempDir(), "mine.qcow2")
	os.WriteFile(own, []byte("QFI\xfb...."), 0o644)
	img, err = Resolve(dir, own)
	if err != nil || img.Kind != UserDisk || img.Format != "qcow2" || img.DirectBoot() {
		t.Errorf("Resolve(path) = %+v, %v", img, err)
	}
	if _, err := Resolve(dir, "./nothere.qcow2"); err == nil || !strings.Contains(err.Error(), "nothere.qcow2") {
		t.Errorf("missing disk error = %v", err)
	}
	if _, err := Resolve(dir, "Bad Name"); err == nil {
		t.Error("bad name accepted")
	}
	// An image with a missing file is reported as incomplete.
	os.Remove(filepath.Join(dir, "lab", KernelFile))
	if _, err := Resolve(dir, "lab"); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("incomplete image error = %v", err)
	}
}

func TestListAndRemove(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"zeta", "alpha"} {
		if _, err := Build(context.Background(), Options{Dir: dir, Name: n, Runner: &fakeRunner{}}); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, ".alpha.build-123"), 0o755) // in progress: not listed
	list, err := List(dir)
	if err != nil || len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "zeta" {
		t.Fatalf("List = %v, %v", list, err)
	}
	if err := Remove(dir, "alpha"); err != nil {
		t.Fatal(err)
	}
	if list, _ := List(dir); len(list) != 1 {
		t.Errorf("after remove: %v", list)
	}
	if err := Remove(dir, "alpha"); !errors.Is(err, ErrNotBuilt) {
		t.Errorf("second remove: %v", err)
	}
	if list, err := List(filepath.Join(dir, "none")); err != nil || len(list) != 0 {
		t.Errorf("List(missing store) = %v, %v", list, err)
	}
}

func TestLockRefusesConcurrentBuild(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lock(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := Build(context.Background(), Options{Dir: dir, Name: "x", Runner: &fakeRunner{}}); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Errorf("concurrent build: %v", err)
	}
}

func TestPruneModulesKeepsDependencies(t *testing.T) {
	root := t.TempDir()
	if err := fakeRootfs(root); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(root, "lib/modules", fakeKernel)
	kept, removed, err := pruneModules(mod)
	if err != nil || kept != 10 || removed != 1 {
		t.Fatalf("kept %d removed %d err %v", kept, removed, err)
	}
	if _, err := os.Stat(filepath.Join(mod, "kernel/lib/other.ko")); err != nil {
		t.Error("dependency of ip_vs removed")
	}
	if _, err := os.Stat(filepath.Join(mod, "kernel/sound")); !os.IsNotExist(err) {
		t.Error("sound folder kept")
	}
}

func TestSlim(t *testing.T) {
	root := t.TempDir()
	fakeRootfs(root)
	if err := slim(root); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"usr/share/doc/curl/copyright": true, "usr/share/doc/curl/README": false,
		"usr/share/locale/locale.alias": true, "usr/share/locale/de": false,
		"usr/share/man/man1": false, "etc/ssh/ssh_host_rsa_key": false, "boot/vmlinuz-" + fakeKernel: false,
	} {
		_, err := os.Stat(filepath.Join(root, p))
		if (err == nil) != want {
			t.Errorf("%s exists=%v, want %v", p, err == nil, want)
		}
	}
}

func TestGuestFiles(t *testing.T) {
	files, err := guestFiles(Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.path] = f.data
	}
	sshd := got["/etc/ssh/sshd_config.d/lvslab.conf"]
	if got["/etc/machine-id"] != "" || !strings.Contains(sshd, "prohibit-password") || !strings.Contains(sshd, "\nUsePAM no\n") {
		t.Errorf("machine-id %q, sshd %q", got["/etc/machine-id"], sshd)
	}
	if _, ok := got["/etc/systemd/system/ssh.service.d/lvslab-no-reexec.conf"]; ok {
		t.Errorf("sshd told not to re-exec though its version is unknown")
	}
	withReexec, err := guestFiles(Options{RootPassword: "lab"}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range withReexec {
		if f.path == "/etc/ssh/sshd_config.d/lvslab.conf" && (!strings.Contains(f.data, "PasswordAuthentication yes\n") || !strings.Contains(f.data, "\nUsePAM no\n")) {
			t.Errorf("classroom sshd config %q", f.data)
		}
		if f.path == "/etc/systemd/system/ssh.service.d/lvslab-no-reexec.conf" && !strings.Contains(f.data, "\nExecStart=\nExecStart=/usr/sbin/sshd -D -r $SSHD_OPTS\n") {
			t.Errorf("no-reexec drop-in %q", f.data)
		}
	}
	if rule := got["/etc/udev/rules.d/60-lvslab-qemu-guest-agent.rules"]; !strings.Contains(rule, `ATTR{name}=="org.qemu.guest_agent.0"`) ||
		!strings.Contains(rule, `ENV{SYSTEMD_WANTS}="qemu-guest-agent.service"`) {
		t.Errorf("no udev rule starts the guest agent: %q", rule)
	}
	unit := got["/etc/systemd/system/lvslab-seed.service"]
	for _, want := range []string{"Before=", "ssh.service", "systemd-networkd.service", "ExecStart=/usr/local/sbin/lvslab-seed"} {
		if !strings.Contains(unit, want) {
			t.Errorf("seed unit lacks %q", want)
		}
	}
	script := got["/usr/local/sbin/lvslab-seed"]
	for _, want := range []string{"cidata", "/run/lvslab-seed", `sh "$MNT/lvslab-init.sh" "$MNT"`, "umount"} {
		if !strings.Contains(script, want) {
			t.Errorf("seed script lacks %q", want)
		}
	}
}

func TestNamesAndNoStore(t *testing.T) {
	if _, err := Resolve("", "debian-12"); !errors.Is(err, errNoStore) {
		t.Errorf("Resolve in no store: %v", err)
	}
	if _, err := Build(context.Background(), Options{}); !errors.Is(err, errNoStore) {
		t.Errorf("Build in no store: %v", err)
	}
	for name, ok := range map[string]bool{"debian-12": true, "a.b_c": true, "": false, "../x": false, "Big": false} {
		if (CheckName(name) == nil) != ok {
			t.Errorf("CheckName(%q) ok=%v", name, !ok)
		}
	}
	if !IsPath("./x.qcow2") || !IsPath("disk.img") || IsPath("debian-12") {
		t.Error("IsPath")
	}
	if unescapeMount(`/a\040b`) != "/a b" {
		t.Error("unescapeMount")
	}
}

func TestInitrd(t *testing.T) {
	root := t.TempDir()
	if err := fakeRootfs(root); err != nil {
		t.Fatal(err)
	}
	order, err := moduleOrder(filepath.Join(root, "lib/modules", fakeKernel, "modules.dep"), initrdModules)
	want := []string{"kernel/fs/isofs/isofs.ko", "kernel/crypto/crc32c_generic.ko", "kernel/drivers/virtio/virtio.ko", "kernel/drivers/virtio/virtio_pci.ko",
		"kernel/drivers/block/virtio_blk.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/fs/ext4/ext4.ko"}
	if err != nil || !slices.Equal(order, want) {
		t.Errorf("moduleOrder = %v, %v", order, err)
	}
	var buf bytes.Buffer
	if err := writeInitrd(&buf, root, fakeKernel); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(zr)
	if !bytes.HasPrefix(data, []byte("070701")) || len(data)%4 != 0 {
		t.Errorf("not a padded newc cpio: %q", data[:16])
	}
	for _, name := range []string{"init\x00", "bin/busybox\x00", "dev/console\x00", "lib/modules/ext4.ko\x00",
		"crc32c_generic.ko\nvirtio.ko\nvirtio_pci.ko", "TRAILER!!!\x00", "switch_root /root /sbin/init"} {
		if !bytes.Contains(data, []byte(name)) {
			t.Errorf("initrd lacks %q", name)
		}
	}
}

// The cloud flavor: the lab packages less the tiny initrd's busybox, plus
// GRUB and cloud-init; GRUB's core image made by the guest's grub-mkimage;
// an ext4 root at 1 MiB behind a DOS table with GRUB in the MBR; no kernel
// beside the disk, and a manifest that says what the disk is.
func TestBuildCloudFlavor(t *testing.T) {
	dir := t.TempDir()
	run := &fakeRunner{rawQcow2: true}
	var said bytes.Buffer
	img, err := Build(context.Background(), Options{Dir: dir, Flavor: FlavorCloud, Runner: run, Progress: progress.Plain(&said), DiskSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != "debian-12-cloud" || img.DirectBoot() || img.Boot() != BootBIOS || img.Seeding() != SeedCloudInit {
		t.Fatalf("image %+v (boot %s, seeding %s)", img, img.Boot(), img.Seeding())
	}
	m := img.Manifest
	if m.Flavor != FlavorCloud || m.Cmdline != "" || m.Detected.OSName != "Debian GNU/Linux 12 (bookworm)" || m.Detected.OSFamily != "debian" ||
		!m.Detected.CloudInit || m.Detected.Network != "systemd-networkd" || m.Detected.Kernel != "/boot/vmlinuz-"+fakeKernel {
		t.Errorf("manifest %+v, detected %+v", m, m.Detected)
	}
	for _, c := range run.cmds {
		if c.Name == "cp" && strings.HasSuffix(c.Args[1], "/usr/lib/grub/i386-pc") && !strings.HasSuffix(c.Args[2], "/rootfs/boot/grub/i386-pc") {
			t.Errorf("GRUB's modules copied to %s, want /boot/grub/i386-pc", c.Args[2])
		}
	}
	deb := strings.Join(run.cmds[0].Args, " ")
	if !strings.Contains(deb, "cloud-init") || !strings.Contains(deb, "grub-pc-bin") || strings.Contains(deb, "busybox-static") {
		t.Errorf("debootstrap %s", deb)
	}
	var all []string
	for _, c := range run.cmds {
		all = append(all, c.String())
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{"grub-mkimage -O i386-pc -d /usr/lib/grub/i386-pc -o /tmp/lvslab-grub-core.img -p (hd0,msdos1)/boot/grub biosdisk part_msdos ext2",
		"systemctl enable systemd-networkd.service ssh.service", "-E offset=1048576", "systemctl disable ipvsadm.service nginx.service"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no %q in:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "lvslab-seed") || strings.Contains(joined, "chpasswd") || strings.Contains(joined, "serial-getty") {
		t.Errorf("the cloud image got lvslab's agent, a password or a getty:\n%s", joined)
	}
	f, err := os.Open(img.Disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := ReadPartitionTable(f)
	if err != nil || tab.Kind != TableMBR || !tab.GRUB || len(tab.Partitions) != 1 || tab.Partitions[0].Start != 1<<20 || tab.Partitions[0].Size != 7<<20 {
		t.Errorf("boot sector: %+v, %v", tab, err)
	}
	if !strings.Contains(said.String(), "[7/7] convert to qcow2: done") {
		t.Errorf("progress:\n%s", said.String())
	}
	// The flavor's recipe has its own revision: lvslab's recipe moving on
	// (its guest agent rule) does not rebuild it.
	said.Reset()
	again := &fakeRunner{}
	if m.Recipe != FlavorRecipeRevision {
		t.Errorf("cloud image of recipe %d (flavors %d, lvslab %d)", m.Recipe, FlavorRecipeRevision, RecipeRevision)
	}
	if _, err := Build(context.Background(), Options{Dir: dir, Flavor: FlavorCloud, Runner: again, Progress: progress.Plain(&said)}); err != nil ||
		len(again.cmds) != 0 || !strings.Contains(said.String(), `image "debian-12-cloud" is already built`) {
		t.Errorf("built again (%v, %d commands):\n%s", err, len(again.cmds), said.String())
	}
	// Building it again as another flavor is refused.
	if _, err := Build(context.Background(), Options{Dir: dir, Name: "debian-12-cloud", Runner: &fakeRunner{}}); err == nil ||
		!strings.Contains(err.Error(), `image "debian-12-cloud" is a cloud image, not a lvslab one`) {
		t.Errorf("another flavor under the same name: %v", err)
	}
}

// The base flavor needs root's password; it gets a serial getty and host
// keys made at boot, and names its NICs eth0, ... on its kernel's command
// line.
func TestBuildBaseFlavor(t *testing.T) {
	dir := t.TempDir()
	if _, err := Build(context.Background(), Options{Dir: dir, Flavor: FlavorBase, Runner: &fakeRunner{}}); err == nil || !strings.Contains(err.Error(), "needs root's password") {
		t.Fatalf("a base image without a password: %v", err)
	}
	run := &fakeRunner{}
	img, err := Build(context.Background(), Options{Dir: dir, Flavor: FlavorBase, Runner: run, RootPassword: "Tedu.cn", DiskSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != "debian-12-base" || img.Seeding() != SeedConsole || !img.Manifest.RootPassword || img.Manifest.Detected.CloudInit {
		t.Errorf("image %+v, detected %+v", img, img.Manifest.Detected)
	}
	var chpasswd, getty bool
	for _, c := range run.cmds {
		chpasswd = chpasswd || (c.Name == "chroot" && c.Args[1] == "chpasswd" && c.Stdin == "root:Tedu.cn\n")
		getty = getty || (c.Name == "chroot" && slices.Contains(c.Args, "serial-getty@ttyS0.service"))
	}
	if !chpasswd || !getty {
		t.Errorf("chpasswd %v, getty %v: %v", chpasswd, getty, run.names())
	}
	cfg := grubConfig(FlavorBase, "0000-11", "6.1.0-9-amd64")
	for _, want := range []string{"serial --unit=0 --speed=115200", "set timeout=0",
		"linux /boot/vmlinuz-6.1.0-9-amd64 root=UUID=0000-11 ro console=tty0 console=ttyS0,115200 net.ifnames=0 biosdevname=0",
		"initrd /boot/initrd.img-6.1.0-9-amd64"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("grub.cfg lacks %q:\n%s", want, cfg)
		}
	}
	files := (&flavorBuild{builder: &builder{o: Options{Flavor: FlavorBase}}, uuid: "u1"}).files()
	dropIn := files[len(files)-1]
	if dropIn.path != "/etc/systemd/system/ssh.service.d/host-keys.conf" ||
		!strings.Contains(dropIn.data, "ExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n") || files[0].data != "UUID=u1 / ext4 errors=remount-ro 0 1\n" {
		t.Errorf("base files: %+v", files)
	}
	if strings.Contains(grubConfig(FlavorCloud, "u", "k"), "net.ifnames") {
		t.Error("the cloud image's kernel must keep predictable NIC names")
	}
	if err := checkFlavor("ubuntu"); err == nil || !strings.Contains(err.Error(), "use lvslab, cloud, base") {
		t.Errorf("unknown flavor: %v", err)
	}
}
