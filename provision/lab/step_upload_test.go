package lab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
)

// remoteOptions are up's options on test:///default taken for a remote
// hypervisor: a built image of real files, and an upload that counts.
func remoteOptions(t *testing.T, conn *libvirt.Connect, opts Options, uploads *atomic.Int32) Options {
	t.Helper()
	host.RecordURI(conn, "qemu+ssh://root@hv1.test/system")
	t.Cleanup(func() { host.ForgetURI(conn) })
	dir := filepath.Join(t.TempDir(), "tedu")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{image.DiskFile: "QFI\xfb disk", image.KernelFile: "kernel", image.InitrdFile: "initrd"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts.Images = ImageResolverFunc(func(_, name string) (image.Image, error) {
		return image.Image{Kind: image.Built, Name: name, Dir: dir, Disk: filepath.Join(dir, image.DiskFile), Format: "qcow2",
			Kernel: filepath.Join(dir, image.KernelFile), Initrd: filepath.Join(dir, image.InitrdFile), Cmdline: image.Cmdline,
			Manifest: &image.Manifest{VirtualBytes: 2 << 30}}, nil
	})
	opts.Volumes.(*fakeVolumes).file = func(_ *libvirt.Connect, _ *libvirt.StorageVol, path string, size int64) error {
		uploads.Add(1)
		if st, err := os.Stat(path); err != nil || st.Size() != size {
			t.Errorf("upload of %s with size %d: %v", path, size, err)
		}
		return nil
	}
	return opts
}

func poolVolumes(t *testing.T, conn *libvirt.Connect) []string {
	t.Helper()
	pool, err := conn.LookupStoragePoolByName(paths.DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Free()
	names, err := pool.ListStorageVolumes()
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestUpOnARemoteHostUploadsTheImageOnce(t *testing.T) {
	conn, opts := fresh(t)
	var uploads atomic.Int32
	opts = remoteOptions(t, conn, opts, &uploads)
	var out strings.Builder
	opts.Progress = progress.Plain(&out)
	if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err != nil {
		t.Fatal(err)
	}
	if n := uploads.Load(); n != 3 {
		t.Fatalf("%d files uploaded, want the disk, kernel and initrd", n)
	}
	img, _ := opts.Images.Resolve("", "debian-12")
	version, err := img.Version()
	if err != nil || len(version) != 12 {
		t.Fatalf("version %q: %v", version, err)
	}
	base := image.VolumeBase("debian-12", version)
	vols := strings.Join(poolVolumes(t, conn), " ")
	for _, want := range []string{base + ".qcow2", base + ".vmlinuz", base + ".initrd", base + host.ReadyMark} {
		if !strings.Contains(vols, want) {
			t.Errorf("pool lacks %s: %s", want, vols)
		}
	}
	// The overlays are backed by the remote volume, the VMs boot its kernel.
	vol, err := conn.LookupStorageVolByPath(filepath.Join("/var/lib/libvirt/images/lvslab", paths.OverlayVolume("tedu", "web1")))
	if err != nil {
		t.Fatalf("overlay in the remote pool folder: %v", err)
	}
	defer vol.Free()
	vx, _ := vol.GetXMLDesc(0)
	var v libvirtxml.StorageVolume
	if err := v.Unmarshal(vx); err != nil || v.BackingStore == nil || v.BackingStore.Path != filepath.Join("/var/lib/libvirt/images/lvslab", base+".qcow2") {
		t.Errorf("overlay backing: %+v (%v)", v.BackingStore, err)
	}
	d, err := conn.LookupDomainByName("tedu-web1")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Free()
	dx, _ := d.GetXMLDesc(0)
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(dx); err != nil {
		t.Fatal(err)
	}
	if dom.OS.Kernel != filepath.Join("/var/lib/libvirt/images/lvslab", base+".vmlinuz") || dom.OS.Initrd != filepath.Join("/var/lib/libvirt/images/lvslab", base+".initrd") {
		t.Errorf("kernel %s, initrd %s", dom.OS.Kernel, dom.OS.Initrd)
	}
	if log := dom.Devices.Serials[0].Log.File; log != filepath.Join("/var/log/libvirt/qemu", "tedu-web1.console.log") {
		t.Errorf("console log %s, want it in libvirt's own log folder of the host", log)
	}
	if !strings.Contains(out.String(), "uploading image debian-12") || !strings.Contains(out.String(), "on root@hv1.test") {
		t.Errorf("up did not say where it uploaded:\n%s", out.String())
	}

	// A copy on the same host uploads nothing.
	out.Reset()
	copyB := mustLab(t, "tedu-nat")
	copyB.Name = "b"
	res, err := Up(context.Background(), conn, copyB, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := uploads.Load(); n != 3 || !strings.Contains(out.String(), "nothing to upload") || !strings.Contains(strings.Join(res.Reused, " "), base) {
		t.Errorf("second up: %d uploads in all, reused %v:\n%s", n, res.Reused, out.String())
	}

	// down removes the lab's volumes, keeps the image's and says so.
	out.Reset()
	for _, lab := range []string{"tedu", "b"} {
		if _, err := Down(context.Background(), conn, Selector{Lab: lab}, DownOptions{Paths: opts.Paths, Progress: progress.Plain(&out)}); err != nil {
			t.Fatal(err)
		}
	}
	left := poolVolumes(t, conn)
	if len(left) != 4 || !strings.Contains(out.String(), "kept the image volumes") {
		t.Errorf("after down: %v\n%s", left, out.String())
	}
	for _, v := range left {
		if !strings.HasPrefix(v, base) {
			t.Errorf("down left %s", v)
		}
	}
}

func TestImageStagingRedoesABrokenUpload(t *testing.T) {
	conn, opts := fresh(t)
	var uploads atomic.Int32
	opts = remoteOptions(t, conn, opts, &uploads)
	if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err != nil {
		t.Fatal(err)
	}
	img, _ := opts.Images.Resolve("", "debian-12")
	version, _ := img.Version()
	// An upload cut off before its end leaves no ready mark.
	if err := host.DeleteVolume(conn, paths.DefaultPool, image.VolumeBase("debian-12", version)+host.ReadyMark); err != nil {
		t.Fatal(err)
	}
	copyB := mustLab(t, "tedu-nat")
	copyB.Name = "b"
	if _, err := Up(context.Background(), conn, copyB, opts); err != nil {
		t.Fatal(err)
	}
	if n := uploads.Load(); n != 6 {
		t.Errorf("%d uploads, want the 3 files again", n)
	}
	// A changed image is another version: uploaded next to the old one.
	if err := os.WriteFile(img.Kernel, []byte("kernel 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v2, _ := img.Version(); v2 == version {
		t.Error("a changed kernel kept the version")
	}
}

func TestLocalUpUploadsNoImage(t *testing.T) {
	conn, opts := fresh(t)
	var uploads atomic.Int32
	opts.Volumes.(*fakeVolumes).file = func(*libvirt.Connect, *libvirt.StorageVol, string, int64) error { uploads.Add(1); return nil }
	if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err != nil {
		t.Fatal(err)
	}
	for _, v := range poolVolumes(t, conn) {
		if strings.HasPrefix(v, "image-") {
			t.Errorf("a local up made image volume %s", v)
		}
	}
	if uploads.Load() != 0 {
		t.Error("a local up uploaded the image")
	}
}
