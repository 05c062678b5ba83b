package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// page data: everything dynamic comes as JSON later and is put in the page
// with textContent; these few values go through html/template.
type pageData struct {
	Class   string
	Student string
	User    string
	Teacher bool
	CSRF    string
	Stages  string // JSON list, read by the script
}

func (s *Server) render(w http.ResponseWriter, name string, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.pages.ExecuteTemplate(w, name, d); err != nil {
		s.cfg.Logf("class %s: page %s: %v", s.cfg.Class, name, err)
	}
}

func (s *Server) studentPage(w http.ResponseWriter, r *http.Request, sess *session, st *student) {
	s.render(w, "student.html", pageData{Class: s.cfg.Class, Student: st.name, User: sess.user, Teacher: sess.teacher, CSRF: sess.csrf})
}

func (s *Server) teacherPage(w http.ResponseWriter, r *http.Request, sess *session, _ *student) {
	stages, _ := json.Marshal(append([]string{}, s.cfg.Stages...))
	s.render(w, "teacher.html", pageData{Class: s.cfg.Class, User: sess.user, Teacher: true, CSRF: sess.csrf, Stages: string(stages)})
}

// StudentState is what a student's page shows.
type StudentState struct {
	Student string        `json:"student"`
	Nodes   []Node        `json:"nodes"`
	Down    string        `json:"down,omitempty"`
	History []CheckRecord `json:"history"`
	Keys    []string      `json:"keys"`
	Op      string        `json:"op,omitempty"`
}

func (s *Server) state(w http.ResponseWriter, r *http.Request, sess *session, st *student) {
	nodes, err := call(r.Context(), s, st, s.cfg.CallTimeout, func(ctx context.Context) ([]Node, error) { return s.backend.Nodes(ctx, st.name) })
	out := StudentState{Student: st.name, Nodes: cleanNodes(nodes), Keys: s.creds.KeyLines(st.name)}
	if err != nil {
		out.Nodes = nil
		out.Down = sentence(err)
		s.copyDown(st, err)
	} else {
		s.copyDown(st, nil)
	}
	st.mu.Lock()
	out.History = append([]CheckRecord{}, st.history...)
	out.Op = st.op
	st.mu.Unlock()
	if !sess.teacher {
		s.touch(st, false)
	}
	writeJSON(w, http.StatusOK, out)
}

// copyDown records for the teacher why st's copy did not answer. A call
// refused because the student's own calls fill their share (errBusy), or
// ended by the browser, says nothing of the copy.
func (s *Server) copyDown(st *student, err error) {
	if errors.Is(err, errBusy) || errors.Is(err, context.Canceled) {
		return
	}
	msg := ""
	if err != nil {
		msg = clean(err.Error(), maxText, false)
		if errors.Is(err, errTimeout) {
			msg = "did not answer within " + s.cfg.CallTimeout.String()
		}
	}
	st.mu.Lock()
	changed := st.down != msg
	st.down = msg
	st.mu.Unlock()
	if changed {
		s.hub.publish(st.name)
	}
}

func (s *Server) check(w http.ResponseWriter, r *http.Request, sess *session, st *student) {
	st.mu.Lock()
	if st.checking {
		st.mu.Unlock()
		httpError(w, http.StatusConflict, "A check of this copy is already running.")
		return
	}
	st.checking = true
	st.mu.Unlock()
	s.hub.publish(st.name)
	res, err := call(r.Context(), s, st, s.cfg.CheckTimeout, func(ctx context.Context) (CheckResult, error) { return s.backend.Check(ctx, st.name) })
	rec := CheckRecord{Time: s.cfg.Now().UTC()}
	if err != nil {
		rec.Result = CheckResult{Error: sentence(err)}
		s.copyDown(st, err)
	} else {
		rec.Result = cleanResult(res)
		for _, c := range rec.Result.Checks {
			rec.Total++
			if c.Pass {
				rec.Passed++
			}
		}
	}
	st.mu.Lock()
	st.checking = false
	st.history = append(st.history, rec)
	if len(st.history) > maxHistory {
		st.history = st.history[len(st.history)-maxHistory:]
	}
	st.mu.Unlock()
	s.cfg.Logf("class %s: %s checked %s: %d of %d pass", s.cfg.Class, sess.user, st.name, rec.Passed, rec.Total)
	if !sess.teacher {
		s.touch(st, true)
	} else {
		s.hub.publish(st.name)
	}
	s.saveHistory()
	writeJSON(w, http.StatusOK, rec)
}

