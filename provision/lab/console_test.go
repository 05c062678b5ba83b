package lab

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lvslab/lvslab/provision/access/accesstest"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/progress/progresstest"
	"github.com/lvslab/lvslab/topology"
)

const basePassword = "Tedu.cn-base-7"

// baseImage is an imported classroom disk: its own bootloader, no
// cloud-init, no agent.
func baseImage(_, name string) (image.Image, error) {
	return image.Image{Kind: image.Imported, Name: name, Disk: "/images/" + name + "/disk.qcow2", Format: "qcow2",
		Manifest: &image.Manifest{VirtualBytes: 2 << 30, Detected: &image.Detected{Readable: true, OSName: "Debian GNU/Linux 12 (bookworm)",
			Boot: image.BootBIOS, Bootloader: "grub", Network: "systemd-networkd"}}}, nil
}

// up of a lab on a base image: each new VM is set up over its serial
// console with the lab file's login (a fake getty and shell here), its
// script carrying its own mgmt0 address and keys, before the SSH wait; a
// second up sets up nothing again. The password is in no libvirt tag or
// definition, no file under lvslab's home or log folder, no seed, no line
// of progress and no --debug trace.
func TestUpBaseImageOverConsole(t *testing.T) {
	conn := testConn(t)
	g := &fakeGuests{}
	opts := testOptions(t, g)
	opts.Images = ImageResolverFunc(baseImage)
	lab := mustLab(t, "tedu-nat")
	if _, err := Up(context.Background(), conn, lab, opts); err == nil || !strings.Contains(err.Error(), "login.password: image debian-12 has neither cloud-init nor lvslab's agent") {
		t.Fatalf("a base image without login.password: %v", err)
	}
	lab.Login = topology.Login{User: "root", Password: basePassword}
	var mu sync.Mutex
	guests := map[string]*accesstest.Guest{}
	opts.Consoles = func(node string) (io.ReadWriteCloser, error) {
		mu.Lock()
		defer mu.Unlock()
		g := &accesstest.Guest{User: "root", Password: basePassword, WakeAfter: 1}
		guests[node] = g
		return g, nil
	}
	var out bytes.Buffer
	opts.Progress = progress.Plain(&out)
	trace := progresstest.Debug(t)
	if _, err := Up(context.Background(), conn, lab, opts); err != nil {
		t.Fatal(err)
	}
	if len(guests) != len(lab.Nodes) {
		t.Fatalf("consoles opened: %v", guests)
	}
	for node, g := range guests {
		s := g.Scripts()
		mac := host.MgmtMAC("tedu", node)
		if len(s) != 1 || !strings.Contains(string(s[0]), "MAC="+mac) || !strings.Contains(string(s[0]), "BEGIN OPENSSH PRIVATE KEY") || g.State() != "login" {
			t.Errorf("%s: state %s, scripts %q", node, g.State(), s)
		}
	}
	if !strings.Contains(out.String(), "seeded by console") || !strings.Contains(out.String(), "  web1     running the set-up on the serial console (mgmt0, keys, sshd)\n") {
		t.Errorf("progress:\n%s", out.String())
	}
	// Again: the VMs exist, nothing is typed into their consoles.
	guests = map[string]*accesstest.Guest{}
	if _, err := Up(context.Background(), conn, lab, opts); err != nil || len(guests) != 0 {
		t.Fatalf("second up: %v, consoles %v", err, guests)
	}
	st, err := Status(context.Background(), conn, "tedu", StatusOptions{Paths: opts.Paths, Connector: opts.Connector})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Seeded != image.SeedConsole {
			t.Errorf("status of %s: seeded by %q", n.Node, n.Seeded)
		}
	}
	noPassword(t, "the progress", out.String())
	noPassword(t, "the --debug trace", trace.String())
	doms, _ := conn.ListAllDomains(0)
	for _, d := range doms {
		x, _ := d.GetXMLDesc(0)
		name, _ := d.GetName()
		noPassword(t, "domain "+name, x)
		if tag, ok := host.ParseTag(x); ok && tag.Seed != image.SeedConsole {
			t.Errorf("domain %s's tag %+v", name, tag)
		}
		d.Free()
	}
	for name, iso := range g.seeds {
		files, _ := readISO(t, iso)
		for f, text := range files {
			noPassword(t, name+"/"+f, text)
		}
	}
	for _, dir := range []string{opts.Paths.Home, opts.Paths.Logs} {
		filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				b, _ := os.ReadFile(p)
				noPassword(t, p, string(b))
			}
			return nil
		})
	}
}

func noPassword(t *testing.T, where, text string) {
	t.Helper()
	if strings.Contains(text, basePassword) {
		t.Errorf("%s holds the password:\n%s", where, text)
	}
}
