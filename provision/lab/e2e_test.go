package lab

// The end-to-end test of up/down with real QEMU guests. It runs only with
// LVSLAB_E2E=1, as root, and only inside a sandbox (a private network
// namespace with its own libvirtd, see provision/sandbox): the outer test
// re-runs this test binary as the sandbox's inner half, which starts the
// daemons and then runs TestE2EUpDownInner in there.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/sandbox"
	"github.com/lvslab/lvslab/topology"
)

// sandboxInnerEnv is set by sandbox.Run for its inner half.
const sandboxInnerEnv = "LVSLAB_SANDBOX_INNER"

func TestMain(m *testing.M) {
	if os.Getenv(sandboxInnerEnv) != "" {
		// This process is the sandbox's inner half: it gets "-- argv".
		var argv []string
		for i, a := range os.Args {
			if a == "--" {
				argv = os.Args[i:]
				break
			}
		}
		code, err := sandbox.RunInner(context.Background(), argv)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			if code == 0 {
				code = 125
			}
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func e2eEnabled(t *testing.T) {
	t.Helper()
	if os.Getenv("LVSLAB_E2E") != "1" {
		t.Skip("end-to-end test: set LVSLAB_E2E=1")
	}
	if os.Geteuid() != 0 {
		t.Skip("end-to-end test needs root")
	}
}

// TestE2EUpDown runs the inner test in a fresh sandbox.
func TestE2EUpDown(t *testing.T) {
	e2eEnabled(t)
	if sandbox.Current() != "" {
		t.Skip("already in a sandbox: TestE2EUpDownInner runs here")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	code, err := sandbox.Run(context.Background(), sandbox.Options{Self: []string{self}},
		[]string{self, "-test.run", "^TestE2EUpDownInner$", "-test.v", "-test.timeout", "30m"})
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("inner test failed (exit %d)", code)
	}
}

func TestE2EUpDownInner(t *testing.T) {
	e2eEnabled(t)
	if sandbox.Current() == "" {
		t.Skip("runs inside the sandbox only (TestE2EUpDown starts it)")
	}
	ctx := context.Background()
	conn, err := host.Connect("qemu:///system")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// A private copy of the image: a rebuild of the shared one must not pull
	// the disk from under the linked clones.
	work := t.TempDir()
	// The pool stays the system's (the sandbox's); the rest is the test's.
	root := paths.Local()
	root.Home, root.Images, root.Logs = filepath.Join(work, "home"), filepath.Join(work, "images"), filepath.Join(work, "log")
	copyImage(t, paths.Local().Images, root.Images, topology.DefaultImage)

	lab := mustLab(t, "tedu-nat")
	opts := Options{Paths: root, Progress: progress.Plain(testWriter{t}), VMsOnly: true}
	start := time.Now()
	res, err := Up(ctx, conn, lab, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE up of %d VMs (%s): %s total, SSH-ready of all after %s of waiting",
		len(res.Nodes), res.DomainType, time.Since(start).Round(100*time.Millisecond), res.SSHReady.Round(100*time.Millisecond))
	// Again from scratch, with only what the lab recorded: its tags, key and pins.
	acc, err := access.Open(conn, lab.Name, access.Options{Paths: root})
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	for _, ep := range res.Nodes {
		t.Logf("FIGURE   %s ready on %s after %s", ep.Node, ep.Addr, ep.Ready.Round(100*time.Millisecond))
		if want := access.SSHAddr(acc.Addresses(ep.Node)[0]); ep.Addr != want || !strings.HasPrefix(want, "10.250.") {
			t.Errorf("%s reached on %s, want its management address %s", ep.Node, ep.Addr, want)
		}
		c, err := acc.Dial(ctx, ep.Node)
		if err != nil {
			t.Errorf("%s: redial: %v", ep.Node, err)
			continue
		}
		out, err := c.Run(ctx, "hostname; cat /etc/machine-id; ip -4 -o addr show")
		if err != nil {
			t.Errorf("%s: %v", ep.Node, err)
		}
		if host, _, _ := strings.Cut(out, "\n"); host != ep.Node {
			t.Errorf("%s answers hostname %q", ep.Node, host)
		}
		if !strings.Contains(out, host.MgmtNIC+"    inet "+acc.Addresses(ep.Node)[0]+"/24") {
			t.Errorf("%s has no %s with its management address", ep.Node, host.MgmtNIC)
		}
		t.Logf("%s: %s", ep.Node, strings.ReplaceAll(out, "\n", " | "))
	}

	st, err := Status(ctx, conn, "tedu", StatusOptions{Paths: root})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.State != "running" || n.SSH == "" {
			t.Errorf("status %+v", n)
		}
	}

	// A second up reuses everything.
	start = time.Now()
	res2, err := Up(ctx, conn, lab, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Created) != 0 {
		t.Errorf("second up created %v", res2.Created)
	}
	t.Logf("FIGURE second up (reuse): %s", time.Since(start).Round(100*time.Millisecond))

	// Down, timed; then nothing of the lab may remain.
	var logs []string
	inv, _ := host.DiscoverLab(conn, "", "tedu")
	for _, d := range inv.Domains {
		logs = append(logs, d.Logs...)
	}
	var vols []string
	for _, v := range inv.Volumes {
		vols = append(vols, v.Path)
	}
	start = time.Now()
	rep, err := Down(ctx, conn, Selector{Lab: "tedu"}, DownOptions{Paths: root, Progress: progress.Plain(testWriter{t})})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("FIGURE down: %s, %d objects removed", took.Round(10*time.Millisecond), len(rep.Removed))
	if took > 5*time.Second {
		t.Errorf("down took %s, the target is under 5 s", took)
	}
	assertNothingLeft(t, conn, "tedu", append(append(vols, logs...), root.LabDir("tedu")))
}

// assertNothingLeft checks libvirt and the disk for anything of the lab.
func assertNothingLeft(t *testing.T, conn *libvirt.Connect, lab string, files []string) {
	t.Helper()
	for _, o := range everything(t, conn) {
		kind, name, _ := strings.Cut(o, " ")
		_, vol, _ := strings.Cut(name, "/")
		if (kind == "domain" || kind == "network") && strings.HasPrefix(name, lab+"-") ||
			kind == "volume" && strings.HasPrefix(vol, paths.VolumePrefix(lab)) {
			t.Errorf("%s remains", o)
		}
	}
	if len(files) < 4+8+1 {
		t.Errorf("only %d files were checked", len(files))
	}
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s remains", f)
		}
	}
}

func copyImage(t *testing.T, from, to, name string) {
	t.Helper()
	src, dst := filepath.Join(from, name), filepath.Join(to, name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{image.DiskFile, image.KernelFile, image.InitrdFile, image.ManifestFile} {
		in, err := os.Open(filepath.Join(src, f))
		if err != nil {
			t.Skipf("no built image %s (%v): run \"lvslab image build\" first", name, err)
		}
		out, err := os.Create(filepath.Join(dst, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
