package paths

import (
	"errors"
	"testing"
)

func TestLocalFolders(t *testing.T) {
	for _, c := range []struct {
		name string
		euid int
		env  map[string]string
		want Root
	}{
		{"root", 0, nil,
			Root{Home: "/var/lib/lvslab", Images: "/var/lib/lvslab/images", Pool: "/var/lib/libvirt/images/lvslab", Logs: "/var/log/lvslab"}},
		{"root, home and images moved", 0, map[string]string{EnvHome: "/srv/lv", EnvImageDir: "/srv/img"},
			Root{Home: "/srv/lv", Images: "/srv/img", Pool: "/var/lib/libvirt/images/lvslab", Logs: "/var/log/lvslab"}},
		{"user", 1000, nil,
			Root{Home: "/home/u/.local/share/lvslab", Images: "/home/u/.cache/lvslab/images", Pool: "/home/u/.local/share/lvslab/pool", Logs: "/home/u/.local/share/lvslab/log"}},
		{"user with XDG folders", 1000, map[string]string{"XDG_DATA_HOME": "/d", "XDG_CACHE_HOME": "/c"},
			Root{Home: "/d/lvslab", Images: "/c/lvslab/images", Pool: "/d/lvslab/pool", Logs: "/d/lvslab/log"}},
		{"user, home moved", 1000, map[string]string{EnvHome: "/tmp/h", EnvImageDir: "/tmp/i"},
			Root{Home: "/tmp/h", Images: "/tmp/i", Pool: "/tmp/h/pool", Logs: "/tmp/h/log"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{EnvHome, EnvImageDir, "XDG_DATA_HOME", "XDG_CACHE_HOME"} {
				t.Setenv(k, c.env[k])
			}
			t.Setenv("HOME", "/home/u")
			if got := local(c.euid); got != c.want {
				t.Errorf("local(%d) = %+v, want %+v", c.euid, got, c.want)
			}
		})
	}
}

func TestRootFiles(t *testing.T) {
	r := InHome("/h")
	cert, key := r.CertFiles("lvs")
	for _, c := range [][2]string{
		{r.LabsDir(), "/h/labs"},
		{r.LabDir("tedu"), "/h/labs/tedu"},
		{r.KeyFile("tedu"), "/h/labs/tedu/id_ed25519"},
		{r.KnownHostsFile("tedu"), "/h/labs/tedu/known_hosts"},
		{r.ClassDir(), "/h/classes"},
		{r.ClassRecord("lvs"), "/h/classes/lvs.json"},
		{r.DoorKey("lvs"), "/h/classes/lvs.door-key"},
		{r.CredentialsFile("lvs"), "/h/classes/lvs.credentials.json"},
		{r.HistoryFile("lvs"), "/h/classes/lvs.serve-history.json"},
		{cert, "/h/classes/lvs.serve-cert.pem"},
		{key, "/h/classes/lvs.serve-key.pem"},
		{r.Images, "/h/images"},
		{r.Pool, "/h/pool"},
		{r.ConsoleLog("tedu", "web1"), "/h/log/tedu-web1.log"},
		{r.Remote().Pool, "/var/lib/libvirt/images/lvslab"},
		{r.Remote().ConsoleLog("b", "w"), "/var/log/libvirt/qemu/b-w.console.log"},
		{r.Remote().Home, "/h"},
	} {
		if c[0] != c[1] {
			t.Errorf("got %s, want %s", c[0], c[1])
		}
	}
}

func TestRootCheck(t *testing.T) {
	if err := InHome("/h").Check(); err != nil {
		t.Errorf("a full root: %v", err)
	}
	for _, r := range []Root{{}, {Home: "/h"}, {Home: "/h", Images: "/i", Pool: "/p"}} {
		if err := r.Check(); !errors.Is(err, ErrNoRoot) {
			t.Errorf("%+v: Check = %v, want ErrNoRoot", r, err)
		}
	}
}