func (s *Server) handout(w http.ResponseWriter, r *http.Request, sess *session, st *student) {
	page, err := call(r.Context(), s, st, s.cfg.CallTimeout, func(ctx context.Context) (string, error) { return s.backend.Handout(ctx, st.name) })
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, sentence(err))
		return
	}
	if len(page) > maxHandout {
		httpError(w, http.StatusServiceUnavailable, "The handout is too large to show.")
		return
	}
	// The handout is shown in a frame as an inert document: no script of
	// its own, no access to this origin.
	w.Header().Set("Content-Security-Policy", "sandbox allow-modals; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, page)
}

func (s *Server) registerKey(w http.ResponseWriter, r *http.Request, sess *session, st *student) {
	var in struct {
		Key string `json:"key"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		httpError(w, http.StatusBadRequest, "Paste one line of your .pub file.")
		return
	}
	if err := s.creds.RegisterKey(st.name, strings.TrimSpace(in.Key)); err != nil {
		httpError(w, http.StatusBadRequest, clean(err.Error(), maxText, false))
		return
	}
	s.cfg.Logf("class %s: %s registered an SSH key for %s", s.cfg.Class, sess.user, st.name)
	writeJSON(w, http.StatusOK, map[string]any{"keys": s.creds.KeyLines(st.name)})
}

// --- the teacher's grid -----------------------------------------------------------

// Row is one student in the teacher's grid.
type Row struct {
	Student   string    `json:"student"`
	Activity  time.Time `json:"activity,omitzero"`
	CheckedAt time.Time `json:"checked,omitzero"`
	Passed    int       `json:"passed"`
	Total     int       `json:"total"`
	Checks    []Check   `json:"checks"`
	Error     string    `json:"error,omitempty"`
	Down      string    `json:"down,omitempty"`
	Checking  bool      `json:"checking,omitempty"`
	Op        string    `json:"op,omitempty"`
	OpError   string    `json:"opError,omitempty"`
	Sessions  int       `json:"sessions"`
	Terminals int       `json:"terminals"`
}

func (s *Server) row(st *student) Row {
	st.mu.Lock()
	r := Row{Student: st.name, Activity: st.activity, Checking: st.checking, Op: st.op, OpError: st.opError, Down: st.down, Terminals: st.terms}
	if n := len(st.history); n > 0 {
		last := st.history[n-1]
		r.CheckedAt, r.Passed, r.Total, r.Checks, r.Error = last.Time, last.Passed, last.Total, last.Result.Checks, last.Result.Error
	}
	st.mu.Unlock()
	if r.Checks == nil {
		r.Checks = []Check{}
	}
	r.Sessions = s.sessionsOf(st.name)
	return r
}

func (s *Server) grid(w http.ResponseWriter, r *http.Request, _ *session, _ *student) {
	var rows []Row
	for _, st := range s.allStudents() {
		rows = append(rows, s.row(st))
	}
	writeJSON(w, http.StatusOK, rows)
}

// studentForm is the student a teacher's action is about.
func (s *Server) studentIn(w http.ResponseWriter, r *http.Request) (*student, string, bool) {
	var in struct {
		Student string `json:"student"`
		Stage   string `json:"stage"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		httpError(w, http.StatusBadRequest, "Not a request of the teacher's page.")
		return nil, "", false
	}
	st := s.student(in.Student)
	if st == nil {
		httpError(w, http.StatusNotFound, "No such student in this class.")
		return nil, "", false
	}
	if in.Stage != "" {
		known := false
		for _, sg := range s.cfg.Stages {
			known = known || sg == in.Stage
		}
		if !known {
			httpError(w, http.StatusBadRequest, "No such stage in this exercise.")
			return nil, "", false
		}
	}
	return st, in.Stage, true
}

