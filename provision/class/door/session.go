package door

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// conn is one logged-in client connection.
type conn struct {
	d       *Door
	ctx     context.Context // ends with the connection or the door
	student string
	addr    string
	slots   *slots // channels open on this connection
}

func (c *conn) dispatch(nch ssh.NewChannel) {
	switch t := nch.ChannelType(); t {
	case "session", "direct-tcpip":
		if !c.slots.take() {
			c.d.log.Warn("door: too many channels", "student", c.student, "addr", c.addr)
			nch.Reject(ssh.ResourceShortage, fmt.Sprintf("too many channels on this connection (at most %d at once)", c.slots.max))
			return
		}
		if t == "direct-tcpip" {
			// on its own goroutine: listing the nodes may take a while,
			// and the connection's other channels must not wait for it
			go func() {
				defer c.slots.give()
				c.jump(nch)
			}()
			return
		}
		ch, reqs, err := nch.Accept()
		if err != nil {
			c.slots.give()
			return
		}
		s := &session{c: c, ch: ch}
		go func() {
			defer c.slots.give()
			s.serve(reqs)
		}()
	default:
		// x11, auth-agent@openssh.com, direct-streamlocal@openssh.com, ...
		nch.Reject(ssh.Prohibited, fmt.Sprintf("the class door opens no %q channels", clean(t, 64)))
	}
}

// nodes lists the student's nodes under the call guards.
func (c *conn) nodes(ctx context.Context) ([]string, error) {
	nodes, err := call(c.d, ctx, c.student, func(ctx context.Context) ([]string, error) {
		return c.d.shells.Nodes(ctx, c.student)
	}, nil)
	if len(nodes) > maxNodes {
		nodes = nodes[:maxNodes]
	}
	return nodes, err
}

// maxNodes bounds the nodes the door considers in one copy.
const maxNodes = 64

// openShell opens a shell on one of the student's nodes, within the
// student's bound on open shells; closing the shell gives its place back.
func (c *conn) openShell(ctx context.Context, node string, t Terminal) (Shell, error) {
	d := c.d
	if !d.use(c.student, shellsOf, 1, d.cfg.MaxShellsPerStudent) {
		return nil, fmt.Errorf("you have %d shells open already; close one first", d.cfg.MaxShellsPerStudent)
	}
	release := sync.OnceFunc(func() { d.use(c.student, shellsOf, -1, 0) })
	sh, err := call(d, ctx, c.student, func(ctx context.Context) (Shell, error) {
		return d.shells.Shell(ctx, c.student, node, t)
	}, func(sh Shell) {
		if sh != nil {
			sh.Close()
		}
		release()
	})
	if err != nil || sh == nil {
		if err == nil {
			err = fmt.Errorf("no shell")
		}
		if err != errTimeout {
			release()
		}
		return nil, err
	}
	return &countedShell{Shell: sh, release: release}, nil
}

// countedShell gives the student's shell place back when it is closed.
type countedShell struct {
	Shell
	release func()
	once    sync.Once
}

func (s *countedShell) Close() error {
	var err error
	s.once.Do(func() {
		err = s.Shell.Close()
		s.release()
	})
	return err
}

// session is one session channel: on the door itself (node "", the menu)
// or inside a jump to a node (the inner session).
type session struct {
	c    *conn
	ch   ssh.Channel
	node string

	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	term      Terminal
	pty       bool
	started   bool
	shell     Shell         // the shell the input goes to now
	unreached bool          // the last shell could not be opened
	kick      chan struct{} // a size change to apply
}

// serve answers the session's requests until the channel closes.
func (s *session) serve(reqs <-chan *ssh.Request) {
	s.ctx, s.cancel = context.WithCancel(s.c.ctx)
	defer s.cancel()
	s.kick = make(chan struct{}, 1)
	go s.resizer()
	for req := range reqs {
		s.handle(req)
	}
}

