package engine

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"github.com/lvslab/lvslab/roles/catalog"
)

// fsGuest runs commands in a shell interpreter over a map of files
// (folders are implied by their files), with systemctl answering from a
// set of active units: enough for Describe.
type fsGuest struct {
	files  fstest.MapFS
	active map[string]bool
}

func (g fsGuest) Run(ctx context.Context, cmd string) (string, error) {
	file, err := syntax.NewParser().Parse(strings.NewReader(cmd), "")
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	exec := func(interp.ExecHandlerFunc) interp.ExecHandlerFunc {
		return func(_ context.Context, args []string) error {
			if args[0] == "systemctl" && len(args) == 4 && args[1] == "is-active" && g.active[args[3]] {
				return nil
			}
			return interp.ExitStatus(1)
		}
	}
	rel := func(p string) string { return strings.TrimPrefix(p, "/") }
	r, err := interp.New(interp.StdIO(nil, &out, io.Discard), interp.ExecHandlers(exec),
		interp.OpenHandler(func(_ context.Context, p string, _ int, _ os.FileMode) (io.ReadWriteCloser, error) {
			if p == "/dev/null" {
				return rwc{strings.NewReader(""), io.Discard}, nil
			}
			data, err := g.files.ReadFile(rel(p))
			return rwc{bytes.NewReader(data), io.Discard}, err
		}),
		interp.StatHandler(func(_ context.Context, p string, _ bool) (fs.FileInfo, error) { return g.files.Stat(rel(p)) }),
		interp.ReadDirHandler2(func(_ context.Context, p string) ([]fs.DirEntry, error) { return g.files.ReadDir(rel(p)) }))
	if err != nil {
		return "", err
	}
	err = r.Run(ctx, file)
	return out.String(), err
}

func (fsGuest) ReadFile(context.Context, string) ([]byte, bool, error)       { return nil, false, nil }
func (fsGuest) WriteFile(context.Context, string, []byte, fs.FileMode) error { return nil }

// Describe reads the OS and what manages the network of guests as their
// files and running units show them: an EL 9 cloud guest (NetworkManager
// running, cloud-init's ifcfg beside it), Ubuntu (netplan), Debian's cloud
// image (networkd), a classroom Debian with ifupdown, a bare minimum.
func TestDescribe(t *testing.T) {
	el9 := "NAME=\"Rocky Linux\"\nVERSION=\"9.4 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\nPRETTY_NAME=\"Rocky Linux 9.4 (Blue Onyx)\"\n"
	for _, c := range []struct {
		name   string
		files  map[string]string
		active []string
		want   Guest
	}{
		{"el9", map[string]string{"etc/os-release": el9, "run/NetworkManager/devices/2": "", "etc/sysconfig/network-scripts/ifcfg-mgmt0": "BOOTPROTO=none\n"},
			[]string{"NetworkManager"}, Guest{OS: "Rocky Linux 9.4 (Blue Onyx)", Family: catalog.RHEL, Network: catalog.OwnerNetworkManager}},
		{"el9 NetworkManager stopped", map[string]string{"etc/os-release": el9, "run/NetworkManager/devices/2": ""},
			nil, Guest{OS: "Rocky Linux 9.4 (Blue Onyx)", Family: catalog.RHEL, Network: catalog.OwnerNone}},
		{"ubuntu", map[string]string{"usr/lib/os-release": "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nID=ubuntu\nID_LIKE=debian\n",
			"etc/netplan/50-cloud-init.yaml": "network: {version: 2}\n", "run/systemd/netif/links/2": ""},
			nil, Guest{OS: "Ubuntu 24.04.1 LTS", Family: catalog.Debian, Network: catalog.OwnerNetplan}},
		{"debian cloud", map[string]string{"etc/os-release": "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
			"etc/systemd/system/multi-user.target.wants/systemd-networkd.service": "[Unit]\n"},
			nil, Guest{OS: "Debian GNU/Linux 12 (bookworm)", Family: catalog.Debian, Network: catalog.OwnerNetworkd}},
		{"debian ifupdown", map[string]string{"etc/os-release": "ID=debian\nVERSION_ID=\"12\"\n", "sbin/ifup": "",
			"etc/network/interfaces":                 "auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n",
			"etc/network/interfaces.d/50-cloud-init": "auto mgmt0\niface mgmt0 inet static\n    address 10.250.0.12/24\n"},
			nil, Guest{OS: "debian 12", Family: catalog.Debian, Network: catalog.OwnerIfupdown}},
		{"nothing", map[string]string{"etc/os-release": "ID=alpine\n"}, nil, Guest{OS: "alpine", Network: catalog.OwnerNone}},
	} {
		g := fsGuest{files: fstest.MapFS{}, active: map[string]bool{}}
		for p, data := range c.files {
			g.files[p] = &fstest.MapFile{Data: []byte(data), Mode: 0o755}
		}
		for _, u := range c.active {
			g.active[u] = true
		}
		got, err := Describe(context.Background(), g)
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}
