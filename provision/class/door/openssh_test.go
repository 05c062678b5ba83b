package door

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const opensshClient = "/usr/bin/ssh"

// openssh is the real OpenSSH client in a sealed setting: its own HOME,
// config (-F, which ssh passes on to the ProxyJump hop), known_hosts with
// the door's key and alice's key file; never the user's ~/.ssh or agent.
type openssh struct {
	tc     *testClass
	dir    string
	config string
	port   string
}

func newOpenSSH(t *testing.T, tc *testClass) *openssh {
	t.Helper()
	if _, err := os.Stat(opensshClient); err != nil {
		t.Skipf("the OpenSSH client is not installed (%s): %v", opensshClient, err)
	}
	dir := t.TempDir()
	block, err := ssh.MarshalPrivateKey(tc.privs["alice"], "alice")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "alice_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(tc.addr)
	var kh strings.Builder
	for _, name := range []string{knownhosts.Normalize(tc.addr), "client", "lvs1", "web1", "web2", "web3"} {
		kh.WriteString(knownhosts.Line([]string{name}, tc.door.HostKey()) + "\n")
	}
	khFile := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(khFile, []byte(kh.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	o := &openssh{tc: tc, dir: dir, port: port, config: filepath.Join(dir, "ssh_config")}
	o.writeConfig(t, o.config, fmt.Sprintf("    IdentityFile %s\n    UserKnownHostsFile %s\n", key, khFile), "")
	return o
}

// writeConfig writes an ssh_config with the sealing options first (the
// first value of an option wins), then extra, then an Include.
func (o *openssh) writeConfig(t *testing.T, path, extra, include string) {
	t.Helper()
	conf := "Host *\n" +
		"    BatchMode yes\n" +
		"    IdentitiesOnly yes\n" +
		"    IdentityAgent none\n" +
		"    GlobalKnownHostsFile /dev/null\n" +
		"    StrictHostKeyChecking yes\n" +
		"    UpdateHostKeys no\n" +
		"    ControlMaster no\n" +
		"    ControlPath none\n" +
		"    ConnectTimeout 10\n" +
		"    LogLevel INFO\n" + extra // the default: it shows refusals' reasons
	if include != "" {
		conf += "Include " + include + "\n"
	}
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
}

// run runs ssh with args and stdin; it returns stdout, stderr and the exit
// code.
func (o *openssh) run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, opensshClient, args...)
	cmd.Env = []string{"HOME=" + o.dir, "PATH=" + os.Getenv("PATH"), "SHELL=/bin/sh", "LANG=C"}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		exit, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("ssh %v: %v", args, err)
		}
		code = exit.ExitCode()
	}
	if ctx.Err() != nil {
		t.Fatalf("ssh %v did not finish in 30 s: %s", args, stderr.String())
	}
	return stdout.String(), stderr.String(), code
}

