package serve

import (
	"context"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/paths"
)

// Alice, logged in, tries every way into bob's copy: his page, state,
// handout, check, key, terminal and console websockets, and the teacher's
// pages and actions. Each is refused and bob's copy is never called.
func TestStudentCannotReachAnotherStudent(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.login("alice")
	for _, path := range []string{"/s/bob/", "/s/bob/state", "/s/bob/handout", "/teacher/", "/teacher/grid", "/teacher/events",
		"/s/Bob/state", "/s/bob%2f/state", "/s/alice/../bob/state", "/s/./bob/state"} {
		code, body := alice.get(path)
		if code == http.StatusMovedPermanently || code == http.StatusTemporaryRedirect || code == http.StatusPermanentRedirect {
			continue // the mux cleans the path; the cleaned one is tried below
		}
		if code != http.StatusForbidden && code != http.StatusNotFound {
			t.Errorf("alice GET %s: %d %q, want 403", path, code, body)
		}
	}
	for _, path := range []string{"/s/bob/check", "/s/bob/key", "/teacher/reset", "/teacher/up", "/teacher/revoke"} {
		if code, body := alice.post(path, map[string]string{"student": "bob", "key": "x"}); code != http.StatusForbidden {
			t.Errorf("alice POST %s: %d %q, want 403", path, code, body)
		}
	}
	for _, path := range []string{"/s/bob/term/web1", "/s/bob/console/web1"} {
		if code, err := alice.try(path, e.ts.URL); err == nil {
			t.Errorf("alice opened %s", path)
		} else if code != http.StatusForbidden {
			t.Errorf("alice's websocket %s: %d %v, want 403", path, code, err)
		}
	}
	if calls := e.f.called("Nodes bob"); len(calls)+len(e.f.called("Shell bob"))+len(e.f.called("Check bob"))+
		len(e.f.called("Handout bob"))+len(e.f.called("Console bob"))+len(e.f.called("Reset"))+len(e.f.called("Up")) > 0 {
		t.Errorf("bob's copy was called for alice: %v", e.f.calls)
	}
	if keys := e.creds.KeyLines("bob"); len(keys) > 0 {
		t.Errorf("alice registered a key for bob: %v", keys)
	}
	// Her own page works.
	if code, body := alice.get("/s/alice/state"); code != 200 || !strings.Contains(body, "web1") {
		t.Errorf("alice's own state: %d %s", code, body)
	}
}

// A node that is not in the student's copy is no target, even by name.
func TestTerminalOnlyToOwnNodes(t *testing.T) {
	e := newEnv(t, nil)
	e.f.nodes["bob"] = append(e.f.nodes["bob"], Node{Name: "secret", State: "running"})
	alice := e.login("alice")
	for _, node := range []string{"secret", "..", "web1%2f..%2fsecret", "host"} {
		if code, err := alice.try("/s/alice/term/"+node, e.ts.URL); err == nil {
			t.Errorf("alice opened a terminal on %q", node)
		} else if code == http.StatusSwitchingProtocols {
			t.Errorf("terminal on %q: %d %v", node, code, err)
		}
	}
	if calls := e.f.called("Shell"); len(calls) > 0 {
		t.Errorf("shells opened: %v", calls)
	}
}

// Forged, expired, revoked and rotated sessions are no sessions.
func TestSessionsForgedExpiredRevoked(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SessionTTL = time.Hour })
	forged := &client{e: e, cookie: randomID()}
	if code, _ := forged.get("/s/alice/state"); code != http.StatusUnauthorized {
		t.Errorf("forged session: %d, want 401", code)
	}
	alice := e.login("alice")
	if code, _ := alice.get("/s/alice/state"); code != 200 {
		t.Fatalf("fresh session: %d", code)
	}
	e.clock.Add(61 * time.Minute)
	if code, _ := alice.get("/s/alice/state"); code != http.StatusUnauthorized {
		t.Errorf("expired session: %d, want 401", code)
	}

	// The teacher revokes alice: her page and her open terminal end.
	alice = e.login("alice")
	conn := alice.term("/s/alice/term/web1")
	readUntil(t, conn, "root@web1")
	teacher := e.login(Teacher)
	if code, body := teacher.post("/teacher/revoke", map[string]string{"student": "alice"}); code != 200 || !strings.Contains(body, `"revoked":1`) {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, _ := alice.get("/s/alice/state"); code != http.StatusUnauthorized {
		t.Errorf("revoked session: %d, want 401", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := conn.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Errorf("the revoked session's terminal is still open")
			}
			break
		}
	}
	if code, _ := teacher.get("/teacher/grid"); code != 200 {
		t.Errorf("the teacher's own session was revoked too")
	}

	// A new passphrase ends the sessions of the old one.
	bob := e.login("bob")
	if _, err := e.creds.Rotate("bob"); err != nil {
		t.Fatal(err)
	}
	if code, _ := bob.get("/s/bob/state"); code != http.StatusUnauthorized {
		t.Errorf("session of a rotated passphrase: %d, want 401", code)
	}
}

