package host

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/progress"
)

// The QEMU guest agent: a daemon in the guest (Debian's qemu-guest-agent,
// started by udev when its port appears) that libvirt talks to over a
// virtio-serial channel of the domain. It needs no guest network, so it
// still answers when a student took mgmt0 down, stopped sshd or dropped
// port 22: lvslab reads through it why a node is cut off, and restores its
// own way in.

// AgentChannel is the name of the guest agent's virtio-serial port.
const AgentChannel = image.AgentPort

// AgentTimeout is how long a guest agent may take to answer one command
// before it counts as not answering.
const AgentTimeout = 2 * time.Second

// agentChannel is the domain's channel to its guest agent: a UNIX socket on
// the host whose path libvirt chooses, the agent's port in the guest.
func agentChannel() libvirtxml.DomainChannel {
	return libvirtxml.DomainChannel{
		Source: &libvirtxml.DomainChardevSource{UNIX: &libvirtxml.DomainChardevSourceUNIX{Mode: "bind"}},
		Target: &libvirtxml.DomainChannelTarget{VirtIO: &libvirtxml.DomainChannelTargetVirtIO{Name: AgentChannel}},
	}
}

// ErrNoAgent is the error of a guest agent that cannot be asked: the domain
// has no channel for it (defined before lvslab added one), the agent does
// not run in the guest (an image built without it) or does not answer in
// AgentTimeout, or this libvirt passes no agent commands (test:///default).
var ErrNoAgent = errors.New("no guest agent answers")

// Agent passes a QEMU guest agent command (its JSON) to the agent of a
// running domain and returns the agent's reply (JSON, {"return": ...}).
// An agent that cannot be asked is an error wrapping ErrNoAgent.
type Agent interface {
	Command(ctx context.Context, domain, command string) (string, error)
}

// AgentFunc is a function that is an Agent.
type AgentFunc func(ctx context.Context, domain, command string) (string, error)

// Command calls f.
func (f AgentFunc) Command(ctx context.Context, domain, command string) (string, error) {
	return f(ctx, domain, command)
}

// LibvirtAgent is Agent through libvirt (virDomainQemuAgentCommand).
type LibvirtAgent struct{ Conn *Conn }

// Command sends command to domain's agent and waits up to AgentTimeout (or
// less, as ctx says) for its reply.
func (a LibvirtAgent) Command(ctx context.Context, domain, command string) (string, error) {
	wait := AgentTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		wait = time.Until(dl)
	}
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	type reply struct {
		out string
		err error
	}
	done := make(chan reply, 1)
	go func() {
		out, err := a.command(domain, command, secs)
		done <- reply{out, err}
	}()
	// libvirt's call takes no context: it ends by its own timeout.
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (a LibvirtAgent) command(domain, command string, secs int) (string, error) {
	d, err := a.Conn.LookupDomainByName(domain)
	if err != nil {
		return "", fmt.Errorf("domain %s: %w", domain, err)
	}
	defer d.Free()
	out, err := progress.Call("guest agent of "+domain+": "+command, func() (string, error) {
		return d.QemuAgentCommand(command, libvirt.DomainQemuAgentCommandTimeout(secs), 0)
	})
	if err != nil {
		if noAgent(err) {
			return "", fmt.Errorf("%w: %s", ErrNoAgent, LibvirtMessage(err))
		}
		return "", fmt.Errorf("guest agent of %s: %w", domain, err)
	}
	return out, nil
}

// noAgent tells the errors of an agent that cannot be asked from those of
// a command the agent refused.
func noAgent(err error) bool {
	switch LibvirtCode(err) {
	case libvirt.ERR_AGENT_UNRESPONSIVE, libvirt.ERR_AGENT_UNSYNCED, libvirt.ERR_AGENT_COMMAND_TIMEOUT,
		libvirt.ERR_ARGUMENT_UNSUPPORTED, libvirt.ERR_NO_SUPPORT, libvirt.ERR_OPERATION_UNSUPPORTED,
		libvirt.ERR_OPERATION_INVALID:
		return true
	}
	return false
}

// ExecResult is what a program run through the guest agent did.
type ExecResult struct {
	ExitCode int
	// Signal is the signal that ended it, 0 when it exited.
	Signal         int
	Stdout, Stderr string
}

// execPoll is the pause between the agent's reports on a program that
// has not ended yet.
const execPoll = 50 * time.Millisecond

// GuestExec runs argv in domain's guest through its agent (guest-exec) and
// waits until it ends (guest-exec-status) or ctx does; stdin, when not
// empty, is its input.
func GuestExec(ctx context.Context, a Agent, domain string, stdin string, argv ...string) (ExecResult, error) {
	args := map[string]any{"path": argv[0], "arg": argv[1:], "capture-output": true}
	if stdin != "" {
		args["input-data"] = base64.StdEncoding.EncodeToString([]byte(stdin))
	}
	var started struct {
		PID int `json:"pid"`
	}
	if err := agentCall(ctx, a, domain, "guest-exec", args, &started); err != nil {
		return ExecResult{}, err
	}
	for {
		var st struct {
			Exited   bool   `json:"exited"`
			ExitCode int    `json:"exitcode"`
			Signal   int    `json:"signal"`
			OutData  string `json:"out-data"`
			ErrData  string `json:"err-data"`
		}
		if err := agentCall(ctx, a, domain, "guest-exec-status", map[string]any{"pid": started.PID}, &st); err != nil {
			return ExecResult{}, err
		}
		if st.Exited {
			out, err1 := base64.StdEncoding.DecodeString(st.OutData)
			errOut, err2 := base64.StdEncoding.DecodeString(st.ErrData)
			if err := errors.Join(err1, err2); err != nil {
				return ExecResult{}, fmt.Errorf("guest agent of %s: the output of %s: %w", domain, argv[0], err)
			}
			return ExecResult{ExitCode: st.ExitCode, Signal: st.Signal, Stdout: string(out), Stderr: string(errOut)}, nil
		}
		select {
		case <-ctx.Done():
			return ExecResult{}, fmt.Errorf("guest agent of %s: %s did not end: %w", domain, argv[0], ctx.Err())
		case <-time.After(execPoll):
		}
	}
}

// agentCall sends one command with its arguments and decodes the
// "return" member of the reply into ret.
func agentCall(ctx context.Context, a Agent, domain, execute string, args map[string]any, ret any) error {
	cmd, err := json.Marshal(map[string]any{"execute": execute, "arguments": args})
	if err != nil {
		return err
	}
	out, err := a.Command(ctx, domain, string(cmd))
	if err != nil {
		return err
	}
	var reply struct {
		Return json.RawMessage `json:"return"`
		Error  *struct {
			Class string `json:"class"`
			Desc  string `json:"desc"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &reply); err != nil {
		return fmt.Errorf("guest agent of %s: %s: a reply that is not JSON: %w", domain, execute, err)
	}
	if reply.Error != nil {
		return fmt.Errorf("guest agent of %s: %s: %s", domain, execute, reply.Error.Desc)
	}
	if len(reply.Return) == 0 {
		return fmt.Errorf("guest agent of %s: %s: a reply without \"return\": %s", domain, execute, out)
	}
	if err := json.Unmarshal(reply.Return, ret); err != nil {
		return fmt.Errorf("guest agent of %s: %s: %w", domain, execute, err)
	}
	return nil
}
