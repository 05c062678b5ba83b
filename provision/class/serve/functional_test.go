package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/lvslab/lvslab/provision/paths"
	"golang.org/x/crypto/ssh"
)

func TestTerminalEchoesAndResizes(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.login("alice")
	conn := alice.term("/s/alice/term/web1?cols=100&rows=30")
	readUntil(t, conn, "root@web1:~# ")
	ctx := context.Background()
	conn.Write(ctx, websocket.MessageBinary, []byte("hostname\r"))
	if out := readUntil(t, conn, "web1\r\nroot@web1"); !strings.Contains(out, "hostname") {
		t.Errorf("no echo: %q", out)
	}
	conn.Write(ctx, websocket.MessageText, []byte(`{"cols":120,"rows":40}`))
	conn.Write(ctx, websocket.MessageText, []byte(`{"cols":100000,"rows":-5}`))
	conn.Write(ctx, websocket.MessageBinary, []byte("x\r"))
	readUntil(t, conn, "x\r\n")
	e.f.mu.Lock()
	resized := strings.Join(e.f.resized, ",")
	e.f.mu.Unlock()
	if resized != "alice web1 120x40" {
		t.Errorf("resizes: %q", resized)
	}
	// The console goes the same way.
	c2 := alice.term("/s/alice/console/web2")
	c2.Write(ctx, websocket.MessageBinary, []byte("hostname\r"))
	readUntil(t, c2, "web2\r\n")
}

// The teacher's grid hears of alice's checks at once (server-sent events);
// reset and up reach alice's copy only, one at a time.
func TestTeacherLiveGridAndActions(t *testing.T) {
	e := newEnv(t, nil)
	e.f.checks["alice"] = CheckResult{Checks: []Check{
		{Node: "web1", Name: "httpd", Pass: true},
		{Node: "web1", Name: "address eth1", Pass: false, Why: "eth1 has no address", Fix: "nmcli con mod eth1 ipv4.addresses 192.168.2.100/24"},
	}}
	teacher, alice := e.login(Teacher), e.login("alice")

	req, _ := http.NewRequest("GET", e.ts.URL+"/teacher/events", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: teacher.cookie})
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan [2]string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				ev = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				events <- [2]string{ev, v}
			}
		}
		close(events)
	}()
	next := func(want func(Row) bool) Row {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev[0] != "row" {
					continue
				}
				var r Row
				json.Unmarshal([]byte(ev[1]), &r)
				if want(r) {
					return r
				}
			case <-timeout:
				t.Fatal("no such event")
			}
		}
	}
	if ev := <-events; ev[0] != "grid" || !strings.Contains(ev[1], `"student":"bob"`) {
		t.Fatalf("first event: %v", ev)
	}
	start := time.Now()
	if code, body := alice.post("/s/alice/check", nil); code != 200 || !strings.Contains(body, `"passed":1,"total":2`) {
		t.Fatalf("check: %d %s", code, body)
	}
	r := next(func(r Row) bool { return r.Student == "alice" && r.Total == 2 })
	if r.Passed != 1 || r.Checks[1].Fix == "" {
		t.Errorf("alice's row: %+v", r)
	}
	t.Logf("the grid heard of alice's check %v after she pressed it", time.Since(start))

	e.f.mu.Lock()
	e.f.checks["alice"].Checks[1].Pass = true
	e.f.mu.Unlock()
	alice.post("/s/alice/check", nil)
	next(func(r Row) bool { return r.Student == "alice" && r.Passed == 2 })
	_, st := alice.get("/s/alice/state")
	if !strings.Contains(st, `"passed":1`) || !strings.Contains(st, `"passed":2`) {
		t.Errorf("alice's history: %s", st)
	}

	if code, body := teacher.post("/teacher/reset", map[string]string{"student": "alice"}); code != http.StatusAccepted {
		t.Fatalf("reset: %d %s", code, body)
	}
	if got := <-e.f.opDone; got != "Reset alice " {
		t.Errorf("reset called %q", got)
	}
	if code, _ := teacher.post("/teacher/reset", map[string]string{"student": "bob", "stage": "; rm -rf /"}); code != http.StatusBadRequest {
		t.Errorf("reset to an unknown stage: %d", code)
	}
	teacher.post("/teacher/reset", map[string]string{"student": "alice", "stage": "dr"})
	if got := <-e.f.opDone; got != "Reset alice dr" {
		t.Errorf("reset called %q", got)
	}
	teacher.post("/teacher/up", map[string]string{"student": "alice"})
	if got := <-e.f.opDone; got != "Up alice" {
		t.Errorf("up called %q", got)
	}
	if calls := append(e.f.called("Reset bob"), e.f.called("Up bob")...); len(calls) > 0 {
		t.Errorf("bob's copy touched: %v", calls)
	}
	if code, _ := teacher.post("/teacher/reset", map[string]string{"student": "mallory"}); code != http.StatusNotFound {
		t.Errorf("reset of no student: %d", code)
	}
}