func TestOpenSSHJumpReachesOwnNodeOnly(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	o := newOpenSSH(t, tc)
	jump := "alice@127.0.0.1:" + o.port

	out, errOut, code := o.run(t, "", "-F", o.config, "-J", jump, "root@web1", "hostname")
	if code != 0 || !strings.Contains(out, "web1\r\n") {
		t.Fatalf("ssh -J %s root@web1 hostname: exit %d, stdout %q, stderr %q", jump, code, out, errOut)
	}
	// a shell reading a script from stdin ends at its end
	out, errOut, code = o.run(t, "hostname\n", "-F", o.config, "-J", jump, "root@web2")
	if code != 0 || !strings.Contains(out, "web2\r\n") {
		t.Errorf("ssh -J %s root@web2 < script: exit %d, stdout %q, stderr %q", jump, code, out, errOut)
	}

	// bob's node, by its name, through alice's login
	out, errOut, code = o.run(t, "", "-F", o.config, "-J", jump, "root@web3", "hostname")
	if code == 0 || strings.Contains(out, "web3") || !strings.Contains(errOut, "is not a node of your lab") {
		t.Errorf("alice's jump to bob's web3: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// bob's login with alice's key
	out, errOut, code = o.run(t, "", "-F", o.config, "-J", "bob@127.0.0.1:"+o.port, "root@web1", "hostname")
	if code == 0 || strings.Contains(out, "web1") || !strings.Contains(errOut, "Permission denied") {
		t.Errorf("alice's key as bob: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, target := range []string{"root@127.0.0.1", "root@localhost", "-p2222 root@web1"} {
		args := append([]string{"-F", o.config, "-J", jump}, strings.Fields(target)...)
		out, errOut, code = o.run(t, "", append(args, "hostname")...)
		if code == 0 || !strings.Contains(errOut, "administratively prohibited") {
			t.Errorf("jump to %s: exit %d, stdout %q, stderr %q", target, code, out, errOut)
		}
	}
	if got := strings.Join(tc.shells.openedList(), " "); got != "alice/web1 alice/web2" {
		t.Errorf("shells opened: %q", got)
	}
}

func TestOpenSSHOnTheDoorNoCommandAMenu(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	o := newOpenSSH(t, tc)
	proof := filepath.Join(t.TempDir(), "ran")
	out, errOut, code := o.run(t, "", "-F", o.config, "-p", o.port, "alice@127.0.0.1", "touch", proof)
	if code == 0 || !strings.Contains(errOut, "it runs no commands") {
		t.Errorf("a command on the door: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(proof); err == nil {
		t.Fatal("a command sent to the door ran on the host")
	}
	out, errOut, code = o.run(t, "", "-F", o.config, "-p", o.port, "-s", "alice@127.0.0.1", "sftp")
	if code == 0 {
		t.Errorf("the sftp subsystem on the door: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// a shell gets the menu, without a terminal (lines)...
	out, errOut, code = o.run(t, "3\nhostname\nexit\n", "-F", o.config, "-p", o.port, "alice@127.0.0.1")
	for _, want := range []string{"the lab of alice", "1) client", "3) web1", "Connecting to web1", "\r\nweb1\r\n", "[web1: shell ended]"} {
		if !strings.Contains(out, want) {
			t.Errorf("the door's shell printed no %q: exit %d, stdout %q, stderr %q", want, code, out, errOut)
		}
	}
	// ... and on a terminal (-tt: keys sent as typed)
	out, errOut, code = o.run(t, "2\nhostname\nexit\nq\n", "-F", o.config, "-tt", "-p", o.port, "alice@127.0.0.1")
	for _, want := range []string{"the lab of alice\r\n", "Connecting to lvs1", "\r\nlvs1\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the door's menu on a terminal printed no %q: exit %d, stdout %q, stderr %q", want, code, out, errOut)
		}
	}
}

// The ssh_config that "class ssh-config --student alice" prints, used as is
// (its known_hosts line in its own file): ssh web1 reaches alice's web1.
func TestOpenSSHWithTheStudentsConfig(t *testing.T) {
	tc := startClass(t, testConfig(t), nil)
	o := newOpenSSH(t, tc)
	_, port, _ := net.SplitHostPort(tc.addr)
	var p int
	fmt.Sscan(port, &p)
	kh := filepath.Join(o.dir, "lvslab_known_hosts")
	cc := ClientConfig{
		Student: "alice", Host: "127.0.0.1", Port: p,
		Nodes:   tc.shells.nodes["alice"],
		HostKey: tc.door.HostKey(), KnownHostsFile: kh,
		IdentityFile: filepath.Join(o.dir, "alice_ed25519"),
	}
	conf, err := cc.SSHConfig()
	if err != nil {
		t.Fatal(err)
	}
	line, err := cc.KnownHosts()
	if err != nil {
		t.Fatal(err)
	}
	rendered := filepath.Join(o.dir, "lvslab.conf")
	for path, text := range map[string]string{rendered: conf, kh: line} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wrapper := filepath.Join(o.dir, "wrapper.conf")
	o.writeConfig(t, wrapper, "", rendered)
	out, errOut, code := o.run(t, "", "-F", wrapper, "web1", "hostname")
	if code != 0 || !strings.Contains(out, "web1\r\n") {
		t.Fatalf("ssh -F (student's config) web1 hostname: exit %d, stdout %q, stderr %q\nconfig:\n%s", code, out, errOut, conf)
	}
	// the same pinned line serves "ssh -J alice@host:port"
	out, errOut, code = o.run(t, "", "-F", wrapper, "-o", "UserKnownHostsFile="+kh, "-o", "IdentityFile="+cc.IdentityFile,
		"-p", port, "alice@127.0.0.1", "hostname")
	if !strings.Contains(errOut, "it runs no commands") {
		t.Errorf("the door's pinned key under its address: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_ = io.Discard
}
