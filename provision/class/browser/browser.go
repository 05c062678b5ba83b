// Package browser reads a class report page the way a teacher sees it: in
// a real headless Chromium, driven by chromedriver over the W3C WebDriver
// HTTP protocol (plain JSON over net/http). Tests use it; nothing else.
package browser

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Where Debian's chromium and chromium-driver put them.
const (
	Chromium     = "/usr/bin/chromium"
	ChromeDriver = "/usr/bin/chromedriver"
)

// Missing says why no browser can run here ("" when both are installed).
func Missing() string {
	for _, p := range []string{Chromium, ChromeDriver} {
		if _, err := os.Stat(p); err != nil {
			return p + " is not installed (Debian: apt-get install chromium chromium-driver, or make deps)"
		}
	}
	return ""
}

// Cell is one check cell of the page, as the browser renders it.
type Cell struct {
	Check string `json:"check"`
	Class string `json:"class"`
	Text  string `json:"text"`
	Title string `json:"title"`
	// Background is the computed background colour ("rgb(30, 142, 62)").
	Background string `json:"background"`
}

// Row is one student's row.
type Row struct {
	Student string `json:"student"`
	Cells   []Cell `json:"cells"`
}

// readScript collects the report's rows with each cell's computed style.
const readScript = `
return Array.from(document.querySelectorAll("#report tr.student")).map(tr => ({
  student: tr.dataset.student,
  cells: Array.from(tr.querySelectorAll("td[data-check]")).map(td => ({
    check: td.dataset.check, class: td.className, text: td.innerText, title: td.title,
    background: getComputedStyle(td).backgroundColor,
  })),
}));`

// ReadReport opens the page at path in headless Chromium and returns its
// rows; dir is a scratch folder (the browser's fresh profile).
func ReadReport(ctx context.Context, path, dir string) ([]Row, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	d, err := start(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	if _, err := d.call("POST", "/url", map[string]string{"url": "file://" + abs}); err != nil {
		return nil, err
	}
	raw, err := d.call("POST", "/execute/sync", map[string]any{"script": readScript, "args": []any{}})
	if err != nil {
		return nil, err
	}
	var rows []Row
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("the page's rows: %w (%s)", err, raw)
	}
	return rows, nil
}

// driver is a running chromedriver with one session.
type driver struct {
	cmd     *exec.Cmd
	base    string
	session string
	ctx     context.Context
	log     bytes.Buffer
}

func start(ctx context.Context, dir string) (*driver, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	d := &driver{ctx: ctx, base: "http://127.0.0.1:" + strconv.Itoa(port)}
	d.cmd = exec.Command(ChromeDriver, "--port="+strconv.Itoa(port))
	d.cmd.Stdout, d.cmd.Stderr = &d.log, &d.log
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	// Ready when /status says so.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var st struct{ Ready bool }
		if raw, err := d.do("GET", d.base+"/status", nil); err == nil && json.Unmarshal(raw, &st) == nil && st.Ready {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			d.stop()
			return nil, fmt.Errorf("chromedriver did not become ready: %s", d.log.String())
		}
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{"binary": Chromium, "args": []string{
			"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + filepath.Join(dir, "profile"),
		}},
	}}}
	raw, err := d.do("POST", d.base+"/session", caps)
	if err != nil {
		d.stop()
		return nil, fmt.Errorf("start a chromium session: %w", err)
	}
	var s struct {
		SessionID string `json:"sessionId"`
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.SessionID == "" {
		d.stop()
		return nil, fmt.Errorf("start a chromium session: %s", raw)
	}
	d.session = s.SessionID
	return d, nil
}

// call is a command of the session; it returns the reply's value.
func (d *driver) call(method, path string, body any) (json.RawMessage, error) {
	return d.do(method, d.base+"/session/"+d.session+path, body)
}

func (d *driver) do(method, url string, body any) (json.RawMessage, error) {
	var in io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		in = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(d.ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, in)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var reply struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &reply); err != nil {
		return nil, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, reply.Value)
	}
	return reply.Value, nil
}

