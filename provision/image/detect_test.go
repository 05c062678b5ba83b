package image

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/topology/testkit/cases"
	"github.com/lvslab/lvslab/topology/testkit/shtest"
)

// guestTree writes files (path -> content; "->target" makes a symbolic
// link) under a new folder.
func guestTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(data, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// extDisk makes a raw disk holding tree as ext4: at 1 MiB behind a DOS
// partition table when partitioned, else on the whole disk.
func extDisk(t *testing.T, tree string, partitioned bool) string {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "disk.raw")
	args := []string{"-q", "-F", "-d", tree}
	if partitioned {
		args = append(args, "-E", "offset=1048576")
	}
	if out, err := exec.Command("mkfs.ext4", append(args, raw, "16M")...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	if partitioned {
		f, err := os.OpenFile(raw, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		if err := writeMBR(f, 1<<20, st.Size(), 0x1234abcd); err != nil {
			t.Fatal(err)
		}
	}
	return raw
}

// A Debian cloud disk: DOS table, GRUB in the MBR, ext4 with os-release
// behind a relative link, cloud-init, networkd enabled through a link into
// /lib, which is itself a link (merged /usr).
func TestDetectDebianCloudDisk(t *testing.T) {
	shtest.Need(t, "mkfs.ext4", "debugfs")
	tree := guestTree(t, map[string]string{
		"usr/lib/os-release":            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
		"etc/os-release":                "->../usr/lib/os-release",
		"lib":                           "->usr/lib",
		"usr/bin/cloud-init":            "#!/usr/bin/python3\n",
		"boot/grub/grub.cfg":            "menuentry x {}\n",
		"boot/vmlinuz-6.1.0-9-amd64":    "k",
		"boot/initrd.img-6.1.0-9-amd64": "i",
		"usr/lib/systemd/system/systemd-networkd.service":                     "[Unit]\n",
		"etc/systemd/system/multi-user.target.wants/systemd-networkd.service": "->/lib/systemd/system/systemd-networkd.service",
	})
	raw := extDisk(t, tree, true)
	f, err := os.OpenFile(raw, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	boot := bytes.Repeat([]byte{0xeb}, SectorSize)
	copy(boot[0x180:], "GRUB \x00Geom\x00Hard Disk\x00Read\x00 Error")
	if err := embedGRUB(f, boot, bytes.Repeat([]byte{7}, 3*SectorSize-100), 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d, err := Detect(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	want := Detected{Table: TableMBR, Root: "vda1", RootFS: "ext4", Readable: true, OSID: "debian", OSFamily: "debian", OSVersion: "12",
		OSName: "Debian GNU/Linux 12 (bookworm)", CloudInit: true, Boot: BootBIOS, Bootloader: "grub", Network: "systemd-networkd",
		Kernel: "/boot/vmlinuz-6.1.0-9-amd64", Initrd: "/boot/initrd.img-6.1.0-9-amd64"}
	if !equalDetected(d, want) {
		t.Fatalf("detected\n%+v\nwant\n%+v", d, want)
	}
	if d.Seeding() != SeedCloudInit || d.OS() != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("seeding %q, OS %q", d.Seeding(), d.OS())
	}
}

func equalDetected(a, b Detected) bool {
	a.Notes, b.Notes = nil, nil
	return reflect.DeepEqual(a, b)
}

// A classroom base disk: one filesystem on the whole disk, no bootloader,
// a RHEL-like os-release, NetworkManager, no cloud-init: it is seeded over
// the console and booted directly from its own kernel, which import copies
// out beside it.
func TestImportBaseDiskWithoutBootloader(t *testing.T) {
	shtest.Need(t, "mkfs.ext4", "debugfs", "qemu-img")
	tree := guestTree(t, map[string]string{
		"etc/os-release":                                                    "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n",
		"boot/vmlinuz-5.14.0-427.el9.x86_64":                                "kernel 427",
		"boot/initramfs-5.14.0-427.el9.x86_64.img":                          "initrd 427",
		"boot/vmlinuz-5.14.0-70.el9.x86_64":                                 "kernel 70",
		"boot/initramfs-5.14.0-70.el9.x86_64.img":                           "initrd 70",
		"usr/lib/systemd/system/NetworkManager.service":                     "[Unit]\n",
		"etc/systemd/system/multi-user.target.wants/NetworkManager.service": "->/usr/lib/systemd/system/NetworkManager.service",
		"etc/cloud/cloud.cfg":                                               "# left behind, no cloud-init\n",
	})
	raw := extDisk(t, tree, false)
	disk := filepath.Join(t.TempDir(), "Rocky 9 Base.qcow2")
	if out, err := exec.Command("qemu-img", "convert", "-O", "qcow2", raw, disk).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v\n%s", err, out)
	}
	dir := t.TempDir()
	var said bytes.Buffer
	img, err := Import(context.Background(), ImportOptions{Path: disk, Dir: dir, Progress: progress.Plain(&said)})
	if err != nil {
		t.Fatal(err)
	}
	d := img.Manifest.Detected
	if img.Name != "rocky-9-base" || img.Kind != Imported || d == nil || d.OSFamily != "rhel" || d.OSVersion != "9.4" ||
		d.CloudInit || d.Network != "NetworkManager" || d.Boot != BootDirect || d.Root != "vda" || img.Seeding() != SeedConsole {
		t.Fatalf("imported %+v, detected %+v", img, d)
	}
	if kernel, _ := os.ReadFile(img.Kernel); string(kernel) != "kernel 427" || img.Cmdline != "root=/dev/vda rw console=ttyS0,115200" || !img.DirectBoot() {
		t.Errorf("kernel %q (%s), cmdline %q", kernel, img.Kernel, img.Cmdline)
	}
	if initrd, _ := os.ReadFile(img.Initrd); string(initrd) != "initrd 427" {
		t.Errorf("initrd %q", initrd)
	}
	if !strings.Contains(said.String(), `image "rocky-9-base" imported in`) || !strings.Contains(said.String(), "seeded by console, network NetworkManager") ||
		!strings.Contains(said.String(), "[3/3] write disk.qcow2: done") {
		t.Errorf("progress:\n%s", said.String())
	}
	list, err := List(dir)
	if err != nil || len(list) != 1 || list[0].Manifest.Source != disk {
		t.Fatalf("list %+v, %v", list, err)
	}
	if _, err := Import(context.Background(), ImportOptions{Path: disk, Dir: dir}); err == nil || !strings.Contains(err.Error(), `image "rocky-9-base" exists already`) {
		t.Errorf("a second import without --force: %v", err)
	}
	if _, err := Import(context.Background(), ImportOptions{Path: disk, Dir: dir, Force: true, Name: "rocky-9-base"}); err != nil {
		t.Errorf("--force: %v", err)
	}
	if _, err := Resolve(dir, "rocky-9-base"); err != nil {
		t.Errorf("resolve: %v", err)
	}
}

// A disk with neither bootloader nor kernel is refused, and nothing is left.
func TestImportRefusesUnbootableDisk(t *testing.T) {
	shtest.Need(t, "mkfs.ext4", "debugfs", "qemu-img")
	raw := extDisk(t, guestTree(t, map[string]string{"etc/os-release": "ID=debian\n"}), true)
	dir := t.TempDir()
	_, err := Import(context.Background(), ImportOptions{Path: raw, Dir: dir, Name: "nothing"})
	if err == nil || !strings.Contains(err.Error(), "no bootloader") {
		t.Fatalf("err %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != ".nothing.lock" {
		t.Errorf("left in the store: %v", entries)
	}
}

// gptDisk writes a protective MBR, a GPT header and entries: a BIOS boot
// partition, an EFI system partition and a root whose first bytes say XFS.
func gptDisk(t *testing.T) string {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "gpt.raw")
	disk := make([]byte, 4<<20)
	mbr := disk[:SectorSize]
	mbr[446+4] = 0xee
	binary.LittleEndian.PutUint32(mbr[446+8:], 1)
	binary.LittleEndian.PutUint32(mbr[446+12:], uint32(len(disk)/SectorSize-1))
	mbr[510], mbr[511] = 0x55, 0xaa
	h := disk[SectorSize : 2*SectorSize]
	copy(h, "EFI PART")
	binary.LittleEndian.PutUint64(h[72:], 2)
	binary.LittleEndian.PutUint32(h[80:], 128)
	binary.LittleEndian.PutUint32(h[84:], 128)
	entry := func(i int, typ [16]byte, first, last int64, name string) {
		e := disk[2*SectorSize+i*128:]
		copy(e, typ[:])
		e[16] = byte(i + 1) // unique GUID
		binary.LittleEndian.PutUint64(e[32:], uint64(first))
		binary.LittleEndian.PutUint64(e[40:], uint64(last))
		for k, c := range utf16.Encode([]rune(name)) {
			binary.LittleEndian.PutUint16(e[56+2*k:], c)
		}
	}
	entry(0, [16]byte{0x48, 0x61, 0x68, 0x21, 0x49, 0x64, 0x6f, 0x6e, 0x74, 0x4e, 0x65, 0x65, 0x64, 0x45, 0x46, 0x49}, 2048, 4095, "bios")
	entry(1, [16]byte{0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b}, 4096, 6143, "EFI System")
	entry(3, [16]byte{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4}, 6144, 8000, "root")
	copy(disk[6144*SectorSize:], "XFSB")
	if err := os.WriteFile(raw, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	return raw
}

// GPT entries are read with their types and names; an XFS root cannot be
// read, so cloud-init is assumed, and the EFI system partition without GRUB
// in the MBR means UEFI.
func TestDetectGPTWithUnreadableRoot(t *testing.T) {
	raw := gptDisk(t)
	f, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := ReadPartitionTable(f)
	f.Close()
	if err != nil || tab.Kind != TableGPT || len(tab.Partitions) != 3 {
		t.Fatalf("table %+v, %v", tab, err)
	}
	p := tab.Partitions
	if p[0].Type != gptBIOSBoot || p[0].Name != "bios" || p[0].Start != 2048*SectorSize || p[0].Size != 2048*SectorSize ||
		p[1].Type != gptESP || p[1].Name != "EFI System" || p[2].Index != 4 || p[2].Type != "0FC63DAF-8483-4772-8E79-3D69D8477DE4" {
		t.Errorf("partitions %+v", p)
	}
	d, err := Detect(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if d.Readable || d.RootFS != "xfs" || d.Root != "vda4" || d.Boot != BootUEFI || d.Seeding() != SeedCloudInit || d.OS() != "unknown" ||
		len(d.Notes) != 2 || !strings.Contains(d.Notes[0], "vda4 holds xfs, which lvslab does not read") {
		t.Errorf("detected %+v", d)
	}
}

// embedGRUB leaves the partition table and disk signature, points the MBR
// at core.img and core.img's blocklist at the rest of it; a core.img too
// big for the gap is refused.
func TestEmbedGRUB(t *testing.T) {
	raw := filepath.Join(t.TempDir(), "d.raw")
	f, err := os.Create(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(4 << 20); err != nil {
		t.Fatal(err)
	}
	if err := writeMBR(f, 1<<20, 4<<20, 0xcafe0001); err != nil {
		t.Fatal(err)
	}
	boot := bytes.Repeat([]byte{0xaa}, SectorSize)
	core := bytes.Repeat([]byte{0x55}, 5*SectorSize+1) // six sectors
	if err := embedGRUB(f, boot, core, 1<<20); err != nil {
		t.Fatal(err)
	}
	disk := make([]byte, 8*SectorSize)
	f.ReadAt(disk, 0)
	le64 := func(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
	switch {
	case disk[0] != 0xaa || disk[grubBPBStart] != 0 || disk[grubBPBEnd-1] != 0 || disk[grubBPBEnd] != 0xaa:
		t.Errorf("boot code and BPB: % x", disk[:0x60])
	case le64(disk[grubKernelSector:]) != 1 || disk[grubDriveCheck] != 0x90 || disk[grubDriveCheck+1] != 0x90 || disk[grubMBRCode-1] != 0xaa:
		t.Errorf("kernel sector, drive check: % x", disk[0x58:0x70])
	case binary.LittleEndian.Uint32(disk[440:]) != 0xcafe0001 || disk[446] != 0x80 || disk[446+4] != 0x83 || disk[510] != 0x55:
		t.Errorf("partition table: % x", disk[440:])
	case disk[SectorSize] != 0x55 || le64(disk[SectorSize+grubBlocklist:]) != 2 ||
		binary.LittleEndian.Uint16(disk[SectorSize+grubBlocklist+8:]) != 5 || disk[7*SectorSize-1] != 0:
		t.Errorf("core.img: blocklist % x, end % x", disk[SectorSize+grubBlocklist:2*SectorSize], disk[6*SectorSize:7*SectorSize])
	}
	tab, err := ReadPartitionTable(f)
	if err != nil || tab.Kind != TableMBR || !tab.BootCode || tab.GRUB || len(tab.Partitions) != 1 || !tab.Partitions[0].Bootable || tab.Partitions[0].Start != 1<<20 {
		t.Errorf("table %+v, %v", tab, err)
	}
	if err := embedGRUB(f, boot, make([]byte, 3000*SectorSize), 1<<20); err == nil || !strings.Contains(err.Error(), "does not fit before the first partition") {
		t.Errorf("a core.img larger than the gap: %v", err)
	}
}

func TestImportName(t *testing.T) {
	names := map[string]string{
		"/x/debian-12-genericcloud-amd64.qcow2":    "debian-12-genericcloud-amd64",
		"Rocky-9-GenericCloud.latest.x86_64.qcow2": "rocky-9-genericcloud.latest.x86_64",
		"AlmaLinux 9 (base).img":                   "almalinux-9-base",
		"___.raw":                                  "imported",
		strings.Repeat("a", 70) + "-b.qcow2":       strings.Repeat("a", 63),
	}
	cases.Strings(t, "ImportName", ImportName, names)
	for _, name := range names {
		if err := CheckName(name); err != nil {
			t.Errorf("ImportName gives %q, a name CheckName refuses: %v", name, err)
		}
	}
}