func TestHistorySurvivesARestart(t *testing.T) {
	e := newEnv(t, nil)
	e.f.checks["alice"] = CheckResult{Checks: []Check{{Node: "web1", Name: "httpd", Pass: true}}}
	e.login("alice").post("/s/alice/check", nil)
	s2, err := New(e.s.cfg, e.f)
	if err != nil {
		t.Fatal(err)
	}
	if r := s2.row(s2.student("alice")); r.Passed != 1 || r.Total != 1 {
		t.Errorf("after a restart alice's last check is %+v", r)
	}
}

func TestHandoutIsInert(t *testing.T) {
	e := newEnv(t, nil)
	e.f.handouts["alice"] = "<html><script>fetch('/teacher/grid')</script><p>NAT</p></html>"
	code, body := e.login("alice").do("GET", "/s/alice/handout", nil, nil)
	if code != 200 || !strings.Contains(body, "<p>NAT</p>") {
		t.Fatalf("handout: %d %s", code, body)
	}
	req, _ := http.NewRequest("GET", e.ts.URL+"/s/alice/handout", nil)
	c := e.login("alice")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("the handout's CSP: %q", csp)
	}
}

func TestServeStopsCleanly(t *testing.T) {
	e := newEnv(t, nil)
	s, err := New(e.s.cfg, e.f)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := listen()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	e.ts.URL = "http://" + ln.Addr().String()
	alice := e.login("alice")
	conn := alice.term("/s/alice/term/web1")
	readUntil(t, conn, "root@web1")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("Serve did not return")
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer rcancel()
	if _, _, err := conn.Read(rctx); err == nil || rctx.Err() != nil {
		t.Errorf("the terminal outlived the server: %v", err)
	}
}