// The session cookie: 256 random bits, HttpOnly, SameSite=Strict, Secure
// over TLS; the server speaks HTTPS unless told otherwise.
func TestSessionCookieOverTLS(t *testing.T) {
	root := paths.InHome(t.TempDir())
	creds, _ := LoadCredentials(root, "c1")
	slips, err := creds.Issue([]string{"alice"}, false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Class: "c1", Paths: root, Logf: t.Logf}, newFake("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.TLS() || s.Fingerprint() == "" {
		t.Fatal("the server is not HTTPS by default")
	}
	if _, err := os.Stat(filepath.Join(root.Home, "classes", "c1.serve-cert.pem")); err != nil {
		t.Errorf("the self-signed certificate is not kept with the class: %v", err)
	}
	ln, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	base := "https://" + ln.Addr().String()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS()}, CheckRedirect: noRedirect.CheckRedirect}
	pass := ""
	for _, sl := range slips {
		if sl.Name == "alice" {
			pass = sl.Passphrase
		}
	}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"name": {"alice"}, "passphrase": {pass}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var k *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			k = c
		}
	}
	if k == nil {
		t.Fatalf("login over TLS: %s, no session cookie", resp.Status)
	}
	if !k.Secure || !k.HttpOnly || k.SameSite != http.SameSiteStrictMode || len(k.Value) != 43 {
		t.Errorf("session cookie: Secure %v HttpOnly %v SameSite %v len %d", k.Secure, k.HttpOnly, k.SameSite, len(k.Value))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("Serve did not return after its context ended")
	}
}

// Failed logins are limited per name (from any address) and per address
// (for any name); the limit holds even with the right passphrase.
func TestLoginStormLimited(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.NameFailures, c.AddrFailures = 5, 12 })
	try := func(name, pass, addr string) int {
		form := url.Values{"name": {name}, "passphrase": {pass}}
		r := httptest.NewRequest("POST", "http://class/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", "http://class")
		r.RemoteAddr = addr + ":40000"
		w := httptest.NewRecorder()
		e.s.ServeHTTP(w, r)
		return w.Code
	}
	for i := 0; i < 5; i++ {
		if code := try("alice", "wrong-guess-"+strconv.Itoa(i), "10.0.0."+strconv.Itoa(i+1)); code != http.StatusUnauthorized {
			t.Fatalf("wrong passphrase %d: %d", i, code)
		}
	}
	if code := try("alice", e.pass["alice"], "10.0.0.99"); code != http.StatusTooManyRequests {
		t.Errorf("alice after 5 failures, right passphrase, new address: %d, want 429", code)
	}
	if code := try("bob", e.pass["bob"], "10.0.0.99"); code != http.StatusSeeOther {
		t.Errorf("bob is locked out by alice's failures: %d", code)
	}
	// One address spraying names.
	for i := 0; i < 12; i++ {
		try("nobody"+strconv.Itoa(i), "x", "10.9.9.9")
	}
	if code := try("bob", e.pass["bob"], "10.9.9.9"); code != http.StatusTooManyRequests {
		t.Errorf("a spraying address, bob's right passphrase: %d, want 429", code)
	}
	// The window passes.
	e.clock.Add(6 * time.Minute)
	if code := try("alice", e.pass["alice"], "10.0.0.99"); code != http.StatusSeeOther {
		t.Errorf("alice after the window: %d", code)
	}
}

