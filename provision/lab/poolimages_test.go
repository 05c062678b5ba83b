package lab

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
)

// upRemote brings copies of tedu-nat named labs up on test:///default
// taken for the remote host hv1.test.
func upRemote(t *testing.T, labs ...string) (*libvirt.Connect, Options) {
	t.Helper()
	conn, opts := fresh(t)
	var uploads atomic.Int32
	opts = remoteOptions(t, conn, opts, &uploads)
	for _, name := range labs {
		lab := mustLab(t, "tedu-nat")
		lab.Name = name
		if _, err := Up(context.Background(), conn, lab, opts); err != nil {
			t.Fatal(err)
		}
	}
	return conn, opts
}

// A host's pool after up of one lab: the image's four volumes, used by
// the lab's VMs and overlays; rm refuses until down, then removes them.
func TestPoolImagesListAndRemove(t *testing.T) {
	if imgs, err := host.PoolImages(testConn(t), ""); err != nil || len(imgs) != 0 {
		t.Fatalf("before any up: %+v, %v", imgs, err)
	}
	conn, opts := upRemote(t, "tedu")
	img, _ := opts.Images.Resolve("", "debian-12")
	version, _ := img.Version()
	imgs, err := host.PoolImages(conn, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Name != "debian-12" || imgs[0].Version != version || !imgs[0].Complete || len(imgs[0].Volumes) != 4 {
		t.Fatalf("images: %+v", imgs)
	}
	used := strings.Join(imgs[0].UsedBy, ", ")
	for _, want := range []string{"domain tedu-web1", "domain tedu-client", "volume " + paths.OverlayVolume("tedu", "web1")} {
		if !strings.Contains(used, want) {
			t.Errorf("used by %q, want %s", used, want)
		}
	}

	_, err = host.RemovePoolImage(conn, "", "debian-12", "")
	if err == nil || !strings.Contains(err.Error(), `image "debian-12" (version `+version+`) is in use on root@hv1.test by `) ||
		!strings.Contains(err.Error(), `take their labs down first ("lvslab down --connect 'qemu+ssh://root@hv1.test/system'")`) {
		t.Fatalf("rm of an image in use: %v", err)
	}
	if _, err := host.RemovePoolImage(conn, "", "debian-11", ""); !errors.Is(err, image.ErrNotBuilt) ||
		!strings.Contains(err.Error(), `no image "debian-11" in pool lvslab on root@hv1.test (see "lvslab image ls --connect 'qemu+ssh://root@hv1.test/system'")`) {
		t.Errorf("rm of an image not there: %v", err)
	}
	if _, err := host.RemovePoolImage(conn, "", "debian-12", "000000000000"); err == nil || !strings.Contains(err.Error(), `no image "debian-12" version 000000000000`) {
		t.Errorf("rm of a version not there: %v", err)
	}

	if _, err := Down(context.Background(), conn, Selector{Lab: "tedu"}, DownOptions{Paths: opts.Paths}); err != nil {
		t.Fatal(err)
	}
	removed, err := host.RemovePoolImage(conn, "", "debian-12", version)
	if err != nil || len(removed) != 1 || len(removed[0].Volumes) != 4 {
		t.Fatalf("rm after down: %+v, %v", removed, err)
	}
	if left := poolVolumes(t, conn); len(left) != 0 {
		t.Errorf("pool keeps %v", left)
	}
}

// An upload cut short (no .ready mark) is listed as incomplete.
func TestPoolImagesIncompleteUpload(t *testing.T) {
	conn, opts := upRemote(t, "tedu")
	if _, err := Down(context.Background(), conn, Selector{Lab: "tedu"}, DownOptions{Paths: opts.Paths}); err != nil {
		t.Fatal(err)
	}
	imgs, _ := host.PoolImages(conn, "")
	if len(imgs) != 1 {
		t.Fatalf("images: %+v", imgs)
	}
	if err := host.DeleteVolume(conn, paths.DefaultPool, image.VolumeBase("debian-12", imgs[0].Version)+host.ReadyMark); err != nil {
		t.Fatal(err)
	}
	imgs, _ = host.PoolImages(conn, "")
	if len(imgs) != 1 || imgs[0].Complete || len(imgs[0].UsedBy) != 0 {
		t.Errorf("after the mark is gone: %+v", imgs)
	}
}

// down on a remote host removes the console logs libvirt can remove (a
// pool's folder holds them) and names, with their host, those it cannot.
func TestDownRemoteConsoleLogs(t *testing.T) {
	conn, opts := upRemote(t, "tedu", "b")
	var out strings.Builder
	if _, err := Down(context.Background(), conn, Selector{Lab: "tedu"}, DownOptions{Paths: opts.Paths, Progress: progress.Plain(&out)}); err != nil {
		t.Fatal(err)
	}
	want := "kept console logs on root@hv1.test (no storage pool holds them, and libvirt's API removes no other file; the next up of the node overwrites each): " +
		filepath.Join("/var/log/libvirt/qemu", "tedu-client1.console.log")
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), filepath.Join("/var/log/libvirt/qemu", "tedu-web2.console.log")) {
		t.Errorf("down does not name the logs it left:\n%s", out.String())
	}

	// A pool over libvirt's log folder: the logs are volumes, down deletes them.
	pool, err := conn.StoragePoolCreateXML(`<pool type="dir"><name>logs</name><target><path>`+"/var/log/libvirt/qemu"+`</path></target></pool>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Free()
	for _, node := range []string{"client1", "lvs1", "web1", "web2"} {
		if err := host.CreateVolume(pool, "b-"+node+".console.log", 4096); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if _, err := Down(context.Background(), conn, Selector{Lab: "b"}, DownOptions{Paths: opts.Paths, Progress: progress.Plain(&out)}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "removed file root@hv1.test:"+filepath.Join("/var/log/libvirt/qemu", "b-web1.console.log")) || strings.Contains(out.String(), "kept console logs") {
		t.Errorf("down with the logs in a pool:\n%s", out.String())
	}
	if names, _ := pool.ListStorageVolumes(); len(names) != 0 {
		t.Errorf("logs left in the pool: %v", names)
	}
	pool.Destroy()
}