func TestCredentials(t *testing.T) {
	root := paths.InHome(t.TempDir())
	c, _ := LoadCredentials(root, "c1")
	if _, err := c.Issue([]string{"alice", Teacher}, false); err == nil {
		t.Error("a student called teacher was accepted")
	}
	if _, err := c.Issue([]string{"al ice"}, false); err == nil {
		t.Error("a student name with a space was accepted")
	}
	slips, err := c.Issue([]string{"bob", "alice"}, false)
	if err != nil || len(slips) != 3 || slips[0].Name != Teacher || slips[1].Name != "alice" {
		t.Fatalf("slips %v %v", slips, err)
	}
	pass := slips[1].Passphrase
	if len(normalize(pass)) != 16 {
		t.Errorf("passphrase %q: want 16 base32 letters (80 bits)", pass)
	}
	if _, ok := c.Verify("alice", strings.ToUpper(strings.ReplaceAll(pass, "-", " "))); !ok {
		t.Error("the slip's passphrase as typed with spaces and capitals is refused")
	}
	if _, ok := c.Verify("bob", pass); ok {
		t.Error("alice's passphrase opens bob")
	}
	if _, ok := c.Verify("nobody", pass); ok {
		t.Error("an unknown name logged in")
	}
	again, _ := c.Issue([]string{"alice", "bob"}, false)
	if len(again) != 0 {
		t.Errorf("issuing again made new slips: %v", again)
	}
	c2, err := LoadCredentials(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c2.Verify("alice", pass); !ok {
		t.Error("the saved credentials refuse alice")
	}
	if _, err := LoadCredentials(root, "c1"); err != nil {
		t.Fatal(err)
	}
	old := c2.Generation("alice")
	s, _ := c2.Rotate("alice")
	if _, ok := c2.Verify("alice", pass); ok || c2.Generation("alice") != old+1 {
		t.Error("the old passphrase still works after a rotation")
	}
	if _, ok := c2.Verify("alice", s.Passphrase); !ok {
		t.Error("the new passphrase does not work")
	}
	// Keys: public ones only, one at a time, kept once.
	pub := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEo5xvEZUqPh4vQgaMKdM5k1Z1WJtqS7H6cE3xKj5b0w alice@laptop"
	if err := c2.RegisterKey("alice", pub); err != nil {
		t.Fatal(err)
	}
	c2.RegisterKey("alice", pub)
	if keys := c2.Keys("alice"); len(keys) != 1 || keys[0].Type() != ssh.KeyAlgoED25519 {
		t.Errorf("keys %v", keys)
	}
	for _, bad := range []string{"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", "hello", pub + "\n" + pub} {
		if err := c2.RegisterKey("alice", bad); err == nil {
			t.Errorf("registered %q", bad)
		}
	}
	if err := c2.RegisterKey(Teacher, pub); err == nil {
		t.Error("a key for the teacher")
	}
	// Slips.
	var csv, page bytes.Buffer
	WriteSlipsCSV(&csv, "https://class:8443", []Slip{{"alice", "abcd-efgh-ijkl-mnop"}})
	if csv.String() != "name,passphrase,url\nalice,abcd-efgh-ijkl-mnop,https://class:8443\n" {
		t.Errorf("csv %q", csv.String())
	}
	WriteSlipsHTML(&page, "c1<b>", "https://class:8443", []Slip{{"alice", "abcd-efgh-ijkl-mnop"}})
	if !strings.Contains(page.String(), "abcd-efgh-ijkl-mnop") || strings.Contains(page.String(), "c1<b>") {
		t.Errorf("slips page: %s", page.String())
	}
	// Forgetting a student who left.
	c2.Issue([]string{"bob"}, false)
	if c2.Generation("alice") != 0 {
		t.Error("alice's login outlived her leaving the class")
	}
	data, _ := os.ReadFile(c2.Path())
	if strings.Contains(string(data), s.Passphrase) {
		t.Error("passphrase in the clear")
	}
}

// A student registers their public key from their page; the teacher may
// too; a private key or garbage is refused.
func TestRegisterKeyFromThePage(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.login("alice")
	pub := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEo5xvEZUqPh4vQgaMKdM5k1Z1WJtqS7H6cE3xKj5b0w alice@laptop"
	if code, body := alice.post("/s/alice/key", map[string]string{"key": pub}); code != 200 || !strings.Contains(body, "alice@laptop") {
		t.Fatalf("register: %d %s", code, body)
	}
	if code, _ := alice.post("/s/alice/key", map[string]string{"key": "-----BEGIN OPENSSH PRIVATE KEY-----"}); code != http.StatusBadRequest {
		t.Errorf("a private key: %d", code)
	}
	if _, st := alice.get("/s/alice/state"); !strings.Contains(st, "alice@laptop") {
		t.Errorf("the page does not list the key: %s", st)
	}
	if keys := e.creds.Keys("alice"); len(keys) != 1 {
		t.Errorf("keys %v", keys)
	}
}
