package serve

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// The terminal protocol over one websocket: binary messages carry the
// terminal's bytes both ways; the browser sends a text message
// {"cols":N,"rows":M} when its window changes size; the server sends a text
// message {"error":"sentence"} when it cannot open or loses the shell.

func (s *Server) terminal(w http.ResponseWriter, r *http.Request, sess *session, st *student) {
	s.bridge(w, r, sess, st, false)
}

func (s *Server) console(w http.ResponseWriter, r *http.Request, sess *session, st *student) {
	s.bridge(w, r, sess, st, true)
}

// clampSize bounds a terminal's size from the browser.
func clampSize(v string, def, lo, hi int) int {
	n, err := strconv.Atoi(v)
	if err != nil {
		return def
	}
	return min(max(n, lo), hi)
}

type resizer interface{ Resize(cols, rows int) error }

func (s *Server) bridge(w http.ResponseWriter, r *http.Request, sess *session, st *student, console bool) {
	node, ok := s.admit(w, r, st)
	if !ok {
		return
	}
	defer func() {
		st.mu.Lock()
		st.terms--
		st.mu.Unlock()
	}()

	c, err := websocket.Accept(w, r, nil) // also refuses a foreign Origin
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 10)

	// The terminal lives as long as the page's websocket, the session (a
	// revoke ends it) and the server.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(sess.ctx, cancel)
	defer stop()

	what := "terminal"
	if console {
		what = "console"
	}
	s.cfg.Logf("class %s: %s opened %s of %s/%s", s.cfg.Class, sess.user, what, st.name, node)
	if !sess.teacher {
		s.touch(st, true)
	}

	sh, err := s.open(ctx, st, node, console, Terminal{
		Term: "xterm-256color",
		Cols: clampSize(r.URL.Query().Get("cols"), 80, 10, 500),
		Rows: clampSize(r.URL.Query().Get("rows"), 24, 4, 300),
	})
	if err != nil {
		sendError(ctx, c, sentence(err))
		c.Close(websocket.StatusNormalClosure, "")
		return
	}
	defer sh.Close()
	go func() { // close the shell when the terminal ends, to end its reader
		<-ctx.Done()
		sh.Close()
	}()

	// guest -> browser
	go func() {
		defer cancel()
		guestToBrowser(ctx, c, sh, node)
	}()

	// browser -> guest
	s.browserToGuest(ctx, c, sh, sess, st)
}

// admit lets a terminal open: from this server's own pages, on a node of
// the student's copy, within the student's number of terminals (one is
// taken: the caller gives it back).
func (s *Server) admit(w http.ResponseWriter, r *http.Request, st *student) (node string, ok bool) {
	// A page of another site may open a websocket with the victim's
	// cookies: only this server's own pages may.
	if !s.originOK(r) {
		httpError(w, http.StatusForbidden, "Terminals open only from this server's pages.")
		return "", false
	}
	node = r.PathValue("node")
	nodes, err := call(r.Context(), s, st, s.cfg.CallTimeout, func(ctx context.Context) ([]Node, error) { return s.backend.Nodes(ctx, st.name) })
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, sentence(err))
		return "", false
	}
	found := false
	for _, n := range cleanNodes(nodes) {
		found = found || (n.Name == node && node != "")
	}
	if !found {
		httpError(w, http.StatusNotFound, "No such node in this copy.")
		return "", false
	}
	st.mu.Lock()
	if st.terms >= s.cfg.Terminals {
		st.mu.Unlock()
		httpError(w, http.StatusTooManyRequests, "Too many terminals open: close one first.")
		return "", false
	}
	st.terms++
	st.mu.Unlock()
	return node, true
}

// guestToBrowser copies the shell's output to the page until either ends;
// the shell's end is said on the page.
func guestToBrowser(ctx context.Context, c *websocket.Conn, sh io.ReadWriteCloser, node string) {
	buf := make([]byte, 32<<10)
	for {
		n, err := sh.Read(buf)
		if n > 0 {
			wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
			werr := c.Write(wctx, websocket.MessageBinary, buf[:n])
			wcancel()
			if werr != nil {
				return
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				sendError(ctx, c, "The connection to "+node+" ended.")
				c.Close(websocket.StatusNormalClosure, "")
			}
			return
		}
	}
}

// browserToGuest copies the page's keystrokes to the shell (a student's
// keeps the copy awake) and applies its resizes, until either ends.
func (s *Server) browserToGuest(ctx context.Context, c *websocket.Conn, sh io.ReadWriteCloser, sess *session, st *student) {
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageBinary {
			if _, err := sh.Write(data); err != nil {
				return
			}
			if !sess.teacher {
				s.touch(st, false)
			}
			continue
		}
		var msg struct{ Cols, Rows int }
		if json.Unmarshal(data, &msg) == nil && msg.Cols > 0 && msg.Rows > 0 {
			if rz, ok := sh.(resizer); ok {
				rz.Resize(min(max(msg.Cols, 10), 500), min(max(msg.Rows, 4), 300))
			}
		}
	}
}

// open opens the shell or console within CallTimeout (the shell then lives
// on ctx), one of the student's Backend calls.
func (s *Server) open(ctx context.Context, st *student, node string, console bool, t Terminal) (io.ReadWriteCloser, error) {
	select {
	case st.calls <- struct{}{}:
	case <-time.After(2 * time.Second):
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	octx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(s.cfg.CallTimeout, cancel)
	type answer struct {
		rw  io.ReadWriteCloser
		err error
	}
	done := make(chan answer, 1)
	go func() {
		defer func() { <-st.calls }()
		var a answer
		if console {
			a.rw, a.err = s.backend.Console(octx, st.name, node)
		} else {
			var sh Shell
			sh, a.err = s.backend.Shell(octx, st.name, node, t)
			if sh != nil {
				a.rw = sh
			}
		}
		done <- a
	}()
	select {
	case a := <-done:
		if !timer.Stop() {
			if a.rw != nil {
				a.rw.Close()
			}
			return nil, errTimeout
		}
		if a.err == nil && a.rw == nil {
			a.err = errors.New("the backend gave no shell")
		}
		// From here the shell lives as long as ctx (octx ends with it).
		return a.rw, a.err
	case <-octx.Done():
		go func() { // a late shell is closed
			if a := <-done; a.rw != nil {
				a.rw.Close()
			}
		}()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errTimeout
	}
}

func sendError(ctx context.Context, c *websocket.Conn, sentence string) {
	data, _ := json.Marshal(map[string]string{"error": sentence})
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c.Write(wctx, websocket.MessageText, data)
}
