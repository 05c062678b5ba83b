package main

import (
	"encoding/json"
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
