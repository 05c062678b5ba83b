package access

import (
	"context"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/access/accesstest"
	"github.com/lvslab/lvslab/provision/progress/progresstest"
)

const testPassword = "Tedu.cn-9x"

// quickConsole makes the console's waits short for a fake guest.
func quickConsole(t *testing.T) {
	wake, prompt := consoleWake, consolePrompt
	consoleWake, consolePrompt = 10*time.Millisecond, 2*time.Second
	t.Cleanup(func() { consoleWake, consolePrompt = wake, prompt })
}

func bootstrapOn(t *testing.T, g *accesstest.Guest, script string) ([]string, string, error) {
	t.Helper()
	trace := progresstest.Debug(t)
	a := &Access{consoles: func(string) (io.ReadWriteCloser, error) { return g, nil }}
	var said []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.Bootstrap(ctx, "web1", ConsoleLogin{User: "root", Password: testPassword}, []byte(script), func(s string) { said = append(said, s) })
	return said, trace.String(), err
}

// The console bootstrap logs in as the lab file says, proves the echo is
// off, sends the script and runs it, and logs out: the password was typed
// once, at the password prompt; neither it nor the script (which holds the
// host's private key) shows in what the guest printed (the console's log)
// or in the --debug trace.
func TestBootstrapOverConsole(t *testing.T) {
	quickConsole(t)
	script := "#!/bin/sh\nput /etc/ssh/ssh_host_ed25519_key 0600 '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n'\n"
	g := &accesstest.Guest{User: "root", Password: testPassword, WakeAfter: 3}
	said, trace, err := bootstrapOn(t, g, script)
	if err != nil {
		t.Fatal(err)
	}
	if s := g.Scripts(); len(s) != 1 || string(s[0]) != script {
		t.Errorf("scripts received %q", s)
	}
	if strings.Count(g.Typed(), testPassword) != 1 || !strings.Contains(g.Typed(), "root\r"+testPassword+"\r") {
		t.Errorf("typed:\n%q", g.Typed())
	}
	encoded := base64.StdEncoding.EncodeToString([]byte(script))[:40]
	for where, text := range map[string]string{"console log": g.Printed(), "trace": trace, "status": strings.Join(said, "\n")} {
		if strings.Contains(text, testPassword) || strings.Contains(text, "PRIVATE KEY") || strings.Contains(text, encoded) {
			t.Errorf("the %s holds the password or the script:\n%s", where, text)
		}
	}
	if g.State() != "login" || !strings.Contains(trace, "debug: console web1: log in as root (the lab file's password)") {
		t.Errorf("state %s, trace:\n%s", g.State(), trace)
	}
	if len(said) != 3 || said[0] != "waiting for the login prompt on the serial console" {
		t.Errorf("status %q", said)
	}
	// A console left logged in goes straight to the set-up.
	g2 := &accesstest.Guest{LoggedIn: true}
	if _, _, err := bootstrapOn(t, g2, script); err != nil || len(g2.Scripts()) != 1 || strings.Contains(g2.Typed(), testPassword) {
		t.Errorf("logged in already: %v, typed %q", err, g2.Typed())
	}
}

// A wrong password, a terminal that keeps echoing and a script that fails
// are errors that say so and show the console's last lines, never the
// password; with the echo on, the script is not sent.
func TestBootstrapFailures(t *testing.T) {
	quickConsole(t)
	g := &accesstest.Guest{User: "root", Password: "another one", WakeAfter: 1}
	_, trace, err := bootstrapOn(t, g, "true\n")
	if err == nil || !strings.Contains(err.Error(), "the guest refused the login root with the lab file's login.password") ||
		!strings.Contains(err.Error(), "Login incorrect") || strings.Contains(err.Error()+trace, testPassword) {
		t.Errorf("wrong password: %v\n%s", err, trace)
	}
	g = &accesstest.Guest{User: "root", Password: testPassword, KeepEcho: true}
	_, _, err = bootstrapOn(t, g, "secret-script\n")
	if err == nil || !strings.Contains(err.Error(), "the terminal still echoes") || len(g.Scripts()) != 0 || strings.Contains(g.Typed(), "LVSLAB_EOF") {
		t.Errorf("echo on: %v, typed %q", err, g.Typed())
	}
	g = &accesstest.Guest{User: "root", Password: testPassword, Run: func([]byte) (string, int) {
		return "Error: Connection activation failed: No suitable device found\n", 4
	}}
	_, _, err = bootstrapOn(t, g, "nmcli connection up mgmt0\n")
	if err == nil || !strings.Contains(err.Error(), "the set-up script failed (exit status 4)") || !strings.Contains(err.Error(), "Error: Connection activation failed") {
		t.Errorf("script failed: %v", err)
	}
	if got := Redact("pw is "+testPassword+".", testPassword); got != "pw is ********." {
		t.Errorf("redact: %q", got)
	}
}
