package serve

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lvslab/lvslab/provision/class/serve/assets"
	"github.com/lvslab/lvslab/provision/paths"
)

// Config is how the server runs. Zero values are the defaults.
type Config struct {
	// Class is the class's name (titles, file names).
	Class string
	// Paths are lvslab's folders: the class's credentials, certificate and
	// check history are kept beside its record (ClassDir).
	Paths paths.Root
	// Credentials are the class's logins; nil loads them from Paths.
	Credentials *Credentials

	// PlainHTTP serves without TLS (for a closed classroom LAN; cookies are
	// then not Secure). The default is HTTPS.
	PlainHTTP bool
	// TLSCert and TLSKey are PEM files; when empty a self-signed ECDSA
	// certificate is made and kept in Paths, naming Hosts, this machine and
	// loopback.
	TLSCert, TLSKey string
	Hosts           []string
	// PublicURL is the origin browsers use when it is not the Host they
	// send (a reverse proxy): "https://class.example:8443".
	PublicURL string

	// Stages are the stages a teacher may reset a copy to ("" = bare is
	// always offered).
	Stages []string

	// SessionTTL is how long a login lasts (12 h).
	SessionTTL time.Duration
	// NameFailures and AddrFailures are the failed logins allowed per
	// login name and per client address within FailureWindow (5, 20, 5 min).
	NameFailures, AddrFailures int
	FailureWindow              time.Duration

	// CallTimeout bounds Nodes, Handout and the opening of a shell or
	// console (15 s); CheckTimeout bounds a check (90 s); OpTimeout a reset
	// or up (30 min).
	CallTimeout, CheckTimeout, OpTimeout time.Duration
	// PerStudent is how many Backend calls of one student run at once (2);
	// Terminals how many terminals and consoles one student has open (8).
	PerStudent, Terminals int

	// OnRevoke ends a student's sessions elsewhere when the teacher revokes
	// theirs here (the SSH door's connections) and says how many it ended.
	OnRevoke func(student string) int

	// Logf logs one line (log.Printf). It is never given a secret.
	Logf func(format string, args ...any)
	// Now is the clock (time.Now); tests move it.
	Now func() time.Time
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defi := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	def(&c.SessionTTL, 12*time.Hour)
	def(&c.FailureWindow, 5*time.Minute)
	def(&c.CallTimeout, 15*time.Second)
	def(&c.CheckTimeout, 90*time.Second)
	def(&c.OpTimeout, 30*time.Minute)
	defi(&c.NameFailures, 5)
	defi(&c.AddrFailures, 20)
	defi(&c.PerStudent, 2)
	defi(&c.Terminals, 8)
	if c.Logf == nil {
		c.Logf = log.Printf
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Class == "" {
		c.Class = "class"
	}
}

// Server is the class server. Make it with New, run it with Serve.
type Server struct {
	cfg     Config
	backend Backend
	creds   *Credentials
	tls     *tls.Config
	cert    tls.Certificate
	mux     *http.ServeMux
	pages   *template.Template

	mu       sync.Mutex
	sessions map[string]*session
	students map[string]*student

	nameLimit, addrLimit *limiter
	// hashing bounds the argon2 computations at once (memory).
	hashing chan struct{}
	hub     hub

	histMu sync.Mutex

	// base ends every websocket and event stream at shutdown.
	base       context.Context
	cancelBase context.CancelFunc
}

// New makes a server for the class behind backend.
func New(cfg Config, backend Backend) (*Server, error) {
	cfg.defaults()
	if backend == nil {
		return nil, errors.New("class server: no backend")
	}
	if err := cfg.Paths.Check(); err != nil {
		return nil, fmt.Errorf("class server: %w", err)
	}
	s := &Server{
		cfg: cfg, backend: backend, creds: cfg.Credentials,
		sessions:  map[string]*session{},
		students:  map[string]*student{},
		nameLimit: newLimiter(cfg.NameFailures, cfg.FailureWindow),
		addrLimit: newLimiter(cfg.AddrFailures, cfg.FailureWindow),
		hashing:   make(chan struct{}, 2),
	}
	s.hub.subs = map[*subscriber]struct{}{}
	s.base, s.cancelBase = context.WithCancel(context.Background())
	if s.creds == nil {
		c, err := LoadCredentials(cfg.Paths, cfg.Class)
		if err != nil {
			return nil, err
		}
		s.creds = c
	}
	if s.creds.Generation(Teacher) == 0 {
		return nil, fmt.Errorf("class %s has no credentials yet in %s: issue them first (lvslab class credentials)", cfg.Class, s.creds.Path())
	}
	if !cfg.PlainHTTP {
		var err error
		if cfg.TLSCert != "" || cfg.TLSKey != "" {
			s.cert, err = tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		} else {
			s.cert, err = selfSigned(cfg.Paths, cfg.Class, cfg.Hosts, cfg.Now())
		}
		if err != nil {
			return nil, fmt.Errorf("class server certificate: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12}
	}
	pages, err := template.ParseFS(assets.Pages, "*.html")
	if err != nil {
		return nil, err
	}
	s.pages = pages
	for _, name := range backend.Students() {
		s.students[name] = s.newStudent(name)
	}
	s.loadHistory()
	s.routes()
	return s, nil
}

// Fingerprint is the SHA-256 fingerprint of the server's certificate ("" in
// plain HTTP), for the teacher to compare with what browsers show.
func (s *Server) Fingerprint() string {
	if s.tls == nil {
		return ""
	}
	return Fingerprint(s.cert)
}

// TLS says whether the server speaks HTTPS.
func (s *Server) TLS() bool { return s.tls != nil }

// Handler is the server's HTTP handler (Serve wraps it in TLS).
func (s *Server) Handler() http.Handler { return s }

// Serve answers on ln until ctx ends, then closes every terminal, event
// stream and connection and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ErrorLog:          log.New(logWriter{s.cfg.Logf}, "", 0),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		s.cancelBase()
		return err
	case <-ctx.Done():
	}
	s.cancelBase()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	<-done
	return err
}

type logWriter struct{ logf func(string, ...any) }

func (l logWriter) Write(p []byte) (int, error) {
	l.logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// ServeHTTP answers one request with the security headers every answer
// carries.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer a browser sends
	// "Origin: null" with a form, and the login form would be refused.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.home)
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.logout)
	m.Handle("GET /assets/", http.StripPrefix("/assets/", assetHandler()))

	m.HandleFunc("GET /s/{student}/{$}", s.forStudent(s.studentPage))
	m.HandleFunc("GET /s/{student}/state", s.forStudent(s.state))
	m.HandleFunc("POST /s/{student}/check", s.forStudent(s.mutating(s.check)))
	m.HandleFunc("GET /s/{student}/handout", s.forStudent(s.handout))
	m.HandleFunc("POST /s/{student}/key", s.forStudent(s.mutating(s.registerKey)))
	m.HandleFunc("GET /s/{student}/term/{node}", s.forStudent(s.terminal))
	m.HandleFunc("GET /s/{student}/console/{node}", s.forStudent(s.console))

	m.HandleFunc("GET /teacher/{$}", s.forTeacher(s.teacherPage))
	m.HandleFunc("GET /teacher/grid", s.forTeacher(s.grid))
	m.HandleFunc("GET /teacher/events", s.forTeacher(s.events))
	m.HandleFunc("POST /teacher/reset", s.forTeacher(s.mutating(s.reset)))
	m.HandleFunc("POST /teacher/up", s.forTeacher(s.mutating(s.up)))
	m.HandleFunc("POST /teacher/revoke", s.forTeacher(s.mutating(s.revoke)))
	s.mux = m
}