// stop ends the session (the browser quits) and the driver we started.
func (d *driver) stop() {
	if d.session != "" {
		d.call("DELETE", "", nil)
	}
	if d.cmd.Process != nil {
		d.cmd.Process.Kill()
		d.cmd.Wait()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RGB reads a computed colour ("rgb(30, 142, 62)" or "rgba(...)").
func RGB(css string) (r, g, b int, err error) {
	inner := css
	for _, p := range []string{"rgba(", "rgb("} {
		inner = strings.TrimPrefix(inner, p)
	}
	parts := strings.Split(strings.TrimSuffix(inner, ")"), ",")
	if len(parts) < 3 || inner == css {
		return 0, 0, 0, errors.New("not an rgb() colour: " + css)
	}
	v := make([]int, 3)
	for i := range v {
		if v[i], err = strconv.Atoi(strings.TrimSpace(parts[i])); err != nil {
			return 0, 0, 0, fmt.Errorf("colour %s: %w", css, err)
		}
	}
	return v[0], v[1], v[2], nil
}

// Green and Red tell a cell's colour family: the channel that dominates.
func Green(css string) bool {
	r, g, b, err := RGB(css)
	return err == nil && g > r+40 && g > b+40
}

func Red(css string) bool {
	r, g, b, err := RGB(css)
	return err == nil && r > g+40 && r > b+40
}

// Options of an interactive Session.
type Options struct {
	// Width and Height are the window's size (1280x800).
	Width, Height int
	// AcceptInsecureCerts lets the browser talk to a self-signed server.
	AcceptInsecureCerts bool
}

// Session is a headless Chromium that a test drives like a person: it
// opens pages, types, clicks and reads what is shown.
type Session struct{ d *driver }

// Open starts a browser with a fresh profile in dir.
func Open(ctx context.Context, dir string, o Options) (*Session, error) {
	if o.Width == 0 {
		o.Width, o.Height = 1280, 800
	}
	d, err := start(ctx, dir)
	if err != nil {
		return nil, err
	}
	// The driver's first session has the report's defaults: end it and
	// start one with these options (the same fresh profile).
	d.call("DELETE", "", nil)
	d.session = ""
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":         "chrome",
		"acceptInsecureCerts": o.AcceptInsecureCerts,
		"goog:chromeOptions": map[string]any{"binary": Chromium, "args": []string{
			"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + filepath.Join(dir, "profile"),
			fmt.Sprintf("--window-size=%d,%d", o.Width, o.Height), "--hide-scrollbars",
		}},
	}}}
	raw, err := d.do("POST", d.base+"/session", caps)
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	if err == nil && (json.Unmarshal(raw, &sess) != nil || sess.SessionID == "") {
		err = fmt.Errorf("%s", raw)
	}
	if err != nil {
		d.stop()
		return nil, fmt.Errorf("start a chromium session: %w", err)
	}
	d.session = sess.SessionID
	return &Session{d: d}, nil
}

// Close quits the browser, even when the context it was opened with has
// ended (a browser left running would hold chromedriver's output open).
func (s *Session) Close() {
	s.d.ctx = context.WithoutCancel(s.d.ctx)
	s.d.stop()
}

// Go opens url.
func (s *Session) Go(url string) error {
	_, err := s.d.call("POST", "/url", map[string]string{"url": url})
	return err
}

// URL is the page's address.
func (s *Session) URL() (string, error) {
	raw, err := s.d.call("GET", "/url", nil)
	if err != nil {
		return "", err
	}
	var u string
	return u, json.Unmarshal(raw, &u)
}

// Exec runs script (a function body; arguments in "arguments") in the page
// and returns what it returns, as JSON.
func (s *Session) Exec(script string, args ...any) (json.RawMessage, error) {
	if args == nil {
		args = []any{}
	}
	return s.d.call("POST", "/execute/sync", map[string]any{"script": script, "args": args})
}

// Wait runs script until it returns something other than null, false or
// "" and returns that, or fails after timeout.
func (s *Session) Wait(timeout time.Duration, script string, args ...any) (json.RawMessage, error) {
	deadline := time.Now().Add(timeout)
	for {
		raw, err := s.Exec(script, args...)
		if err == nil {
			switch strings.TrimSpace(string(raw)) {
			case "null", "false", `""`, "0", "":
			default:
				return raw, nil
			}
		}
		if time.Now().After(deadline) || s.d.ctx.Err() != nil {
			if err == nil {
				err = errors.New("still " + string(raw))
			}
			return nil, fmt.Errorf("waited %v for %q: %w", timeout, script, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// element is the WebDriver id of the first element that matches css.
func (s *Session) element(css string) (string, error) {
	raw, err := s.d.call("POST", "/element", map[string]string{"using": "css selector", "value": css})
	if err != nil {
		return "", fmt.Errorf("no element %s: %w", css, err)
	}
	var ref map[string]string
	if err := json.Unmarshal(raw, &ref); err != nil {
		return "", err
	}
	for _, id := range ref {
		return id, nil
	}
	return "", errors.New("no element " + css)
}

// Click clicks the first element that matches css.
func (s *Session) Click(css string) error {
	id, err := s.element(css)
	if err != nil {
		return err
	}
	_, err = s.d.call("POST", "/element/"+id+"/click", map[string]any{})
	return err
}

// Type sends keys to the first element that matches css, as typed on a
// keyboard; Enter is "\uE007".
func (s *Session) Type(css, text string) error {
	id, err := s.element(css)
	if err != nil {
		return err
	}
	_, err = s.d.call("POST", "/element/"+id+"/value", map[string]any{"text": text})
	return err
}

// Text is the rendered text of the first element that matches css.
func (s *Session) Text(css string) (string, error) {
	id, err := s.element(css)
	if err != nil {
		return "", err
	}
	raw, err := s.d.call("GET", "/element/"+id+"/text", nil)
	if err != nil {
		return "", err
	}
	var t string
	return t, json.Unmarshal(raw, &t)
}

// AcceptAlert presses OK on the page's alert or confirm dialog.
func (s *Session) AcceptAlert() error {
	_, err := s.d.call("POST", "/alert/accept", map[string]any{})
	return err
}

// Screenshot saves what the window shows as a PNG file.
func (s *Session) Screenshot(path string) error {
	raw, err := s.d.call("GET", "/screenshot", nil)
	if err != nil {
		return err
	}
	var b64 string
	if err := json.Unmarshal(raw, &b64); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}
