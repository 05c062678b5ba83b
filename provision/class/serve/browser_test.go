package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/class/browser"
)

// serveTLS runs e's server for real (HTTPS, self-signed) and returns its
// address.
func serveTLS(t *testing.T, e *env) string {
	t.Helper()
	ln, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "https://" + ln.Addr().String()
}

func openBrowser(t *testing.T, ctx context.Context, o browser.Options) *browser.Session {
	t.Helper()
	o.AcceptInsecureCerts = true
	b, err := browser.Open(ctx, t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func browserLogin(t *testing.T, b *browser.Session, base, name, pass string) {
	t.Helper()
	must(t, b.Go(base+"/login"))
	must(t, b.Type("#name", name))
	must(t, b.Type("#passphrase", pass+"\uE007"))
}

// The whole class in real headless Chromium over HTTPS: alice logs in,
// runs hostname in web1's terminal, checks (a FAIL with its fix), the
// fault is fixed, checks again; the teacher's page, open all along, turns
// alice's row red then green without a reload; the teacher resets alice's
// copy and bob's is untouched.
func TestBrowserClass(t *testing.T) {
	if why := browser.Missing(); why != "" {
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	e := newEnv(t, func(c *Config) { c.PlainHTTP = false; c.Now = time.Now })
	e.f.checks["alice"] = CheckResult{Checks: []Check{
		{Node: "web1", Name: "httpd running", Pass: true},
		{Node: "web1", Name: "address eth1", Pass: false, Why: "eth1 has no address 192.168.2.100/24: the director cannot reach web1",
			Fix: "nmcli connection modify eth1 ipv4.method manual ipv4.addresses 192.168.2.100/24; nmcli connection up eth1"},
		{Node: "lvs1", Name: "ip_forward", Pass: true},
	}}
	base := serveTLS(t, e)

	teacher := openBrowser(t, ctx, browser.Options{Width: 1600, Height: 900})
	browserLogin(t, teacher, base, Teacher, e.pass[Teacher])
	_, err := teacher.Wait(30*time.Second, `return document.querySelector('#grid tr[data-student="alice"]') && document.querySelector('#live.on') ? 1 : 0`)
	if err != nil {
		u, _ := teacher.URL()
		page, _ := teacher.Exec(`return document.documentElement.outerHTML`)
		t.Fatalf("%v\n%s\n%.3000s", err, u, page)
	}
	_, err = teacher.Exec(`window.notReloaded = "yes"; return 1`)
	must(t, err)

	alice := openBrowser(t, ctx, browser.Options{Width: 1400, Height: 900})
	browserLogin(t, alice, base, "alice", e.pass["alice"])
	_, err = alice.Wait(30*time.Second, `return document.querySelector('#nodes .node[data-node="web1"] .open-term') ? 1 : 0`)
	must(t, err)
	must(t, alice.Click(`#nodes .node[data-node="web1"] .open-term`))
	_, err = alice.Wait(30*time.Second, `return document.querySelector('.term[data-key="term:web1"][data-open="1"]') ? 1 : 0`)
	must(t, err)
	must(t, alice.Type(`.term[data-key="term:web1"] .xterm-helper-textarea`, "hostname\uE007"))
	raw, err := alice.Wait(30*time.Second, `
const rows = Array.from(document.querySelectorAll('.term[data-key="term:web1"] .xterm-rows > div')).map(d => d.textContent.trim());
return rows.includes("web1") && rows.some(r => r.endsWith("# hostname")) ? rows.filter(r => r) : null`)
	if err != nil {
		t.Fatalf("web1's terminal: %v", err)
	}
	t.Logf("web1's terminal shows %s", raw)

	// A mistake: check names it with its fix.
	must(t, alice.Click("#check"))
	raw, err = alice.Wait(40*time.Second, `const f = document.querySelector('.fail-item[data-check="web1: address eth1"]'); return f ? f.innerText : null`)
	must(t, err)
	var failText string
	json.Unmarshal(raw, &failText)
	if !strings.Contains(failText, "FAIL web1: address eth1") || !strings.Contains(failText, "the director cannot reach web1") ||
		!strings.Contains(failText, "nmcli connection modify eth1") {
		t.Errorf("the FAIL alice sees: %q", failText)
	}
	if err := alice.Screenshot("/tmp/serve-student.png"); err != nil {
		t.Error(err)
	}
	sum, _ := alice.Text("#summary")
	if sum != "2 of 3 checks pass" {
		t.Errorf("summary %q", sum)
	}
	cellColour := `const td = document.querySelector('#grid tr[data-student="alice"] td.progress'); return td && td.querySelector('.n').textContent === arguments[0] ? getComputedStyle(td).backgroundColor : null`
	raw, err = teacher.Wait(15*time.Second, cellColour, "2/3")
	must(t, err)
	var colour string
	json.Unmarshal(raw, &colour)
	if !browser.Red(colour) {
		t.Errorf("alice's cell after the failed check: %s, want red", colour)
	}
	raw, _ = teacher.Exec(`return document.querySelector('#grid tr[data-student="alice"] .c.fail').title`)
	if !strings.Contains(string(raw), "nmcli connection modify") {
		t.Errorf("the failed cell's title: %s", raw)
	}

	// The fix; check again.
	e.f.mu.Lock()
	e.f.checks["alice"].Checks[1].Pass = true
	e.f.mu.Unlock()
	must(t, alice.Click("#check"))
	_, err = alice.Wait(40*time.Second, `const s = document.querySelector('#summary'); return s && s.textContent.startsWith("3 of 3") && !document.querySelector('.fail-item') ? 1 : 0`)
	must(t, err)
	// The history is fetched after the result is shown: wait for it.
	if _, err := alice.Wait(15*time.Second, `return document.querySelectorAll('#history li').length === 2 ? 1 : 0`); err != nil {
		raw, _ = alice.Exec(`return document.querySelector('#history').innerText`)
		t.Errorf("alice's history: %s, want 2 checks (%v)", raw, err)
	}
	raw, err = teacher.Wait(15*time.Second, cellColour, "3/3")
	must(t, err)
	json.Unmarshal(raw, &colour)
	if !browser.Green(colour) {
		t.Errorf("alice's cell after the passing check: %s, want green", colour)
	}
	if raw, _ := teacher.Exec(`return window.notReloaded`); string(raw) != `"yes"` {
		t.Errorf("the teacher's page was reloaded")
	}

	// The teacher resets alice's copy to bare.
	must(t, teacher.Click(`#grid tr[data-student="alice"] select.reset option[value=""]`))
	must(t, teacher.AcceptAlert())
	select {
	case got := <-e.f.opDone:
		if got != "Reset alice " {
			t.Errorf("the teacher's reset called %q", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the teacher's reset never reached alice's copy")
	}
	if calls := e.f.called("Reset bob"); len(calls) > 0 {
		t.Errorf("bob's copy was reset: %v", calls)
	}
	if calls := e.f.called("Reset"); len(calls) != 1 {
		t.Errorf("resets: %v", calls)
	}
}

// Thirty students at 1920x1080: the teacher's grid fits the screen.
// The screenshot is left in /tmp/serve-teacher.png to look at.
func TestBrowserTeacherThirty(t *testing.T) {
	if why := browser.Missing(); why != "" {
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	var names []string
	for i := 0; i < 30; i++ {
		names = append(names, fmt.Sprintf("student%02d", i+1))
	}
	names[0], names[1], names[2] = "alice", "bob", "a-rather-long-student-name"
	e := newEnv(t, func(c *Config) { c.PlainHTTP = false; c.Now = time.Now }, names...)
	nodes := map[string]int{"client": 6, "lvs1": 21, "web1": 12, "web2": 12} // 51, as tedu-nat
	order := []string{"client", "lvs1", "web1", "web2"}
	for i, n := range names {
		var checks []Check
		for _, node := range order {
			for j := 0; j < nodes[node]; j++ {
				pass := (i*7+j*3+len(node))%(i%5+2) != 0 || i%6 == 0
				c := Check{Node: node, Name: fmt.Sprintf("check %d of %s", j+1, node), Pass: pass}
				if !pass {
					c.Why, c.Fix = "the guest says <b>no</b>\x1b[31m", "ipvsadm -a -t 192.168.4.5:80 -r 192.168.2.100 -m -w 1"
				}
				checks = append(checks, c)
			}
		}
		e.f.checks[n] = CheckResult{Checks: checks}
	}
	e.f.nodesErr["student07"] = fmt.Errorf("dial hv1: connection refused")
	base := serveTLS(t, e)
	for i, n := range names {
		if i%9 == 4 {
			continue // never checked
		}
		e.s.newSession(n, e.creds.Generation(n)) // logged in
		st := e.s.student(n)
		res, _ := e.f.Check(ctx, n)
		rec := CheckRecord{Time: time.Now().Add(-time.Duration(i) * time.Minute).UTC(), Result: cleanResult(res)}
		for _, c := range rec.Result.Checks {
			rec.Total++
			if c.Pass {
				rec.Passed++
			}
		}
		st.mu.Lock()
		st.history = append(st.history, rec)
		st.activity = time.Now().Add(-time.Duration(i*3) * time.Minute)
		st.mu.Unlock()
	}
	e.s.copyDown(e.s.student("student07"), fmt.Errorf("dial hv1: connection refused"))
	b := openBrowser(t, ctx, browser.Options{Width: 1920, Height: 1080})
	browserLogin(t, b, base, Teacher, e.pass[Teacher])
	_, err := b.Wait(30*time.Second, `return document.querySelectorAll('#grid tbody tr').length === 30 ? 1 : 0`)
	must(t, err)
	raw, err := b.Exec(`const g = document.querySelector('#grid').getBoundingClientRect();
return {w: Math.ceil(g.right), h: Math.ceil(g.bottom), sw: document.documentElement.scrollWidth, sh: document.documentElement.scrollHeight, iw: innerWidth, ih: innerHeight}`)
	must(t, err)
	var box struct{ W, H, Sw, Sh, Iw, Ih int }
	json.Unmarshal(raw, &box)
	t.Logf("grid %dx%d in a %dx%d window (page %dx%d)", box.W, box.H, box.Iw, box.Ih, box.Sw, box.Sh)
	if box.Sw > box.Iw || box.Sh > box.Ih {
		t.Errorf("the grid of 30 students does not fit one screen: page %dx%d, window %dx%d", box.Sw, box.Sh, box.Iw, box.Ih)
	}
	path := "/tmp/serve-teacher.png"
	if err := b.Screenshot(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() < 10000 {
		t.Errorf("screenshot %s: %v", path, err)
	}
}