func assetHandler() http.Handler {
	fs := http.FileServerFS(assets.Static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=3600")
		fs.ServeHTTP(w, r)
	})
}

// --- sessions -------------------------------------------------------------

const cookieName = "lvslab_session"

type session struct {
	id      string
	user    string
	teacher bool
	csrf    string
	gen     int
	expires time.Time
	// ctx ends the session's terminals and event streams when it is
	// revoked, expires or the server stops.
	ctx    context.Context
	cancel context.CancelFunc
}

func randomID() string {
	b := make([]byte, 32) // 256 bits
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) newSession(user string, gen int) *session {
	ctx, cancel := context.WithCancel(s.base)
	sess := &session{
		id: randomID(), user: user, teacher: user == Teacher, csrf: randomID(), gen: gen,
		expires: s.cfg.Now().Add(s.cfg.SessionTTL), ctx: ctx, cancel: cancel,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	for id, old := range s.sessions { // forget expired ones
		if now.After(old.expires) {
			old.cancel()
			delete(s.sessions, id)
		}
	}
	s.sessions[sess.id] = sess
	return sess
}

// session is the request's valid session, or nil.
func (s *Server) session(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil || len(c.Value) != 43 {
		return nil
	}
	s.mu.Lock()
	sess := s.sessions[c.Value]
	if sess != nil && s.cfg.Now().After(sess.expires) {
		sess.cancel()
		delete(s.sessions, c.Value)
		sess = nil
	}
	s.mu.Unlock()
	if sess == nil || s.creds.Generation(sess.user) != sess.gen {
		return nil
	}
	return sess
}

// Revoke ends every session of user (a student or the teacher): their
// pages ask for a login again and their terminals close.
func (s *Server) Revoke(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, sess := range s.sessions {
		if sess.user == user {
			sess.cancel()
			delete(s.sessions, id)
			n++
		}
	}
	return n
}

func (s *Server) sessionsOf(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	now := s.cfg.Now()
	for _, sess := range s.sessions {
		if sess.user == user && !now.After(sess.expires) {
			n++
		}
	}
	return n
}

func (s *Server) setCookie(w http.ResponseWriter, sess *session) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: sess.id, Path: "/", HttpOnly: true, Secure: s.tls != nil,
		SameSite: http.SameSiteStrictMode, Expires: sess.expires,
	})
}

