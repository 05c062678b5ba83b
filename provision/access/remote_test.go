package access

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/sshx"
)

// remoteLab is tedu-nat up on test:///default, with the connection taken
// for one to a remote hypervisor at hv (host:port).
func remoteLab(t *testing.T, hv string) (*Access, labFixture) {
	t.Helper()
	conn, opts := upLab(t, mustLab(t, "tedu-nat"))
	hvHost, port, _ := net.SplitHostPort(hv)
	dir := t.TempDir()
	host.RecordURI(conn, "qemu+ssh://root@"+hvHost+":"+port+"/system?keyfile="+filepath.Join(dir, "hv key")+"&known_hosts="+filepath.Join(dir, "kh"))
	t.Cleanup(func() { host.ForgetURI(conn) })
	acc, err := Open(conn, "tedu", Options{Paths: opts.Paths, File: mustLab(t, "tedu-nat")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	return acc, opts
}

func TestAccessJumpsThroughTheRemoteHypervisor(t *testing.T) {
	// The "hypervisor" accepts TCP and says nothing: the dial must go there
	// (not to the node's management address) and fail as the jump's.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc, _ := remoteLab(t, ln.Addr().String())
	if acc.Remote() == nil || acc.jump == nil {
		t.Fatal("a qemu+ssh connection gave no jump")
	}
	again, err := Open(acc.conn, "tedu", Options{Paths: acc.paths})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.jump != acc.jump {
		t.Error("two Accesses on one hypervisor do not share its jump connection")
	}
	var dialled net.Conn
	acc.connector = ConnectFunc(func(ctx context.Context, cfg sshx.Config, _ sshx.Retry) (*sshx.Client, error) {
		if cfg.Addr != "10.250.0.12:22" || cfg.Dialer == nil {
			t.Errorf("node dialled at %s (dialer set: %v), want its mgmt address through the jump", cfg.Addr, cfg.Dialer != nil)
		}
		c, err := cfg.Dialer(ctx, "tcp", cfg.Addr)
		dialled = c
		return nil, err
	})
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close() // a host that is no SSH server
		}
	}()
	_, err = acc.Dial(context.Background(), "web1")
	var jerr *sshx.JumpError
	if !errors.As(err, &jerr) || jerr.Addr != ln.Addr().String() || dialled != nil {
		t.Fatalf("dial = %v, want the jump host's error", err)
	}
	if !strings.Contains(err.Error(), "hv key") {
		t.Errorf("the error does not name the URI's keyfile: %v", err)
	}
}

// sshG is what ssh(1) makes of host in config file: "ssh -G".
func sshG(t *testing.T, file, host string) map[string]string {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("ssh (openssh-client, make deps) is not installed")
	}
	out, err := exec.Command("ssh", "-F", file, "-G", host).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh -G %s: %v\n%s", host, err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			got[k] = v
		}
	}
	return got
}

func writeSSHConfig(t *testing.T, acc *Access, short bool) string {
	t.Helper()
	var b bytes.Buffer
	if err := acc.WriteSSHConfig(&b, SSHConfigOptions{Short: short}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestSSHConfigParsesInOpenSSH(t *testing.T) {
	conn, opts := upLab(t, mustLab(t, "tedu-nat"))
	acc, err := Open(conn, "tedu", Options{Paths: opts.Paths})
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	file := writeSSHConfig(t, acc, true)
	for _, host := range []string{"web1", "tedu-web1"} {
		got := sshG(t, file, host)
		want := map[string]string{"hostname": "10.250.0.12", "user": "root", "port": "22", "hostkeyalias": "tedu-web1",
			"identityfile": opts.Paths.KeyFile("tedu"), "userknownhostsfile": opts.Paths.KnownHostsFile("tedu"), "stricthostkeychecking": "true"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("ssh -G %s: %s = %q, want %q", host, k, got[k], v)
			}
		}
		if got["proxyjump"] != "" {
			t.Errorf("a local lab jumps through %s", got["proxyjump"])
		}
	}

	hv := "127.0.0.1:2222"
	racc, ropts := remoteLab(t, hv)
	rfile := writeSSHConfig(t, racc, false)
	node := sshG(t, rfile, "tedu-lvs1")
	if node["proxyjump"] != "lvslab-hv-root-127.0.0.1-2222" || node["hostname"] != "10.250.0.11" ||
		node["identityfile"] != ropts.Paths.KeyFile("tedu") {
		t.Errorf("remote node: %v", node)
	}
	jump := sshG(t, rfile, "lvslab-hv-root-127.0.0.1-2222")
	r := racc.Remote()
	if jump["hostname"] != "127.0.0.1" || jump["port"] != "2222" || jump["user"] != "root" ||
		jump["identityfile"] != r.KeyFile || jump["userknownhostsfile"] != r.KnownHosts {
		t.Errorf("jump host: %v", jump)
	}
	if short := sshG(t, rfile, "lvs1"); short["hostname"] == "10.250.0.11" {
		t.Error("without Short, the plain node name is an alias too")
	}
}
