package host

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// replay is an agent that answers with recorded replies, in order, and
// keeps the commands it was sent.
type replay struct {
	replies []string
	sent    []string
}

func (r *replay) Command(_ context.Context, _, command string) (string, error) {
	r.sent = append(r.sent, command)
	if len(r.replies) == 0 {
		return "", errors.New("no recorded reply left")
	}
	out := r.replies[0]
	r.replies = r.replies[1:]
	return out, nil
}

// Replies as QEMU's agent (7.2, Debian 12) gives them: guest-exec's pid,
// then guest-exec-status while the program runs and once it exited, its
// output in base64.
func TestGuestExecReadsTheAgentsReplies(t *testing.T) {
	a := &replay{replies: []string{
		`{"return":{"pid":1207}}`,
		`{"return":{"exited":false}}`,
		`{"return":{"exitcode":3,"out-data":"IyMgc3NoZAppbmFjdGl2ZQo=","err-data":"bm8gc3NoZAo=","exited":true}}`,
	}}
	res, err := GuestExec(context.Background(), a, "tedu-web1", "", "/bin/sh", "-c", "echo '## sshd'; systemctl is-active ssh")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || res.Stdout != "## sshd\ninactive\n" || res.Stderr != "no sshd\n" {
		t.Errorf("result %+v", res)
	}
	want := `{"arguments":{"arg":["-c","echo '## sshd'; systemctl is-active ssh"],"capture-output":true,"path":"/bin/sh"},"execute":"guest-exec"}`
	if len(a.sent) != 3 || a.sent[0] != want {
		t.Fatalf("sent %q\nwant %s first", a.sent, want)
	}
	for _, status := range a.sent[1:] {
		if status != `{"arguments":{"pid":1207},"execute":"guest-exec-status"}` {
			t.Errorf("status asked as %s", status)
		}
	}
}

// The agent's own error reply ends the run with its description.
func TestGuestExecSaysTheAgentsError(t *testing.T) {
	a := &replay{replies: []string{`{"error":{"class":"GenericError","desc":"Failed to execute child process \u201c/bin/nosuch\u201d (No such file or directory)"}}`}}
	_, err := GuestExec(context.Background(), a, "tedu-web1", "", "/bin/nosuch")
	if err == nil || !strings.Contains(err.Error(), "guest-exec: Failed to execute child process") {
		t.Errorf("got %v", err)
	}
}

// A program that does not end is given up when ctx ends.
func TestGuestExecEndsWithItsContext(t *testing.T) {
	a := AgentFunc(func(_ context.Context, _, command string) (string, error) {
		if strings.Contains(command, `"guest-exec"`) {
			return `{"return":{"pid":7}}`, nil
		}
		return `{"return":{"exited":false}}`, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	if _, err := GuestExec(ctx, a, "tedu-web1", "", "/bin/sleep", "60"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v", err)
	}
}

// libvirt's test driver passes no agent commands: that is an agent that
// cannot be asked, not a failed command.
func TestLibvirtAgentWithoutAnAgent(t *testing.T) {
	conn := testConn(t)
	_, err := LibvirtAgent{Conn: conn}.Command(context.Background(), "test", `{"execute":"guest-ping"}`)
	if !errors.Is(err, ErrNoAgent) {
		t.Errorf("got %v, want ErrNoAgent", err)
	}
}