// --- guards -----------------------------------------------------------------

// origin is what a browser on this server sends as Origin.
func (s *Server) originOK(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil || s.tls != nil {
		scheme = "https"
	}
	if o == scheme+"://"+r.Host {
		return true
	}
	return s.cfg.PublicURL != "" && o == strings.TrimRight(s.cfg.PublicURL, "/")
}

// mutating guards a state-changing request against cross-site forgery: the
// Origin must be this server's and the session's token must come with it.
func (s *Server) mutating(h func(http.ResponseWriter, *http.Request, *session, *student)) func(http.ResponseWriter, *http.Request, *session, *student) {
	return func(w http.ResponseWriter, r *http.Request, sess *session, st *student) {
		tok := r.Header.Get("X-CSRF-Token")
		if !s.originOK(r) || subtle.ConstantTimeCompare([]byte(tok), []byte(sess.csrf)) != 1 {
			httpError(w, http.StatusForbidden, "This request did not come from this server's page; reload the page.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		h(w, r, sess, st)
	}
}

// loggedIn runs h for a logged-in session that admit lets in, with the
// student admit names (nil for the teacher's pages); admit answers the
// request it refuses.
func (s *Server) loggedIn(admit func(http.ResponseWriter, *http.Request, *session) (*student, bool), h func(http.ResponseWriter, *http.Request, *session, *student)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.session(r)
		if sess == nil {
			s.needLogin(w, r)
			return
		}
		if st, ok := admit(w, r, sess); ok {
			h(w, r, sess, st)
		}
	}
}

// forStudent admits the student named in the path (only themself) and the
// teacher.
func (s *Server) forStudent(h func(http.ResponseWriter, *http.Request, *session, *student)) http.HandlerFunc {
	return s.loggedIn(func(w http.ResponseWriter, r *http.Request, sess *session) (*student, bool) {
		name := r.PathValue("student")
		if !sess.teacher && subtle.ConstantTimeCompare([]byte(name), []byte(sess.user)) != 1 {
			httpError(w, http.StatusForbidden, "This is not your page.")
			return nil, false
		}
		st := s.student(name)
		if st == nil {
			httpError(w, http.StatusNotFound, "No such student in this class.")
			return nil, false
		}
		return st, true
	}, h)
}

// forTeacher admits the teacher only.
func (s *Server) forTeacher(h func(http.ResponseWriter, *http.Request, *session, *student)) http.HandlerFunc {
	return s.loggedIn(func(w http.ResponseWriter, r *http.Request, sess *session) (*student, bool) {
		if !sess.teacher {
			httpError(w, http.StatusForbidden, "This is the teacher's page.")
			return nil, false
		}
		return nil, true
	}, h)
}

func (s *Server) needLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.Header.Get("Upgrade") == "" && !strings.Contains(r.Header.Get("Accept"), "json") &&
		!strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	httpError(w, http.StatusUnauthorized, "Your session has ended: log in again.")
}

