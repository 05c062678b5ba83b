package class

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/lvslab/lvslab/provision/check"
	"github.com/lvslab/lvslab/provision/class/serve"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/report"
)

// liveClass is a Live over a class of alice and bob with no copy made,
// and the class's logins.
func liveClass(t *testing.T) (*Live, map[string]string) {
	t.Helper()
	creds, err := serve.LoadCredentials(paths.InHome(t.TempDir()), "c")
	if err != nil {
		t.Fatal(err)
	}
	slips, err := creds.Issue([]string{"alice", "bob"}, false)
	if err != nil {
		t.Fatal(err)
	}
	pass := map[string]string{}
	for _, s := range slips {
		pass[s.Name] = s.Passphrase
	}
	s := &Session{Class: &Class{Name: "c", Students: []string{"alice", "bob"}, LabRef: "tedu-nat"}, Record: &Record{Class: "c"}}
	return NewLive(s, LiveOptions{Credentials: creds}), pass
}

// The door admits students with their own passphrase or registered key,
// never the teacher (who has no copy) and never with another's secret.
func TestDoorAdmitsStudentsOnly(t *testing.T) {
	l, pass := liveClass(t)
	d := l.Door()
	if !d.CheckPassword("alice", pass["alice"]) {
		t.Error("alice's own passphrase refused")
	}
	if d.CheckPassword("alice", pass["bob"]) || d.CheckPassword("bob", pass["alice"]) {
		t.Error("one student's passphrase opened another's door")
	}
	if d.CheckPassword("teacher", pass["teacher"]) {
		t.Error("the teacher logged in at the door: the teacher has no copy")
	}
	if d.CheckPassword("mallory", "anything") {
		t.Error("a name outside the class logged in")
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := ssh.NewPublicKey(pub)
	line := string(ssh.MarshalAuthorizedKey(key))
	if err := l.opts.Credentials.RegisterKey("alice", line); err != nil {
		t.Fatal(err)
	}
	if !d.CheckKey("alice", key) || d.CheckKey("bob", key) {
		t.Error("alice's registered key: admitted for alice only, want exactly that")
	}
}

// A student with no copy reads serve.ErrNoCopy (a sentence on their page
// only); a name outside the class or a node outside the copy is refused
// before any host is asked.
func TestLiveRefusesWhatIsNotTheStudents(t *testing.T) {
	l, _ := liveClass(t)
	ctx := context.Background()
	if _, err := l.Nodes(ctx, "alice"); !errors.Is(err, serve.ErrNoCopy) {
		t.Errorf("alice without a copy: %v, want ErrNoCopy", err)
	}
	if _, err := l.Nodes(ctx, "mallory"); err == nil || errors.Is(err, serve.ErrNoCopy) {
		t.Errorf("a name outside the class: %v", err)
	}
	if _, err := l.Shell(ctx, "mallory", "web1", serve.Terminal{}); err == nil {
		t.Error("a shell for a name outside the class")
	}
	if err := l.Reset(ctx, "alice", "tedu-dr"); err == nil || !strings.Contains(err.Error(), "no stage") {
		t.Errorf("a reset to a stage the class does not offer: %v", err)
	}
	page, err := l.Handout(ctx, "alice")
	if err != nil || !strings.Contains(page, "alice") || !strings.Contains(page, "ipvsadm -A") {
		t.Errorf("alice's handout without a copy: err %v, %d bytes", err, len(page))
	}
}

// A check report reaches the page with each failed fact's why and fix, and
// verify's failures under end-to-end.
func TestCheckResult(t *testing.T) {
	rep := &check.Report{Nodes: []check.NodeReport{
		{Node: "web1", Facts: []check.Fact{
			{Name: "gateway", Status: report.Fail, Got: "192.168.2.254", Want: "192.168.2.5", Hint: "not the DIP", Fix: "ip route replace default via 192.168.2.5"},
			{Name: "hostname", Status: report.Pass, Got: "web1", Want: "web1"},
		}},
		{Node: "lvs1", Error: "i/o timeout"},
	}, VerifyError: "no reply"}
	got := checkResult(rep)
	if len(got.Checks) != 4 {
		t.Fatalf("checks %+v", got.Checks)
	}
	if c := got.Checks[0]; c.Pass || !strings.Contains(c.Why, "not the DIP") || c.Fix == "" {
		t.Errorf("the failed gateway: %+v", c)
	}
	if c := got.Checks[1]; !c.Pass || c.Why != "" {
		t.Errorf("the passing hostname: %+v", c)
	}
	if c := got.Checks[2]; c.Pass || c.Node != "lvs1" || !strings.Contains(c.Why, "i/o timeout") {
		t.Errorf("the unread node: %+v", c)
	}
	if c := got.Checks[3]; c.Pass || c.Node != "end-to-end" {
		t.Errorf("verify's failure: %+v", c)
	}
}