// A page of another site cannot open a terminal with the student's cookie.
func TestWebsocketOriginChecked(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.login("alice")
	for _, origin := range []string{"", "http://evil.example", "null", strings.Replace(e.ts.URL, "http", "https", 1)} {
		if code, err := alice.try("/s/alice/term/web1", origin); err == nil {
			t.Errorf("a terminal opened with Origin %q", origin)
		} else if code != http.StatusForbidden {
			t.Errorf("Origin %q: %d %v, want 403", origin, code, err)
		}
	}
	if calls := e.f.called("Shell"); len(calls) > 0 {
		t.Errorf("shells opened: %v", calls)
	}
	alice.term("/s/alice/term/web1") // the page's own terminal opens
}

// State-changing requests need this server's Origin and the session's
// token; the login form needs the Origin.
func TestCSRF(t *testing.T) {
	e := newEnv(t, nil)
	e.f.checks["alice"] = CheckResult{Checks: []Check{{Node: "web1", Name: "httpd", Pass: true}}}
	alice := e.login("alice")
	teacher := e.login(Teacher)
	cases := []struct{ who, origin, token string }{
		{"no token", e.ts.URL, ""},
		{"another session's token", e.ts.URL, teacher.csrf},
		{"foreign origin", "http://evil.example", alice.csrf},
		{"no origin", "", alice.csrf},
	}
	for _, c := range cases {
		if code, _ := alice.postAs("/s/alice/check", nil, c.origin, c.token); code != http.StatusForbidden {
			t.Errorf("check with %s: %d, want 403", c.who, code)
		}
		if code, _ := teacher.postAs("/teacher/reset", map[string]string{"student": "bob"}, c.origin, strings.Replace(c.token, teacher.csrf, alice.csrf, 1)); code != http.StatusForbidden {
			t.Errorf("reset with %s: %d, want 403", c.who, code)
		}
	}
	if calls := append(e.f.called("Check"), e.f.called("Reset")...); len(calls) > 0 {
		t.Errorf("forged requests reached the class: %v", calls)
	}
	if code, _ := alice.post("/s/alice/check", nil); code != 200 {
		t.Errorf("the page's own check: %d", code)
	}
	if resp := e.loginAs("alice", e.pass["alice"], "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login from a foreign page: %s, want 403", resp.Status)
	}
	// Logging out needs the token too.
	if code, _ := alice.do("POST", "/logout", strings.NewReader("csrf=x"), map[string]string{"Origin": e.ts.URL, "Content-Type": "application/x-www-form-urlencoded"}); code != http.StatusForbidden {
		t.Errorf("logout without the token: %d, want 403", code)
	}
}

// Passphrases, session ids and tokens never reach the log.
func TestSecretsNeverLogged(t *testing.T) {
	e := newEnv(t, nil)
	e.loginAs("alice", "wrong-"+e.pass["bob"], e.ts.URL)
	e.loginAs("bob", e.pass["alice"], e.ts.URL)
	alice := e.login("alice")
	teacher := e.login(Teacher)
	alice.post("/s/alice/check", nil)
	teacher.post("/teacher/revoke", map[string]string{"student": "alice"})
	logs := e.logs.String()
	if !strings.Contains(logs, "failed login") || !strings.Contains(logs, "alice logged in") {
		t.Fatalf("the log does not say what happened:\n%s", logs)
	}
	for _, secret := range []string{e.pass["alice"], e.pass["bob"], e.pass[Teacher], alice.cookie, alice.csrf, teacher.cookie, teacher.csrf,
		normalize(e.pass["alice"]), normalize(e.pass["bob"])} {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret is in the log:\n%s", logs)
		}
	}
	data, err := os.ReadFile(e.creds.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range e.pass {
		if strings.Contains(string(data), p) || strings.Contains(string(data), normalize(p)) {
			t.Errorf("a passphrase is in the clear in %s", e.creds.Path())
		}
	}
	if fi, _ := os.Stat(e.creds.Path()); fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", fi.Mode().Perm())
	}
}

