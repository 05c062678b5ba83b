package main

// The class server end to end (make e2e-serve, LVSLAB_E2E=1, root): a class
// of two bare copies on the sandbox's libvirtd, "class credentials", "class
// serve" with its web pages and SSH door, a real headless Chromium for
// alice and for the teacher, the real OpenSSH client through the door.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/class/browser"
	"github.com/lvslab/lvslab/provision/paths"
)

// TestServeE2E starts the sandbox around the class server's scenario.
func TestServeE2E(t *testing.T) { sandboxed(t, "TestServeE2EInner") }

// freePort is a loopback port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// classServer is "lvslab class serve" running in the background.
type classServer struct {
	cmd  *exec.Cmd
	done chan error
}

// startServe starts the class server and waits until both doors listen.
func (e *e2e) startServe(file, web, door string) *classServer {
	e.t.Helper()
	cmd := exec.Command(e.bin, "class", "serve", file, "--listen", web, "--ssh-listen", door, "--host", "localhost")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	s := &classServer{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		pages, ssh := false, false
		for sc.Scan() {
			fmt.Println("class serve |", sc.Text())
			pages = pages || strings.Contains(sc.Text(), "pages on")
			ssh = ssh || strings.Contains(sc.Text(), "SSH door on")
			if pages && ssh && ready != nil {
				close(ready)
				ready = nil
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-s.done:
		e.t.Fatalf("class serve ended before it listened: %v", err)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		e.t.Fatal("class serve did not listen within 60 s")
	}
	return s
}

// stop ends the server with SIGTERM, as systemd does, and wants exit 0.
func (s *classServer) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("class serve after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		t.Error("class serve did not stop within 30 s of SIGTERM")
	}
}

// hostnameOf is node's hostname in a copy, read over lvslab's own access.
func (e *e2e) hostnameOf(copyName, node string) string {
	e.t.Helper()
	out, _ := e.run("ssh", node, "--lab", copyName, "--", "hostname")
	return strings.TrimSpace(out)
}

// domainIDs are the running domains' ids of a copy: a VM made anew or
// restarted gets a new one.
func domainIDs(t *testing.T, copyName string) string {
	t.Helper()
	var ids []string
	for _, n := range []string{"client1", "lvs1", "web1", "web2"} {
		ids = append(ids, strings.TrimSpace(virsh(t, "domid", copyName+"-"+n)))
	}
	return strings.Join(ids, " ")
}

// doorSSH runs the real OpenSSH client with alice's ssh_config, her
// passphrase given by SSH_ASKPASS; it returns the output and exit code.
func doorSSH(t *testing.T, home, askpass string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("ssh", append([]string{"-F", filepath.Join(home, ".ssh", "lvslab.conf"), "-o", "ConnectTimeout=20"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ssh %v: %v", args, err)
	}
	fmt.Printf("$ ssh %s  (exit %d)\n%s\n", strings.Join(args, " "), code, out)
	return string(out), code
}

func TestServeE2EInner(t *testing.T) {
	bin := e2eBinary(t)
	if os.Getenv(e2eInnerEnv) != "1" {
		t.Skip("runs inside the sandbox only (TestServeE2E starts it)")
	}
	if why := browser.Missing(); why != "" {
		t.Fatalf("the class server's pages are tested in a browser: %s", why)
	}
	e := &e2e{t: t, bin: bin}
	defer func() {
		fmt.Println("\nSERVE E2E PHASES")
		for _, p := range e.phases {
			fmt.Println("  " + p)
		}
	}()
	file := filepath.Join(t.TempDir(), "class.yaml")
	os.WriteFile(file, []byte("name: srv\nlab: tedu-nat\nstudents: [alice, bob]\nhosts:\n  - uri: 'qemu:///system'\nbatch: 1\n"), 0o644)
	defer e.run("class", "down", file)
	// the class's logins, certificate, history and door key live in
	// lvslab's home, outside the sandbox: none left from an earlier run,
	// none left after this one
	forget := func() {
		old, _ := filepath.Glob(filepath.Join(paths.Local().ClassDir(), "srv.*"))
		for _, f := range old {
			os.Remove(f)
		}
	}
	forget()
	defer forget()

	e.phase("class up --bare (2 copies)", func() { e.must("class", "up", "--bare", "--timeout", "8m", file) })
	pass := map[string]string{}
	e.phase("class credentials", func() {
		var slips []struct{ Name, Passphrase string }
		if err := json.Unmarshal([]byte(e.must("class", "credentials", "--rotate-all", "-o", "json", file)), &slips); err != nil {
			t.Fatal(err)
		}
		for _, s := range slips {
			pass[s.Name] = s.Passphrase
		}
		if pass["teacher"] == "" || pass["alice"] == "" || pass["bob"] == "" {
			t.Fatalf("slips for %v", slips)
		}
	})
	web, doorAddr := freePort(t), freePort(t)
	srv := e.startServe(file, web, doorAddr)
	defer func() {
		if srv != nil {
			srv.stop(t)
		}
	}()
	base := "https://" + web
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	open := func(w, h int) *browser.Session {
		b, err := browser.Open(ctx, t.TempDir(), browser.Options{Width: w, Height: h, AcceptInsecureCerts: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		return b
	}
	login := func(b *browser.Session, name string) {
		must(t, b.Go(base+"/login"))
		must(t, b.Type("#name", name))
		must(t, b.Type("#passphrase", pass[name]+"\uE007"))
	}
	bobBefore := domainIDs(t, "srv-bob")

	teacher := open(1600, 900)
	alice := open(1400, 900)
	e.phase("teacher and alice log in", func() {
		login(teacher, "teacher")
		_, err := teacher.Wait(60*time.Second, `return document.querySelector('#grid tr[data-student="alice"]') && document.querySelector('#live.on') ? 1 : 0`)
		must(t, err)
		_, err = teacher.Exec(`window.notReloaded = "yes"; return 1`)
		must(t, err)
		login(alice, "alice")
		_, err = alice.Wait(60*time.Second, `return document.querySelector('#nodes .node[data-node="web1"] .open-term') ? 1 : 0`)
		must(t, err)
	})
	e.phase("alice's web1 terminal in the browser", func() {
		must(t, alice.Click(`#nodes .node[data-node="web1"] .open-term`))
		_, err := alice.Wait(60*time.Second, `return document.querySelector('.term[data-key="term:web1"][data-open="1"]') ? 1 : 0`)
		must(t, err)
		must(t, alice.Type(`.term[data-key="term:web1"] .xterm-helper-textarea`, "hostname web1; hostname\uE007"))
		raw, err := alice.Wait(60*time.Second, `
const rows = Array.from(document.querySelectorAll('.term[data-key="term:web1"] .xterm-rows > div')).map(d => d.textContent.trim());
return rows.includes("web1") ? rows.filter(r => r) : null`)
		if err != nil {
			t.Fatalf("web1's terminal: %v", err)
		}
		fmt.Printf("alice's web1 terminal shows %s\n", raw)
		if got := e.hostnameOf("srv-alice", "web1"); got != "web1" {
			t.Errorf("alice's web1 is called %q after her terminal named it web1", got)
		}
		if got := e.hostnameOf("srv-bob", "web1"); got == "web1" {
			t.Error("alice's terminal renamed bob's web1")
		}
	})
	cell := `const td = document.querySelector('#grid tr[data-student="alice"] td.progress'); return td && td.querySelector('.n') && td.querySelector('.n').textContent.trim() !== '' ? [td.querySelector('.n').textContent, getComputedStyle(td).backgroundColor] : null`
	e.phase("alice checks a bare copy: FAILs with fixes", func() {
		must(t, alice.Click("#check"))
		raw, err := alice.Wait(120*time.Second, `const f = document.querySelector('.fail-item'); return f ? f.innerText : null`)
		must(t, err)
		fmt.Printf("alice's first FAIL: %s\n", raw)
		raw, err = teacher.Wait(30*time.Second, cell)
		must(t, err)
		var got []string
		json.Unmarshal(raw, &got)
		if len(got) != 2 || !browser.Red(got[1]) {
			t.Errorf("alice's cell on the teacher's page after a failed check: %v, want red", got)
		}
	})
	e.phase("alice's copy configured, check passes", func() {
		e.must("class", "up", file, "--student", "alice")
		clicked := time.Now()
		must(t, alice.Click("#check"))
		raw, err := alice.Wait(180*time.Second, `const s = document.querySelector('#summary'); if (!s) return null; const m = s.textContent.match(/^(\d+) of (\d+)/); return m && m[1] === m[2] && !document.querySelector('.fail-item') ? s.textContent : null`)
		if err != nil {
			fails, _ := alice.Exec(`return Array.from(document.querySelectorAll('.fail-item')).map(f => f.innerText)`)
			t.Fatalf("alice's second check: %v\n%s", err, fails)
		}
		shown := time.Now()
		fmt.Printf("alice's second check: %s\n", raw)
		fmt.Printf("FIGURE check my work of a 4-node copy, click to result in the browser: %.1f s\n", shown.Sub(clicked).Seconds())
		raw, err = teacher.Wait(30*time.Second, `const td = document.querySelector('#grid tr[data-student="alice"] td.progress'); const c = td && getComputedStyle(td).backgroundColor; return c && `+greenJS+` ? c : null`)
		if err != nil {
			t.Errorf("alice's cell did not turn green on the teacher's page: %v", err)
		} else {
			fmt.Printf("FIGURE the teacher's grid green after alice's result: %.1f s (polled every 0.1 s)\n", time.Since(shown).Seconds())
		}
		if raw, _ := teacher.Exec(`return window.notReloaded`); string(raw) != `"yes"` {
			t.Error("the teacher's page was reloaded")
		}
	})
	e.phase("the SSH door with OpenSSH", func() {
		home := t.TempDir()
		os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
		conf := e.must("class", "ssh-config", file, "--student", "alice", "--door", doorAddr)
		if strings.Contains(conf, "IdentityFile") && strings.Contains(conf, "id_ed25519") {
			t.Errorf("alice's ssh_config names a key of lvslab's:\n%s", conf)
		}
		// OpenSSH expands ~ from the password database, not $HOME: the
		// test's own home is named whole
		conf = strings.ReplaceAll(conf, "~/.ssh/", filepath.Join(home, ".ssh")+"/")
		os.WriteFile(filepath.Join(home, ".ssh", "lvslab.conf"), []byte(conf), 0o600)
		var known string
		for _, l := range strings.Split(conf, "\n") {
			if strings.HasPrefix(l, "#   ") && strings.Contains(l, "ssh-ed25519") {
				known = strings.TrimPrefix(l, "#   ")
			}
		}
		if known == "" {
			t.Fatalf("no known_hosts line in alice's ssh_config:\n%s", conf)
		}
		os.WriteFile(filepath.Join(home, ".ssh", "lvslab_known_hosts"), []byte(known+"\n"), 0o600)
		askpass := filepath.Join(home, "askpass")
		os.WriteFile(askpass, []byte("#!/bin/sh\necho '"+pass["alice"]+"'\n"), 0o700)
		if out, code := doorSSH(t, home, askpass, "web1", "hostname"); code != 0 || strings.TrimSpace(out) != "web1" {
			t.Errorf("ssh -J through the door into alice's web1: exit %d, %q", code, out)
		}
		if _, code := doorSSH(t, home, askpass, "-J", "lvslab-door", "-o", "HostKeyAlias=lvslab-door", "root@srv-bob-web1", "hostname"); code == 0 {
			t.Error("alice jumped to bob's web1 through the door")
		}
		if out, code := doorSSH(t, home, askpass, "lvslab-door", "id"); code == 0 || strings.Contains(out, "uid=") {
			t.Errorf("a command ran on the door: exit %d, %q", code, out)
		}
	})
	e.phase("the teacher resets alice's copy", func() {
		must(t, teacher.Click(`#grid tr[data-student="alice"] select.reset option[value=""]`))
		must(t, teacher.AcceptAlert())
		deadline := time.Now().Add(10 * time.Minute)
		for time.Now().Before(deadline) {
			time.Sleep(15 * time.Second)
			if e.hostnameOf("srv-alice", "web1") == "lvslab" {
				break
			}
		}
		if got := e.hostnameOf("srv-alice", "web1"); got != "lvslab" {
			t.Fatalf("alice's web1 after the reset is called %q: want the bare image's lvslab", got)
		}
		if after := domainIDs(t, "srv-bob"); after != bobBefore {
			t.Errorf("bob's VMs changed during alice's reset: ids %s, then %s", bobBefore, after)
		}
	})
	e.phase("class serve stops on SIGTERM", func() {
		srv.stop(t)
		srv = nil
	})
	e.phase("class down", func() { e.must("class", "down", file) })
}

// greenJS tests a CSS colour c for green, as browser.Green does.
const greenJS = `(m => m && +m[2] > +m[1] && +m[2] > +m[3])(c.match(/(\d+), (\d+), (\d+)/))`

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
