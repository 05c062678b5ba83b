// Package agenttest is a QEMU guest agent for tests, where libvirt's test
// driver passes no agent commands: it answers guest-exec and
// guest-exec-status in the agent's own replies (a pid; then "exited",
// "exitcode" and the output in base64), running each program as the test
// says, and records what ran.
package agenttest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lvslab/lvslab/provision/host"
)

// Program is one program run through the agent.
type Program struct {
	Domain string
	Argv   []string
}

// Script is its shell script when it is "/bin/sh -c SCRIPT", else "".
func (p Program) Script() string {
	if len(p.Argv) == 3 && p.Argv[0] == "/bin/sh" && p.Argv[1] == "-c" {
		return p.Argv[2]
	}
	return ""
}

// Guest answers for the guest agents of every domain.
type Guest struct {
	// Run is what a program does: its exit code and output. nil: it exits
	// 0 and prints nothing.
	Run func(p Program) (code int, stdout, stderr string)
	// Silent lists domains whose agent does not answer.
	Silent map[string]bool

	mu       sync.Mutex
	ran      []Program
	done     map[int]string // pid -> its guest-exec-status reply
	pid      int
	repaired atomic.Bool
}

// CutOffGuest answers for the domains of addrs (domain -> management
// address) with lvslab's diagnosis: cut's mgmt0 is down and its sshd
// stopped until a repair that brings mgmt0 up runs (then Repaired says
// so); the others are healthy.
func CutOffGuest(cut string, addrs map[string]string) *Guest {
	g := &Guest{}
	g.Run = func(p Program) (int, string, string) {
		switch {
		case strings.Contains(p.Script(), "ip link set mgmt0 up"):
			g.repaired.Store(true)
			return 0, "", ""
		case p.Domain == cut && !g.repaired.Load():
			return 0, CutOff(addrs[cut]), ""
		}
		return 0, Healthy(addrs[p.Domain]), ""
	}
	return g
}

// Repaired tells whether CutOffGuest's repair ran.
func (g *Guest) Repaired() bool { return g.repaired.Load() }

// Ran lists the programs run so far, in order.
func (g *Guest) Ran() []Program {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Program(nil), g.ran...)
}

// Command is host.Agent's.
func (g *Guest) Command(ctx context.Context, domain, command string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if g.Silent[domain] {
		return "", fmt.Errorf("%w: Guest agent is not responding: QEMU guest agent is not connected", host.ErrNoAgent)
	}
	var cmd struct {
		Execute   string `json:"execute"`
		Arguments struct {
			Path string   `json:"path"`
			Arg  []string `json:"arg"`
			PID  int      `json:"pid"`
		} `json:"arguments"`
	}
	if err := json.Unmarshal([]byte(command), &cmd); err != nil {
		return "", err
	}
	switch cmd.Execute {
	case "guest-exec":
		p := Program{Domain: domain, Argv: append([]string{cmd.Arguments.Path}, cmd.Arguments.Arg...)}
		code, stdout, stderr := 0, "", ""
		if g.Run != nil {
			code, stdout, stderr = g.Run(p)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		g.ran = append(g.ran, p)
		g.pid++
		if g.done == nil {
			g.done = map[int]string{}
		}
		g.done[g.pid] = Exited(code, stdout, stderr)
		return fmt.Sprintf(`{"return":{"pid":%d}}`, g.pid), nil
	case "guest-exec-status":
		g.mu.Lock()
		defer g.mu.Unlock()
		if r, ok := g.done[cmd.Arguments.PID]; ok {
			return r, nil
		}
		return fmt.Sprintf(`{"error":{"class":"GenericError","desc":"Invalid parameter 'pid' %d"}}`, cmd.Arguments.PID), nil
	}
	return fmt.Sprintf(`{"error":{"class":"CommandNotFound","desc":"The command %s has not been found"}}`, cmd.Execute), nil
}

// Exited is the agent's guest-exec-status reply for a program that ended
// with code and printed stdout and stderr (empty output is left out, as
// the agent does).
func Exited(code int, stdout, stderr string) string {
	r := map[string]any{"exited": true, "exitcode": code}
	if stdout != "" {
		r["out-data"] = base64.StdEncoding.EncodeToString([]byte(stdout))
	}
	if stderr != "" {
		r["err-data"] = base64.StdEncoding.EncodeToString([]byte(stderr))
	}
	b, _ := json.Marshal(map[string]any{"return": r})
	return string(b)
}