func (s *session) handle(req *ssh.Request) {
	reply := func(ok bool) {
		if req.WantReply {
			req.Reply(ok, nil)
		}
	}
	switch req.Type {
	case "pty-req":
		var p struct {
			Term                string
			Cols, Rows, Wpx, Hp uint32
			Modes               string
		}
		if ssh.Unmarshal(req.Payload, &p) != nil {
			reply(false)
			return
		}
		s.mu.Lock()
		s.pty = true
		s.term = Terminal{Term: termName(p.Term), Cols: dim(p.Cols, 80), Rows: dim(p.Rows, 24)}
		s.mu.Unlock()
		reply(true)
	case "window-change":
		var p struct{ Cols, Rows, Wpx, Hpx uint32 }
		if ssh.Unmarshal(req.Payload, &p) != nil {
			reply(false)
			return
		}
		s.mu.Lock()
		s.term.Cols, s.term.Rows = dim(p.Cols, s.term.Cols), dim(p.Rows, s.term.Rows)
		s.mu.Unlock()
		s.resize()
		reply(true)
	case "shell":
		if !s.start() {
			reply(false)
			return
		}
		reply(true)
		go s.runShell()
	case "exec":
		var p struct{ Command string }
		if ssh.Unmarshal(req.Payload, &p) != nil || !s.start() {
			reply(false)
			return
		}
		reply(true)
		if s.node == "" {
			s.c.d.log.Warn("door: exec refused", "student", s.c.student, "addr", s.c.addr)
			go s.refuse(fmt.Sprintf("This is lvslab's class door: it runs no commands. Log in without a command for a menu of your nodes, or jump to one: ssh -J %s@<door> root@<node>\n", s.c.student))
			return
		}
		go s.runExec(p.Command)
	case "subsystem":
		// said before the refusal, so the client shows it
		io.WriteString(s.ch.Stderr(), "The class door offers no subsystem (no sftp, no scp): copy files from inside your nodes.\n")
		reply(false)
	default:
		// env (ignored), x11-req, auth-agent-req@openssh.com (refused),
		// signal, break, ...
		reply(false)
	}
}

// start reports whether the session had no shell or command yet.
func (s *session) start() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return false
	}
	s.started = true
	return true
}

// refuse ends a session with a sentence on stderr and status 1.
func (s *session) refuse(msg string) {
	io.WriteString(s.ch.Stderr(), s.crlf(msg))
	s.exit(1)
}

// status is an inner session's exit status: 1 when its node could not be
// reached, else 0 (a shell's own status is not known).
func (s *session) status() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unreached {
		return 1
	}
	return 0
}

func (s *session) exit(status int) {
	s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
	s.ch.Close()
}

// crlf turns line ends into what a raw terminal needs.
func (s *session) crlf(text string) string {
	s.mu.Lock()
	pty := s.pty
	s.mu.Unlock()
	if pty {
		return strings.ReplaceAll(text, "\n", "\r\n")
	}
	return text
}

func (s *session) print(text string) { io.WriteString(s.ch, s.crlf(text)) }

// terminal is the pseudo-terminal a node's shell is opened on: the
// client's, or a dumb 80x24 one when the client asked for none.
func (s *session) terminal() (Terminal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pty {
		return Terminal{Term: "dumb", Cols: 80, Rows: 24}, false
	}
	return s.term, true
}

func (s *session) setShell(sh Shell) {
	s.mu.Lock()
	s.shell = sh
	s.mu.Unlock()
	if sh != nil {
		s.resize()
	}
}

func (s *session) resize() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// resizer applies size changes to the current shell, off the request loop:
// a Resize that hangs holds up nothing but later resizes.
func (s *session) resizer() {
	var last Terminal
	var lastShell Shell
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		}
		s.mu.Lock()
		sh, t, pty := s.shell, s.term, s.pty
		s.mu.Unlock()
		if sh == nil || !pty || (sh == lastShell && t == last) {
			continue
		}
		last, lastShell = t, sh
		sh.Resize(t.Cols, t.Rows)
	}
}

