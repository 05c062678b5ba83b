package image

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lvslab/lvslab/templates"
)

// guestFile is one file written into the root filesystem.
type guestFile struct {
	path string // absolute path in the guest
	mode fs.FileMode
	data string
}

// guestFiles returns the configuration lvslab adds to the guest;
// sshdReexec when its sshd may be told not to re-execute itself.
func guestFiles(o Options, sshdReexec bool) ([]guestFile, error) {
	// embedded reads a file of templates/image; the first error is kept.
	var err error
	embedded := func(name string) string {
		if err != nil {
			return ""
		}
		var b []byte
		b, err = fs.ReadFile(templates.Image, "image/"+name)
		return string(b)
	}
	sshd := "# lvslab: root logs in with the lab's key.\nPermitRootLogin prohibit-password\n"
	if o.RootPassword != "" {
		sshd = "# lvslab: classroom image, root may also log in with its password.\nPermitRootLogin yes\nPasswordAuthentication yes\n"
	}
	sshd += sshdFast
	files := []guestFile{
		{"/etc/systemd/system/lvslab-seed.service", 0o644, embedded("lvslab-seed.service")},
		{"/usr/local/sbin/lvslab-seed", 0o755, embedded("lvslab-seed")},
		{"/etc/systemd/system/ssh.service.d/lvslab-hostkeys.conf", 0o644, embedded("ssh-hostkeys.conf")},
		{"/etc/ssh/sshd_config.d/lvslab.conf", 0o644, sshd},
		{"/etc/systemd/system/apache2.service.d/lvslab-after-ssh.conf", 0o644, embedded("apache2-after-ssh.conf")},
		// The guest agent (lvslab's way in without the guest network)
		// starts when its port appears: Debian's package says so in a rule
		// of its own; this one keeps it so whatever the package's version.
		{"/etc/udev/rules.d/60-lvslab-qemu-guest-agent.rules", 0o644, agentRule},
		{"/etc/fstab", 0o644, "/dev/vda / ext4 rw,noatime,errors=remount-ro 0 0\n"},
		{"/etc/hostname", 0o644, "lvslab\n"},
		{"/etc/hosts", 0o644, "127.0.0.1\tlocalhost\n127.0.1.1\tlvslab\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
		// Each clone must get its own machine-id (DHCP client ids, journal):
		// an empty file makes systemd generate one at first boot.
		{"/etc/machine-id", 0o444, ""},
		// The build host's resolver means nothing in the lab; the seed writes one.
		{"/etc/resolv.conf", 0o644, ""},
		// A tiny initrd: only what mounts the virtio root disk.
		// The journal of a lab VM need not survive it; no flush at boot.
		{"/etc/systemd/journald.conf.d/lvslab.conf", 0o644, "[Journal]\nStorage=volatile\n"},
		{"/etc/initramfs-tools/modules", 0o644, "virtio_pci\nvirtio_blk\next4\n"},
		{"/etc/initramfs-tools/conf.d/lvslab.conf", 0o644, "MODULES=list\nCOMPRESS=gzip\nRESUME=none\n"},
		// Keep later "apt-get install" in the lab as small as the image.
		{"/etc/dpkg/dpkg.cfg.d/01-lvslab-nodoc", 0o644, "path-exclude=/usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\n" +
			"path-exclude=/usr/share/man/*\npath-exclude=/usr/share/info/*\npath-exclude=/usr/share/locale/*\n" +
			"path-include=/usr/share/locale/locale.alias\npath-exclude=/usr/share/lintian/*\n"},
	}
	if err != nil {
		return nil, err
	}
	if sshdReexec {
		files = append(files, guestFile{"/etc/systemd/system/ssh.service.d/lvslab-no-reexec.conf", 0o644, sshdNoReexec})
	}
	return files, nil
}

// AgentPort is the name of the QEMU guest agent's virtio-serial port, which
// the domain's channel gives (provision/host) and the guest's udev answers.
const AgentPort = "org.qemu.guest_agent.0"

// agentRule has systemd start qemu-guest-agent.service when the domain's
// agent port appears.
const agentRule = `SUBSYSTEM=="virtio-ports", ATTR{name}=="` + AgentPort + `", TAG+="systemd", ENV{SYSTEMD_WANTS}="qemu-guest-agent.service"
`

// sshdFast makes each SSH login cheap under TCG, where every exec and every
// PAM module costs tenths of a second (measured on a Debian 12 guest: a
// login with "true" took 1.15 s, 0.43 s with these and sshdNoReexec). PAM's
// session modules (motd scripts, limits, env, loginuid; logind is masked)
// do nothing a lab needs; sshd reads /etc/shadow itself without them, so
// root's password field must be "*" (no password), not "!" (locked), which
// sshd refuses even for keys when PAM is off (see builder.configure).
const sshdFast = "# Logins are slow under QEMU TCG: no PAM session, no DNS lookup.\nUsePAM no\nUseDNS no\n"

// sshdNoReexec stops sshd from executing itself again for every connection
// (its 28 libraries relinked each time): the forked listener serves it.
// Only for OpenSSH before 9.8, which split sshd into sshd-session.
const sshdNoReexec = "# lvslab: no re-exec of sshd per connection (slow under QEMU TCG).\n[Service]\nExecStart=\nExecStart=/usr/sbin/sshd -D -r $SSHD_OPTS\n"

// Units enabled and masked in the guest. Masked: timers, mounts and services
// that cost boot time under TCG (one vCPU) and do nothing useful in a lab VM;
// logind fails without D-Bus (not installed); gettys other than the serial
// console are useless without a display.
var (
	enableUnits = []string{"systemd-networkd.service", "lvslab-seed.service", "ssh.service", "apache2.service"}
	maskUnits   = []string{
		"apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer",
		"e2scrub_reap.service", "fstrim.timer", "man-db.timer", "logrotate.timer",
		"systemd-tmpfiles-clean.timer", "systemd-timesyncd.service", "systemd-networkd-wait-online.service",
		"systemd-pstore.service", "systemd-logind.service", "getty@.service", "remote-fs.target",
		"systemd-hwdb-update.service", "getty-static.service",
		"modprobe@dm_mod.service", "modprobe@fuse.service", "modprobe@drm.service", "modprobe@efi_pstore.service",
		"modprobe@configfs.service", "dev-hugepages.mount", "dev-mqueue.mount", "sys-kernel-debug.mount",
		"sys-kernel-tracing.mount", "sys-fs-fuse-connections.mount", "sys-kernel-config.mount",
		"proc-sys-fs-binfmt_misc.automount", "systemd-binfmt.service",
		// On the boot's critical path and useless here: the root is mounted
		// rw by the kernel command line, and every system user exists already.
		"systemd-remount-fs.service", "systemd-sysusers.service",
		"systemd-update-utmp.service", "systemd-update-utmp-runlevel.service", "modprobe@loop.service",
		"systemd-journal-flush.service", "systemd-random-seed.service", "kmod-static-nodes.service",
	}
	// Disabled rather than masked: a student may enable it on purpose (the
	// exercises' "systemctl enable ipvsadm"); lvslab uses its own unit.
	// nginx is there for the labs that choose it; apache2 holds port 80
	// otherwise. keepalived is there for the HA labs, which enable it: left
	// enabled, the first configure of every other lab spent about 9 s a
	// node disabling it under TCG.
	disableUnits = []string{"ipvsadm.service", "nginx.service", "keepalived.service"}
)

// writeGuestFiles writes files under rootfs.
func writeGuestFiles(rootfs string, files []guestFile) error {
	for _, f := range files {
		p := filepath.Join(rootfs, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		os.Remove(p) // may be a symlink (resolv.conf) or read-only
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			return fmt.Errorf("write guest file %s: %w", f.path, err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// Patterns (relative to the root filesystem) removed to make the image
// small; none is needed to run the lab.
var slimGlobs = []string{
	"usr/share/man/*", "usr/share/info/*", "usr/share/lintian/*", "usr/share/linda/*",
	"var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/cache/debconf/*-old",
	"var/lib/apt/lists/*_*", "var/cache/man/*", "var/log/*.log", "var/log/apt/*",
	"etc/ssh/ssh_host_*", // every clone must have its own host keys
	"var/lib/dbus/machine-id", "var/lib/systemd/random-seed",
	"usr/lib/udev/hwdb.bin", "etc/udev/hwdb.bin", // hardware names: useless in a VM, 13 MB
	"boot/*", // kernel and initrd live beside the disk (direct kernel boot)
}

// slim removes documentation, locales, caches and per-machine secrets.
func slim(rootfs string) error { return slimWith(rootfs, slimGlobs) }

// slimWith is slim with the globs given.
func slimWith(rootfs string, globs []string) error {
	for _, g := range globs {
		matches, err := filepath.Glob(filepath.Join(rootfs, g))
		if err != nil {
			return err
		}
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return err
			}
		}
	}
	// Documentation except copyright notices, locales except the alias file.
	if err := removeExcept(filepath.Join(rootfs, "usr/share/doc"), func(rel string) bool {
		return filepath.Base(rel) == "copyright"
	}); err != nil {
		return err
	}
	return removeExcept(filepath.Join(rootfs, "usr/share/locale"), func(rel string) bool {
		return rel == "locale.alias"
	})
}

// removeExcept deletes the files under dir for which keep is false, then the
// folders left empty.
func removeExcept(dir string, keep func(rel string) bool) error {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		if keep(rel) {
			return nil
		}
		return os.Remove(path)
	})
	if err != nil {
		return err
	}
	return removeEmptyDirs(dir)
}

// kernelVersion finds the one kernel installed in rootfs/boot.
func kernelVersion(rootfs string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(rootfs, "boot", "vmlinuz-*"))
	if len(matches) != 1 {
		return "", fmt.Errorf("expected one kernel in %s/boot, found %d: is linux-image-amd64 installed?", rootfs, len(matches))
	}
	return strings.TrimPrefix(filepath.Base(matches[0]), "vmlinuz-"), nil
}