// No code of the server may start a process on the host: it reaches the
// class only through its Backend.
func TestNoCommandOnTheHost(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			switch strings.Trim(imp.Path.Value, `"`) {
			case "os/exec", "syscall", "golang.org/x/sys/unix", "plugin", "unsafe":
				t.Errorf("%s imports %s: the server never runs anything on its host", f, imp.Path.Value)
			}
		}
	}
}

// What a guest says is hostile: control characters go, sizes are bounded,
// pages never hold it as markup.
func TestHostileGuestData(t *testing.T) {
	e := newEnv(t, nil)
	evil := "<script>alert(1)</script>\x1b]0;pwned\x07\x1b[2J\u202e"
	e.f.nodes["alice"] = []Node{{Name: "web1" + evil, State: "running\r\nSet-Cookie: x", Addresses: []string{strings.Repeat("9", 10000)}}}
	e.f.checks["alice"] = CheckResult{Checks: []Check{{Node: "web1", Name: "index " + evil, Why: strings.Repeat("A", 1<<20) + evil, Fix: "echo \x1b[31mred"}}}
	for i := 0; i < 2000; i++ {
		e.f.checks["alice"] = CheckResult{Checks: append(e.f.checks["alice"].Checks, Check{Node: "n", Name: "c"})}
	}
	alice := e.login("alice")
	_, state := alice.get("/s/alice/state")
	_, rec := alice.post("/s/alice/check", nil)
	teacher := e.login(Teacher)
	_, grid := teacher.get("/teacher/grid")
	for what, body := range map[string]string{"state": state, "check": rec, "grid": grid} {
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		walk(v, func(s string) {
			for _, r := range s {
				if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || r == 0x9b || r == '\u202e' {
					t.Errorf("%s holds control character %U in %.60q", what, r, s)
					return
				}
			}
			if len(s) > maxText+10 {
				t.Errorf("%s holds a string of %d bytes", what, len(s))
			}
		})
		if len(body) > 1<<20 {
			t.Errorf("%s is %d bytes", what, len(body))
		}
	}
	var r CheckRecord
	json.Unmarshal([]byte(rec), &r)
	if len(r.Result.Checks) > maxChecks {
		t.Errorf("%d checks kept", len(r.Result.Checks))
	}
	// The page itself is the template's; a student's name is escaped in it.
	if code, page := alice.do("GET", "/s/alice/", nil, nil); code != 200 || strings.Contains(page, "<script>alert") {
		t.Errorf("student page: %d, holds markup from a guest", code)
	}
}

func walk(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case []any:
		for _, y := range x {
			walk(y, f)
		}
	case map[string]any:
		for _, y := range x {
			walk(y, f)
		}
	}
}

// A student whose copy hangs waits for their own calls only: bob is
// answered at once, alice within the timeout with a sentence, and her
// hanging calls never exceed her share.
func TestSlowCopyStallsNoOneElse(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CallTimeout = 1500 * time.Millisecond; c.PerStudent = 2 })
	e.f.block["alice"] = true
	alice, bob := e.login("alice"), e.login("bob")
	var wg sync.WaitGroup
	answers := make(chan string, 8)
	start := time.Now()
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, body := alice.get("/s/alice/state")
			answers <- body
		}()
	}
	time.Sleep(200 * time.Millisecond)
	t0 := time.Now()
	code, body := bob.get("/s/bob/state")
	if d := time.Since(t0); code != 200 || d > time.Second || !strings.Contains(body, "web1") {
		t.Errorf("bob waited %v for %d %s while alice's copy hangs", d, code, body)
	}
	wg.Wait()
	close(answers)
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("alice's requests took %v", d)
	}
	for a := range answers {
		var st StudentState
		json.Unmarshal([]byte(a), &st)
		if st.Down == "" {
			t.Errorf("alice's page says nothing of her hanging copy: %s", a)
		}
	}
	if p := e.f.peak["alice"]; p > 2 {
		t.Errorf("%d calls of alice's copy at once, want at most 2", p)
	}
}