// httpError answers with a sentence as plain text (never HTML).
func httpError(w http.ResponseWriter, code int, sentence string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintln(w, sentence)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// --- login ------------------------------------------------------------------

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	sess := s.session(r)
	switch {
	case sess == nil:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case sess.teacher:
		http.Redirect(w, r, "/teacher/", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/s/"+sess.user+"/", http.StatusSeeOther)
	}
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, http.StatusOK, "")
}

func (s *Server) renderLogin(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	s.pages.ExecuteTemplate(w, "login.html", map[string]any{"Class": s.cfg.Class, "Message": msg})
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		// An IPv6 client holds a /64: limit the /64.
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return host
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.originOK(r) {
		httpError(w, http.StatusForbidden, "Log in from this server's own login page.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		httpError(w, http.StatusBadRequest, "That login form was not readable.")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	pass := r.PostForm.Get("passphrase")
	if len(name) > maxName || len(pass) > 200 {
		s.renderLogin(w, http.StatusUnauthorized, "Wrong name or passphrase.")
		return
	}
	addr := clientAddr(r)
	now := s.cfg.Now()
	if wait := max(s.nameLimit.blocked("name:"+name, now), s.addrLimit.blocked(addr, now)); wait > 0 {
		s.cfg.Logf("class %s: login of %q from %s refused: too many failed logins", s.cfg.Class, clean(name, maxName, false), addr)
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		s.renderLogin(w, http.StatusTooManyRequests, fmt.Sprintf("Too many failed logins: wait %s and try again.", wait.Round(time.Second)))
		return
	}
	select {
	case s.hashing <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	gen, ok := s.creds.Verify(name, pass)
	<-s.hashing
	if ok && name != Teacher && s.student(name) == nil {
		ok = false
	}
	if !ok {
		s.nameLimit.fail("name:"+name, now)
		s.addrLimit.fail(addr, now)
		s.cfg.Logf("class %s: failed login as %q from %s", s.cfg.Class, clean(name, maxName, false), addr)
		s.renderLogin(w, http.StatusUnauthorized, "Wrong name or passphrase.")
		return
	}
	s.nameLimit.reset("name:" + name)
	sess := s.newSession(name, gen)
	s.setCookie(w, sess)
	s.cfg.Logf("class %s: %s logged in from %s", s.cfg.Class, name, addr)
	if st := s.student(name); st != nil {
		s.touch(st, true)
	}
	if sess.teacher {
		http.Redirect(w, r, "/teacher/", http.StatusSeeOther)
	} else {
		http.Redirect(w, r, "/s/"+name+"/", http.StatusSeeOther)
	}
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	sess := s.session(r)
	if sess == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	r.ParseForm()
	if !s.originOK(r) || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(sess.csrf)) != 1 {
		httpError(w, http.StatusForbidden, "This request did not come from this server's page; reload the page.")
		return
	}
	s.mu.Lock()
	delete(s.sessions, sess.id)
	s.mu.Unlock()
	sess.cancel()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.tls != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// --- failed-login limits ------------------------------------------------------

// limiter counts failures per key in a sliding window.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	fails  map[string][]time.Time
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, fails: map[string][]time.Time{}}
}

// blocked is how long key must wait (0: it may try).
func (l *limiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.recent(key, now)
	if len(f) < l.max {
		return 0
	}
	return f[len(f)-l.max].Add(l.window).Sub(now)
}

func (l *limiter) recent(key string, now time.Time) []time.Time {
	f := l.fails[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= l.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.fails, key)
	} else {
		l.fails[key] = f
	}
	return f
}

func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) > 100000 { // a spray of keys: forget the stale ones
		for k := range l.fails {
			l.recent(k, now)
		}
	}
	f := append(l.recent(key, now), now)
	if len(f) > l.max {
		f = f[len(f)-l.max:]
	}
	l.fails[key] = f
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

// --- students -----------------------------------------------------------------

type student struct {
	name string
	// calls bounds the Backend calls of this student at once.
	calls chan struct{}

	mu       sync.Mutex
	activity time.Time
	notified time.Time
	history  []CheckRecord
	checking bool
	op       string // the reset or up under way
	opError  string
	down     string // why the copy did not answer, for the teacher
	terms    int
}

// CheckRecord is one "check my work" in a student's history.
type CheckRecord struct {
	Time   time.Time   `json:"time"`
	Passed int         `json:"passed"`
	Total  int         `json:"total"`
	Result CheckResult `json:"result"`
}

func (s *Server) newStudent(name string) *student {
	return &student{name: name, calls: make(chan struct{}, s.cfg.PerStudent)}
}

