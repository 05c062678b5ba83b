package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"libvirt.org/go/libvirt"
)

// "image ls/rm --connect" on test:///default, whose pool holds an uploaded
// image and one volume backed by it.
func TestImageLsRmConnect(t *testing.T) {
	conn, err := libvirt.NewConnect("test:///default")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	pool, err := conn.StoragePoolCreateXML(`<pool type="dir"><name>lvslab</name><target><path>/var/lib/libvirt/images/lvslab</path></target></pool>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { pool.Destroy(); pool.Free() }()
	base := "image-debian-12-0123456789ab"
	vol := func(name, extra string) {
		v, err := pool.StorageVolCreateXML(`<volume><name>`+name+`</name><capacity>1048576</capacity>`+extra+`</volume>`, 0)
		if err != nil {
			t.Fatal(err)
		}
		v.Free()
	}
	for _, s := range []string{".qcow2", ".vmlinuz", ".initrd", ".ready"} {
		vol(base+s, "")
	}
	vol("tedu_web1.qcow2", `<backingStore><path>/var/lib/libvirt/images/lvslab/`+base+`.qcow2</path><format type="qcow2"/></backingStore>`)

	code, out, stderr := lvslab(t, "image", "ls", "--connect", "test:///default")
	if code != 0 || !strings.Contains(out, "NAME       VERSION       VOLUMES") ||
		!regexp.MustCompile(`(?m)^debian-12  0123456789ab  4 +\d+ MB +complete +1 volume$`).MatchString(out) {
		t.Fatalf("image ls --connect (exit %d):\n%s%s", code, out, stderr)
	}
	code, _, stderr = lvslab(t, "image", "rm", "--connect", "test:///default", "debian-12")
	if code == 0 || !strings.Contains(stderr, `image "debian-12" (version 0123456789ab) is in use on test:///default by volume tedu_web1.qcow2: take their labs down first`) {
		t.Errorf("rm of an image in use (exit %d): %s", code, stderr)
	}
	if code, _, stderr := lvslab(t, "image", "rm", "--connect", "test:///default", "debian-11"); code == 0 ||
		!strings.Contains(stderr, `no image "debian-11" in pool lvslab on test:///default (see "lvslab image ls --connect 'test:///default'")`) {
		t.Errorf("rm of an image not there (exit %d): %s", code, stderr)
	}
	if code, _, stderr := lvslab(t, "image", "rm", "--version", "0123456789ab", "debian-12"); code == 0 || !strings.Contains(stderr, "add --connect URI") {
		t.Errorf("rm --version without --connect (exit %d): %s", code, stderr)
	}

	v, err := pool.LookupStorageVolByName("tedu_web1.qcow2")
	if err != nil {
		t.Fatal(err)
	}
	v.Delete(0)
	v.Free()
	code, out, stderr = lvslab(t, "image", "rm", "--connect", "test:///default", "--version", "0123456789ab", "debian-12")
	if code != 0 || strings.TrimSpace(out) != "removed image debian-12 version 0123456789ab (4 volumes) from pool lvslab at test:///default" {
		t.Errorf("rm (exit %d):\n%s%s", code, out, stderr)
	}
	code, out, _ = lvslab(t, "image", "ls", "--connect", "test:///default", "-o", "json")
	var images []any
	if code != 0 || json.Unmarshal([]byte(out), &images) != nil || len(images) != 0 {
		t.Errorf("image ls --connect -o json after rm (exit %d): %s", code, out)
	}
}

// "image ls" shows, per image, where it comes from, its OS, how it boots,
// how a new VM of it is seeded and what manages its network; -o json says
// the same as data. "image import" needs one path.
func TestImageLsKinds(t *testing.T) {
	dir := t.TempDir()
	write := func(name, manifest string, files ...string) {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		for _, f := range append(files, "disk.qcow2") {
			os.WriteFile(filepath.Join(dir, name, f), []byte("x"), 0o644)
		}
		os.WriteFile(filepath.Join(dir, name, "image.json"), []byte(manifest), 0o644)
	}
	write("debian-12", `{"name":"debian-12","suite":"bookworm","cmdline":"root=/dev/vda","disk_bytes":270000000}`, "vmlinuz", "initrd.img")
	write("debian-12-base", `{"name":"debian-12-base","suite":"bookworm","flavor":"base","detected":{"partition_table":"mbr","readable":true,
		"os_name":"Debian GNU/Linux 12 (bookworm)","cloud_init":false,"boot":"bios","bootloader":"grub","network":"systemd-networkd"}}`)
	write("rocky-9", `{"name":"rocky-9","source":"/srv/Rocky-9-GenericCloud.qcow2","detected":{"partition_table":"gpt","readable":false,
		"root_fs":"xfs","boot":"bios","bootloader":"grub"}}`)
	t.Setenv("LVSLAB_IMAGE_DIR", dir)
	code, out, stderr := lvslab(t, "image", "ls")
	for _, want := range []string{
		`(?m)^NAME +KIND +OS +BOOT +SEEDED BY +NETWORK +DISK +CREATED$`,
		`(?m)^debian-12 +lvslab +Debian bookworm +direct kernel boot +lvslab +systemd-networkd +270 MB`,
		`(?m)^debian-12-base +base +Debian GNU/Linux 12 \(bookworm\) +its own bootloader \(grub, BIOS\) +console +systemd-networkd `,
		`(?m)^rocky-9 +imported +unknown +its own bootloader \(grub, BIOS\) +cloud-init +- `,
	} {
		if code != 0 || !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("image ls (exit %d) does not match %s:\n%s%s", code, want, out, stderr)
		}
	}
	code, out, _ = lvslab(t, "image", "ls", "-o", "json")
	var entries []struct{ Name, Kind, Boot, Seeding, Source string }
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 3 ||
		entries[2].Kind != "imported" || entries[2].Seeding != "cloud-init" || entries[2].Source != "/srv/Rocky-9-GenericCloud.qcow2" ||
		entries[1].Boot != "bios" || entries[1].Seeding != "console" || entries[0].Boot != "direct" {
		t.Errorf("image ls -o json (exit %d): %s", code, out)
	}
	if code, _, stderr := lvslab(t, "image", "import"); code == 0 || !strings.Contains(stderr, "give the path of one qcow2 or raw disk to import") {
		t.Errorf("import without a path (exit %d): %s", code, stderr)
	}
	if code, _, stderr := lvslab(t, "image", "import", filepath.Join(dir, "nope.qcow2")); code == 0 || !strings.Contains(stderr, "nope.qcow2: no such file or directory") {
		t.Errorf("import of a missing file (exit %d): %s", code, stderr)
	}
}