// A call refused because the student's own calls fill their share says
// nothing of the copy: the teacher's cell does not turn red for it (under
// load a page's state waited out a running call and the grid showed a
// passing copy as down).
func TestBusyIsNotDown(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PerStudent = 1 })
	e.f.delay["alice"] = 4 * time.Second
	alice, teacher := e.login("alice"), e.login(Teacher)
	first := make(chan int, 1)
	go func() {
		code, _ := alice.get("/s/alice/state")
		first <- code
	}()
	time.Sleep(200 * time.Millisecond)
	_, body := alice.get("/s/alice/state")
	var st StudentState
	json.Unmarshal([]byte(body), &st)
	_, g := teacher.get("/teacher/grid")
	var rows []Row
	json.Unmarshal([]byte(g), &rows)
	if st.Down == "" || len(rows) == 0 || rows[0].Down != "" {
		t.Errorf("a busy copy: alice's page %s, the teacher's grid %s", body, g)
	}
	if code := <-first; code != 200 {
		t.Errorf("the call that held the share: %d", code)
	}
}

// One copy down: a sentence on that student's page only, with no detail
// of the hosts; the teacher sees the detail.
func TestCopyDownShowsASentence(t *testing.T) {
	e := newEnv(t, nil)
	e.f.nodesErr["alice"] = errors.New("dial tcp hv2.internal:22: connection refused")
	alice, bob, teacher := e.login("alice"), e.login("bob"), e.login(Teacher)
	_, a := alice.get("/s/alice/state")
	var st StudentState
	json.Unmarshal([]byte(a), &st)
	if st.Down == "" || strings.Contains(st.Down, "hv2") || len(st.Nodes) > 0 {
		t.Errorf("alice's state: %s", a)
	}
	_, b := bob.get("/s/bob/state")
	st = StudentState{}
	json.Unmarshal([]byte(b), &st)
	if st.Down != "" || len(st.Nodes) != 4 {
		t.Errorf("bob's state: %s", b)
	}
	_, g := teacher.get("/teacher/grid")
	var rows []Row
	json.Unmarshal([]byte(g), &rows)
	if len(rows) != 2 || !strings.Contains(rows[0].Down, "connection refused") || rows[1].Down != "" {
		t.Errorf("teacher's grid: %s", g)
	}
	// A missing copy says so.
	e.f.nodesErr["alice"] = ErrNoCopy
	_, a = alice.get("/s/alice/state")
	if !strings.Contains(a, "not up") {
		t.Errorf("missing copy: %s", a)
	}
}

// One student has at most Terminals terminals open.
func TestTerminalsPerStudentBounded(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Terminals = 2 })
	alice := e.login("alice")
	for i := 0; i < 2; i++ {
		readUntil(t, alice.term("/s/alice/term/web1"), "root@web1")
	}
	if code, err := alice.try("/s/alice/console/web2", e.ts.URL); err == nil || code != http.StatusTooManyRequests {
		t.Errorf("a third terminal: %d %v, want 429", code, err)
	}
	e.login("bob").term("/s/bob/term/web1") // bob's terminal opens while alice has hers
}

// A passphrase rotated by another process (class credentials) ends the old
// one in the running server at once.
func TestRotationByAnotherProcess(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.login("alice")
	other, err := LoadCredentials(e.s.cfg.Paths, "c1")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a new modification time
	slip, err := other.Rotate("alice")
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := alice.get("/s/alice/state"); code != http.StatusUnauthorized {
		t.Errorf("the session of the old passphrase: %d, want 401", code)
	}
	if resp := e.loginAs("alice", e.pass["alice"], e.ts.URL); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old passphrase: %s", resp.Status)
	}
	if resp := e.loginAs("alice", slip.Passphrase, e.ts.URL); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the new passphrase: %s", resp.Status)
	}
}

// A revoke reaches the student's other doors (the SSH door's connections)
// through OnRevoke, for that student only.
func TestRevokeEndsOtherDoors(t *testing.T) {
	var ended []string
	e := newEnv(t, func(c *Config) {
		c.OnRevoke = func(student string) int { ended = append(ended, student); return 2 }
	})
	teacher := e.login(Teacher)
	code, body := teacher.post("/teacher/revoke", map[string]string{"student": "alice"})
	if code != 200 || !strings.Contains(body, `"revoked":2`) {
		t.Errorf("revoke: %d %s, want the door's 2 connections counted", code, body)
	}
	if len(ended) != 1 || ended[0] != "alice" {
		t.Errorf("OnRevoke called for %v, want alice once", ended)
	}
}