// student is name's state, when name is one of the class's students.
func (s *Server) student(name string) *student {
	s.mu.Lock()
	st := s.students[name]
	s.mu.Unlock()
	if st != nil || name == "" {
		return st
	}
	for _, n := range s.backend.Students() { // the class grew
		if n == name {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.students[name] == nil {
				s.students[name] = s.newStudent(name)
			}
			return s.students[name]
		}
	}
	return nil
}

func (s *Server) allStudents() []*student {
	names := s.backend.Students()
	sort.Strings(names)
	var out []*student
	for _, n := range names {
		if st := s.student(n); st != nil {
			out = append(out, st)
		}
	}
	return out
}

// touch records the student's activity; the teacher's grid hears of it at
// most every 10 s unless now.
func (s *Server) touch(st *student, now bool) {
	t := s.cfg.Now()
	st.mu.Lock()
	st.activity = t
	notify := now || t.Sub(st.notified) > 10*time.Second
	if notify {
		st.notified = t
	}
	st.mu.Unlock()
	if notify {
		s.hub.publish(st.name)
	}
}

var (
	errBusy    = errors.New("busy")
	errTimeout = errors.New("timeout")
)

// call runs f for st with a deadline, at most PerStudent at once for one
// student: a student whose copy hangs waits for their own calls only. A
// call that outlives its deadline keeps its slot until it returns.
func call[T any](ctx context.Context, s *Server, st *student, timeout time.Duration, f func(context.Context) (T, error)) (T, error) {
	var zero T
	wait := time.NewTimer(2 * time.Second)
	defer wait.Stop()
	select {
	case st.calls <- struct{}{}:
	case <-wait.C:
		return zero, errBusy
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	type answer struct {
		v   T
		err error
	}
	done := make(chan answer, 1)
	go func() {
		defer func() { <-st.calls }()
		defer cancel()
		v, err := f(ctx)
		done <- answer{v, err}
	}()
	select {
	case a := <-done:
		return a.v, a.err
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			return zero, errTimeout
		}
		return zero, ctx.Err()
	}
}

// ErrNoCopy is what a Backend returns (wrapped) when a student's copy does
// not exist; the student is told to ask the teacher, who may bring it up.
var ErrNoCopy = errors.New("no copy of the lab for this student")

// sentence is what a student reads when their copy failed them; the detail
// (which may name hosts) is for the teacher only.
func sentence(err error) string {
	switch {
	case errors.Is(err, ErrNoCopy):
		return "Your copy of the lab is not up. Ask your teacher to bring it up."
	case errors.Is(err, errBusy):
		return "The server is still waiting for your copy's answer to an earlier request. Try again in a moment."
	case errors.Is(err, errTimeout):
		return "Your copy of the lab did not answer in time (it may be rebooting or stuck). Try again in a minute; if it stays so, ask your teacher."
	default:
		return "Your copy of the lab cannot be reached right now. Try again in a minute; if it stays so, ask your teacher."
	}
}

// --- check history, kept across restarts ---------------------------------------

func (s *Server) historyPath() string {
	return s.cfg.Paths.HistoryFile(s.cfg.Class)
}

func (s *Server) loadHistory() {
	data, err := os.ReadFile(s.historyPath())
	if err != nil {
		return
	}
	var all map[string][]CheckRecord
	if json.Unmarshal(data, &all) != nil {
		s.cfg.Logf("class %s: the check history %s is not readable; starting a new one", s.cfg.Class, s.historyPath())
		return
	}
	for name, h := range all {
		if st := s.students[name]; st != nil {
			if len(h) > maxHistory {
				h = h[len(h)-maxHistory:]
			}
			st.history = h
		}
	}
}

func (s *Server) saveHistory() {
	s.histMu.Lock()
	defer s.histMu.Unlock()
	all := map[string][]CheckRecord{}
	for _, st := range s.allStudents() {
		st.mu.Lock()
		all[st.name] = append([]CheckRecord(nil), st.history...)
		st.mu.Unlock()
	}
	data, err := json.Marshal(all)
	if err == nil {
		tmp := s.historyPath() + ".tmp"
		if err = os.WriteFile(tmp, data, 0o600); err == nil {
			err = os.Rename(tmp, s.historyPath())
		}
	}
	if err != nil {
		s.cfg.Logf("class %s: keeping the check history: %v", s.cfg.Class, err)
	}
}
