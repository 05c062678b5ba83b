// Package accesstest is a serial console that plays a guest booting to a
// getty, logging a user in and running what lvslab types into its shell,
// for hermetic tests of the console bootstrap.
package accesstest

import (
	"bytes"
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"sync"
)

// Guest is one VM's serial console, as lvslab's side sees it: Write types,
// Read returns what the guest prints.
type Guest struct {
	// User and Password are the image's login.
	User, Password string
	// WakeAfter is how many Enters the boot swallows before the login
	// prompt shows.
	WakeAfter int
	// LoggedIn: the console shows a shell already.
	LoggedIn bool
	// KeepEcho: "stty -echo" does nothing (a broken terminal).
	KeepEcho bool
	// Run runs the script lvslab sent: its output and exit status (nil:
	// "lvslab-console: done", 0).
	Run func(script []byte) (string, int)

	mu      sync.Mutex
	cond    *sync.Cond
	out     bytes.Buffer // printed, not read yet
	printed bytes.Buffer // everything printed: the console's log
	typed   bytes.Buffer // everything typed
	line    []byte
	state   string
	user    string
	echo    bool
	heredoc *strings.Builder
	scripts [][]byte
	closed  bool
}

const prompt = "root@debian:~# "

func (g *Guest) init() {
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
		g.state, g.echo = "boot", true
		if g.LoggedIn {
			g.state = "shell"
		}
	}
}

// print queues guest output.
func (g *Guest) print(s string) {
	g.out.WriteString(s)
	g.printed.WriteString(s)
	g.cond.Broadcast()
}

// Read returns what the guest printed, waiting for it.
func (g *Guest) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	for g.out.Len() == 0 && !g.closed {
		g.cond.Wait()
	}
	if g.out.Len() == 0 {
		return 0, io.EOF
	}
	return g.out.Read(p)
}

// Write types p, a line at each Enter (CR or LF).
func (g *Guest) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	if g.closed {
		return 0, io.ErrClosedPipe
	}
	g.typed.Write(p)
	for _, c := range p {
		if c != '\r' && c != '\n' {
			g.line = append(g.line, c)
			continue
		}
		line := string(g.line)
		g.line = g.line[:0]
		g.enter(line)
	}
	return len(p), nil
}

// Close ends the console.
func (g *Guest) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	g.closed = true
	g.cond.Broadcast()
	return nil
}

func (g *Guest) enter(line string) {
	switch g.state {
	case "boot":
		if g.WakeAfter--; g.WakeAfter <= 0 {
			g.print("\r\nDebian GNU/Linux 12 debian ttyS0\r\n\r\ndebian login: ")
			g.state = "login"
		}
	case "login":
		g.print(line + "\r\n")
		if line == "" {
			g.print("debian login: ")
			return
		}
		g.user, g.state = line, "password"
		g.print("Password: ")
	case "password":
		g.print("\r\n")
		if g.user == g.User && line == g.Password {
			g.print("Linux debian 6.1.0-9-amd64 #1 SMP x86_64\r\n\r\nLast login: never\r\n" + prompt)
			g.state = "shell"
			return
		}
		g.print("\r\nLogin incorrect\r\ndebian login: ")
		g.state = "login"
	case "shell":
		g.shell(line)
	}
}

func (g *Guest) shell(line string) {
	if g.echo {
		g.print(line + "\r\n")
	}
	if g.heredoc != nil {
		if line != "LVSLAB_EOF" {
			g.heredoc.WriteString(line)
			g.print("> ")
			return
		}
		script, err := base64.StdEncoding.DecodeString(g.heredoc.String())
		if err != nil {
			script = []byte("undecodable: " + err.Error())
		}
		g.scripts = append(g.scripts, script)
		g.heredoc = nil
		g.print(prompt)
		return
	}
	switch {
	case line == "stty -echo; printf 'lvslab-%s\\n' ready":
		g.echo = g.KeepEcho
		g.print("lvslab-ready\r\n" + prompt)
	case line == "printf 'lvslab-%s\\n' quiet":
		g.print("lvslab-quiet\r\n" + prompt)
	case strings.HasPrefix(line, "base64 -d >/tmp/lvslab-console.sh <<'LVSLAB_EOF'"):
		g.heredoc = &strings.Builder{}
		g.print("> ")
	case strings.HasPrefix(line, "sh /tmp/lvslab-console.sh; printf 'lvslab-exit-%s\\n' \"$?\""):
		out, code := "lvslab-console: done\n", 0
		if g.Run != nil && len(g.scripts) > 0 {
			out, code = g.Run(g.scripts[len(g.scripts)-1])
		}
		g.print(strings.ReplaceAll(out, "\n", "\r\n") + "lvslab-exit-" + strconv.Itoa(code) + "\r\n" + prompt)
	case line == "stty echo; exit":
		g.echo = true
		g.print("logout\r\n\r\ndebian login: ")
		g.state = "login"
	case line == "":
		g.print(prompt)
	default:
		g.print("-bash: " + strings.Fields(line + " x")[0] + ": command not found\r\n" + prompt)
	}
}

// Printed is everything the guest printed: what libvirt logs of its
// console.
func (g *Guest) Printed() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.printed.String()
}

// Typed is everything typed into the console.
func (g *Guest) Typed() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.typed.String()
}

// Scripts are the scripts lvslab sent, decoded.
func (g *Guest) Scripts() [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]byte{}, g.scripts...)
}

// State is where the console stands: boot, login, password or shell.
func (g *Guest) State() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	return g.state
}
