package image

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
)

// e2e gates tests that need root, the network (debootstrap) and minutes.
func e2e(t *testing.T) {
	t.Helper()
	if os.Getenv("LVSLAB_E2E") != "1" {
		t.Skip("set LVSLAB_E2E=1 to run (needs root, debootstrap, qemu-utils and a Debian mirror)")
	}
}

// TestBuildE2E builds the image LVSLAB_BENCH_IMAGE (default "debian-12")
// for real into lvslab's image store (paths.Local) (so that other end-to-end tests reuse it).
// LVSLAB_E2E_FORCE=1 rebuilds it (refused while VMs use it).
func TestBuildE2E(t *testing.T) {
	e2e(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	img, err := Build(ctx, Options{
		Name:     benchImage(),
		Dir:      paths.Local().Images,
		Progress: progress.NewText(os.Stderr, progress.Interactive(os.Stderr)),
		Force:    os.Getenv("LVSLAB_E2E_FORCE") == "1",
		Mirror:   os.Getenv("LVSLAB_MIRROR"),
		Compress: os.Getenv("LVSLAB_E2E_COMPRESS") == "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	m := img.Manifest
	t.Logf("image %s: disk %.1f MB, kernel %.1f MB, initrd %.1f MB, built in %.0f s",
		img.Dir, float64(m.DiskBytes)/1e6, float64(m.KernelBytes)/1e6, float64(m.InitrdBytes)/1e6, m.BuildSeconds)
	if m.DiskBytes > 400e6 {
		t.Errorf("disk is %d bytes, want a small image", m.DiskBytes)
	}
}