// pump reads the client's input on its own goroutine, so the menu and the
// node shells after it take turns at one stream.
func (s *session) pump() <-chan []byte {
	in := make(chan []byte)
	go func() {
		defer close(in)
		for {
			buf := make([]byte, 4096)
			n, err := s.ch.Read(buf)
			if n > 0 {
				select {
				case in <- buf[:n]:
				case <-s.ctx.Done():
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return in
}

func (s *session) runShell() {
	in := s.pump()
	if s.node != "" {
		s.bridge(s.node, in, nil, "")
		s.exit(s.status())
		return
	}
	s.menu(in)
}

// runExec runs a command of an inner session on its node.
func (s *session) runExec(command string) {
	in := s.pump()
	ex, ok := s.c.d.shells.(Execer)
	if !ok {
		s.bridge(s.node, in, nil, command)
		s.exit(s.status())
		return
	}
	c := s.c
	if !c.d.use(c.student, shellsOf, 1, c.d.cfg.MaxShellsPerStudent) {
		s.refuse(fmt.Sprintf("you have %d shells open already; close one first\n", c.d.cfg.MaxShellsPerStudent))
		return
	}
	c.d.log.Info("door: exec on node", "student", c.student, "node", clean(s.node, 64))
	done := make(chan int, 1)
	go func() {
		defer c.d.use(c.student, shellsOf, -1, 0)
		status, err := ex.Exec(s.ctx, c.student, s.node, command, &chanReader{in: in}, s.ch, s.ch.Stderr())
		if err != nil {
			io.WriteString(s.ch.Stderr(), s.crlf(fmt.Sprintf("%s: %s\n", clean(s.node, 64), clean(err.Error(), 200))))
			if status == 0 {
				status = 255
			}
		}
		done <- status
	}()
	select {
	case status := <-done:
		s.exit(status)
	case <-s.ctx.Done():
	}
}

// chanReader reads what the pump delivers.
type chanReader struct {
	in   <-chan []byte
	rest []byte
}

func (r *chanReader) Read(p []byte) (int, error) {
	if len(r.rest) == 0 {
		b, ok := <-r.in
		if !ok {
			return 0, io.EOF
		}
		r.rest = b
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// bridge connects the session to a shell on node until the shell ends; it
// reports whether the client went away meanwhile. typed is input typed
// ahead; command, if any, is typed into the shell first, followed by exit.
func (s *session) bridge(node string, in <-chan []byte, typed []byte, command string) (gone bool) {
	c := s.c
	t, _ := s.terminal()
	sh, err := c.openShell(s.ctx, node, t)
	s.mu.Lock()
	s.unreached = err != nil
	s.mu.Unlock()
	if err != nil {
		c.d.log.Warn("door: shell failed", "student", c.student, "node", clean(node, 64), "err", clean(err.Error(), 200))
		msg := fmt.Sprintf("%s cannot be reached now: %s.\n", clean(node, 64), clean(err.Error(), 200))
		if s.node != "" {
			io.WriteString(s.ch.Stderr(), s.crlf(msg))
		} else {
			s.print(msg)
		}
		return s.ctx.Err() != nil
	}
	c.d.log.Info("door: shell on node", "student", c.student, "node", clean(node, 64))
	s.setShell(sh)
	// the session's end closes the shell, which frees a Write or Read
	// blocked in it; a Close that hangs holds nobody up
	stop := context.AfterFunc(s.ctx, func() { go sh.Close() })
	defer func() {
		stop()
		s.setShell(nil)
		go sh.Close()
	}()
	out := make(chan struct{})
	go func() {
		io.Copy(s.ch, sh)
		close(out)
	}()
	write := func(b []byte) bool {
		_, err := sh.Write(b)
		return err == nil
	}
	// drained waits (a little) for the rest of the shell's output once it
	// takes no more input: it exited, and what it printed last is due
	drained := func() bool {
		select {
		case <-out:
		case <-s.ctx.Done():
		case <-time.After(drainTime):
		}
		return s.ctx.Err() != nil
	}
	if command != "" && !write([]byte(command+"; exit\n")) {
		return drained()
	}
	if len(typed) > 0 && !write(typed) {
		return drained()
	}
	for {
		select {
		case <-out:
			return false
		case b, ok := <-in:
			if !ok {
				// the client's input ended (ssh < file): Ctrl-D, which a
				// shell reading its terminal takes as the end
				write([]byte{4})
				in = nil
				continue
			}
			if !write(b) {
				return drained()
			}
		case <-s.ctx.Done():
			return true
		}
	}
}

// drainTime bounds the wait for a shell's last output after it stopped
// taking input.
const drainTime = 2 * time.Second

// menu lists the student's nodes and bridges to the one picked, until the
// student quits.
func (s *session) menu(in <-chan []byte) {
	c := s.c
	_, pty := s.terminal()
	lr := &lineReader{in: in, pty: pty, echo: func(t string) { io.WriteString(s.ch, t) }}
	s.print(fmt.Sprintf("lvslab class door: the lab of %s\n", clean(c.student, 64)))
	for {
		nodes, err := c.nodes(s.ctx)
		if err != nil {
			s.print(fmt.Sprintf("Your lab's nodes cannot be listed now: %s.\nPress Enter to try again, q to quit: ", clean(err.Error(), 200)))
			line, ok := lr.readLine()
			if !ok || isQuit(line) {
				s.exit(1)
				return
			}
			continue
		}
		if len(nodes) == 0 {
			s.print("Your lab has no nodes yet.\nPress Enter to look again, q to quit: ")
			line, ok := lr.readLine()
			if !ok || isQuit(line) {
				s.exit(1)
				return
			}
			continue
		}
		var b strings.Builder
		b.WriteString("\nYour nodes:\n")
		for i, n := range nodes {
			fmt.Fprintf(&b, "  %2d) %s\n", i+1, clean(n, 64))
		}
		b.WriteString("Pick a node (number or name), q to quit: ")
		s.print(b.String())
		line, ok := lr.readLine()
		if !ok {
			s.exit(0)
			return
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case isQuit(line):
			s.exit(0)
			return
		}
		node, found := pickNode(nodes, line)
		if !found {
			s.print(fmt.Sprintf("No node %q here: type a number from 1 to %d, or a name.\n", clean(line, maxLine), len(nodes)))
			continue
		}
		shown := clean(node, 64)
		s.print(fmt.Sprintf("Connecting to %s ...\n", shown))
		if s.bridge(node, in, lr.takePending(), "") {
			return
		}
		s.print(fmt.Sprintf("\n[%s: shell ended]\n", shown))
	}
}

func isQuit(line string) bool {
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "q", "quit", "exit", "logout":
		return true
	}
	return false
}

// pickNode finds the node a menu answer names: its number, its name, its
// name as printed, or its name in another case.
func pickNode(nodes []string, answer string) (string, bool) {
	if i, err := strconv.Atoi(answer); err == nil {
		if i >= 1 && i <= len(nodes) {
			return nodes[i-1], true
		}
		return "", false
	}
	for _, n := range nodes {
		if n == answer || clean(n, 64) == answer {
			return n, true
		}
	}
	return matchFold(nodes, answer)
}

// matchFold finds the one node whose name equals name in another case (ssh
// lowercases host names).
func matchFold(nodes []string, name string) (string, bool) {
	found := ""
	for _, n := range nodes {
		if strings.EqualFold(n, name) {
			if found != "" {
				return "", false
			}
			found = n
		}
	}
	return found, found != ""
}

// termName keeps a terminal type that is a plain name, xterm otherwise.
func termName(t string) string {
	if t == "" || len(t) > 32 {
		return "xterm"
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-+._", r)) {
			return "xterm"
		}
	}
	return t
}

// dim keeps a terminal dimension within reason.
func dim(v uint32, def int) int {
	if v == 0 || v > 1000 {
		return def
	}
	return int(v)
}