func (s *Server) reset(w http.ResponseWriter, r *http.Request, _ *session, _ *student) {
	st, stage, ok := s.studentIn(w, r)
	if !ok {
		return
	}
	what := "resetting to bare"
	if stage != "" {
		what = "resetting to stage " + stage
	}
	s.operate(w, st, what, func(ctx context.Context) error { return s.backend.Reset(ctx, st.name, stage) })
}

func (s *Server) up(w http.ResponseWriter, r *http.Request, _ *session, _ *student) {
	st, _, ok := s.studentIn(w, r)
	if !ok {
		return
	}
	s.operate(w, st, "bringing up", func(ctx context.Context) error { return s.backend.Up(ctx, st.name) })
}

// operate runs a long teacher's action on st's copy in the background, one
// at a time per copy; the grid shows it under way and how it ended.
func (s *Server) operate(w http.ResponseWriter, st *student, what string, f func(context.Context) error) {
	st.mu.Lock()
	if st.op != "" {
		busy := st.op
		st.mu.Unlock()
		httpError(w, http.StatusConflict, st.name+"'s copy is already "+busy+".")
		return
	}
	st.op, st.opError = what, ""
	st.mu.Unlock()
	s.cfg.Logf("class %s: teacher: %s %s", s.cfg.Class, what, st.name)
	s.hub.publish(st.name)
	go func() {
		ctx, cancel := context.WithTimeout(s.base, s.cfg.OpTimeout)
		defer cancel()
		err := f(ctx)
		st.mu.Lock()
		st.op = ""
		if err != nil {
			st.opError = clean(what+": "+err.Error(), maxText, false)
		}
		st.mu.Unlock()
		if err != nil {
			s.cfg.Logf("class %s: %s %s: %v", s.cfg.Class, what, st.name, clean(err.Error(), maxText, false))
		} else {
			s.cfg.Logf("class %s: %s %s: done", s.cfg.Class, what, st.name)
		}
		s.hub.publish(st.name)
	}()
	writeJSON(w, http.StatusAccepted, map[string]string{"op": what})
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, _ *session, _ *student) {
	st, _, ok := s.studentIn(w, r)
	if !ok {
		return
	}
	n := s.Revoke(st.name)
	if s.cfg.OnRevoke != nil {
		n += s.cfg.OnRevoke(st.name)
	}
	s.cfg.Logf("class %s: teacher revoked %d sessions of %s", s.cfg.Class, n, st.name)
	s.hub.publish(st.name)
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
}

// --- live updates (server-sent events) ------------------------------------------------

// hub tells the teacher's pages which students changed. A subscriber holds
// the set of changed names and one wake-up: a slow page coalesces changes
// and is sent the rows as they are when it reads, so publishing never waits.
type hub struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	wake  chan struct{}
	mu    sync.Mutex
	dirty map[string]bool
}

func (h *hub) subscribe() *subscriber {
	sub := &subscriber{wake: make(chan struct{}, 1), dirty: map[string]bool{}}
	h.mu.Lock()
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	return sub
}

func (h *hub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	delete(h.subs, sub)
	h.mu.Unlock()
}

func (h *hub) publish(student string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		sub.mu.Lock()
		sub.dirty[student] = true
		sub.mu.Unlock()
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}

func (sub *subscriber) take() []string {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	var names []string
	for n := range sub.dirty {
		names = append(names, n)
	}
	clear(sub.dirty)
	sort.Strings(names)
	return names
}

func (s *Server) events(w http.ResponseWriter, r *http.Request, sess *session, _ *student) {
	fl, ok := w.(http.Flusher)
	if !ok {
		httpError(w, http.StatusInternalServerError, "No streaming here.")
		return
	}
	sub := s.hub.subscribe()
	defer s.hub.unsubscribe(sub)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	send := func(event string, v any) bool {
		data, _ := json.Marshal(v)
		rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	var rows []Row
	for _, st := range s.allStudents() {
		rows = append(rows, s.row(st))
	}
	if !send("grid", rows) {
		return
	}
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sess.ctx.Done():
			return
		case <-ping.C:
			if !send("ping", s.cfg.Now().UTC()) {
				return
			}
		case <-sub.wake:
			for _, name := range sub.take() {
				if st := s.student(name); st != nil && !send("row", s.row(st)) {
					return
				}
			}
		}
	}
}
