package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/lvslab/lvslab/provision/paths"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(&s.b, format+"\n", args...)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a class server on loopback in plain HTTP over a fake class.
type env struct {
	t     *testing.T
	f     *fake
	s     *Server
	ts    *httptest.Server
	creds *Credentials
	pass  map[string]string
	logs  *syncBuffer
	clock *clock
}

func newEnv(t *testing.T, mod func(*Config), students ...string) *env {
	t.Helper()
	if len(students) == 0 {
		students = []string{"alice", "bob"}
	}
	e := &env{t: t, f: newFake(students...), pass: map[string]string{}, logs: &syncBuffer{},
		clock: &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}}
	root := paths.InHome(t.TempDir())
	creds, err := LoadCredentials(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	slips, err := creds.Issue(students, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slips {
		e.pass[s.Name] = s.Passphrase
	}
	e.creds = creds
	cfg := Config{Class: "c1", Paths: root, Credentials: creds, PlainHTTP: true, Logf: e.logs.logf, Now: e.clock.Now,
		Stages: []string{"nat", "dr"}}
	if mod != nil {
		mod(&cfg)
	}
	e.s, err = New(cfg, e.f)
	if err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(e.s)
	t.Cleanup(func() {
		e.s.cancelBase()
		e.ts.CloseClientConnections()
		e.ts.Close()
	})
	return e
}

// client is one browser's session.
type client struct {
	e      *env
	user   string
	cookie string
	csrf   string
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}

// loginAs posts the login form and returns the answer.
func (e *env) loginAs(name, pass, origin string) *http.Response {
	form := url.Values{"name": {name}, "passphrase": {pass}}
	req, _ := http.NewRequest("POST", e.ts.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

var csrfRe = regexp.MustCompile(`data-csrf="([^"]+)"`)

func (e *env) login(name string) *client {
	e.t.Helper()
	resp := e.loginAs(name, e.pass[name], e.ts.URL)
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login %s: %s", name, resp.Status)
	}
	c := &client{e: e, user: name}
	for _, k := range resp.Cookies() {
		if k.Name == cookieName {
			c.cookie = k.Value
		}
	}
	page := "/s/" + name + "/"
	if name == Teacher {
		page = "/teacher/"
	}
	code, body := c.get(page)
	m := csrfRe.FindStringSubmatch(body)
	if code != 200 || m == nil {
		e.t.Fatalf("%s's page: %d %s", name, code, body)
	}
	c.csrf = m[1]
	return c
}

func (c *client) do(method, path string, body io.Reader, hdr map[string]string) (int, string) {
	req, _ := http.NewRequest(method, c.e.ts.URL+path, body)
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func (c *client) get(path string) (int, string) {
	return c.do("GET", path, nil, map[string]string{"Accept": "application/json"})
}

// post sends a state-changing request as the page does: Origin and token.
func (c *client) post(path string, body any) (int, string) {
	return c.postAs(path, body, c.e.ts.URL, c.csrf)
}

func (c *client) postAs(path string, body any, origin, csrf string) (int, string) {
	data, _ := json.Marshal(body)
	hdr := map[string]string{"Content-Type": "application/json", "Accept": "application/json"}
	if origin != "" {
		hdr["Origin"] = origin
	}
	if csrf != "" {
		hdr["X-CSRF-Token"] = csrf
	}
	return c.do("POST", path, bytes.NewReader(data), hdr)
}

// term opens the websocket at path from this server's own page, failing
// the test otherwise; it closes with the test.
func (c *client) term(path string) *websocket.Conn {
	c.e.t.Helper()
	conn, _, err := c.ws(path, c.e.ts.URL)
	if err != nil {
		c.e.t.Fatal(err)
	}
	c.e.t.Cleanup(func() { conn.CloseNow() })
	return conn
}

// ws opens a terminal websocket as the page does (or with another Origin).
func (c *client) ws(path, origin string) (*websocket.Conn, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if c.cookie != "" {
		h.Set("Cookie", cookieName+"="+c.cookie)
	}
	if origin != "" {
		h.Set("Origin", origin)
	}
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.e.ts.URL, "http")+path, &websocket.DialOptions{HTTPHeader: h})
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	return conn, code, err
}

// try opens the websocket at path with origin, for a test that it is
// refused: one that opens is closed at once. It returns the status code and
// the error that refused it (nil when it opened).
func (c *client) try(path, origin string) (int, error) {
	conn, code, err := c.ws(path, origin)
	if err == nil {
		conn.CloseNow()
	}
	return code, err
}

// readUntil reads the terminal until its output holds want.
func readUntil(t *testing.T, conn *websocket.Conn, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("terminal: waiting for %q, got %q: %v", want, got.String(), err)
		}
		if typ == websocket.MessageBinary {
			got.Write(data)
		} else {
			got.WriteString("[" + string(data) + "]")
		}
	}
	return got.String()
}

func listen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }
