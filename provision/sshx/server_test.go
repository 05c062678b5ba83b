package sshx

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/lvslab/lvslab/provision/sshx/sshxtest"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// testServer is an in-process SSH server on loopback: "exec" runs the
// command with sh -c, "sftp" is served by pkg/sftp.
type testServer struct {
	Addr    string
	HostKey ssh.Signer
	// Conns counts accepted TCP connections, SFTPs opened subsystems.
	Conns atomic.Int32
	SFTPs atomic.Int32

	// Forwards counts direct-tcpip channels opened through this server.
	Forwards atomic.Int32

	// Windows records each pseudo-terminal's type and size: the pty-req
	// first, then every window-change, as "TERM COLSxROWS".
	Windows chan string

	ln      net.Listener
	config  *ssh.ServerConfig
	forward bool
	mu      sync.Mutex
	live    []net.Conn
}

type serverOptions struct {
	authorized ssh.PublicKey // key login allowed with this key
	password   string        // password login allowed with this password
	pam        bool          // ask the password by keyboard-interactive instead
	hostKey    ssh.Signer    // generated when nil
	// moreHostKeys are offered too (an EL guest's sshd-keygen made RSA
	// and ECDSA keys beside the one lvslab pinned).
	moreHostKeys []ssh.Signer
	addr         string // 127.0.0.1:0 when empty
	forward      bool   // serve direct-tcpip channels, as a jump host
}

func startServer(t *testing.T, opts serverOptions) *testServer {
	t.Helper()
	if opts.hostKey == nil {
		opts.hostKey = newSigner(t)
	}
	if opts.addr == "" {
		opts.addr = "127.0.0.1:0"
	}
	config := &ssh.ServerConfig{}
	if opts.authorized != nil {
		config.PublicKeyCallback = func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), opts.authorized.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		}
	}
	if opts.password != "" && opts.pam {
		config.KeyboardInteractiveCallback = func(_ ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			answers, err := ask("", "", []string{"Password: "}, []bool{false})
			if err == nil && len(answers) == 1 && answers[0] == opts.password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		}
	} else if opts.password != "" {
		config.PasswordCallback = func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) == opts.password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		}
	}
	config.AddHostKey(opts.hostKey)
	for _, k := range opts.moreHostKeys {
		config.AddHostKey(k)
	}
	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{Addr: ln.Addr().String(), HostKey: opts.hostKey, ln: ln, config: config, forward: opts.forward, Windows: make(chan string, 16)}
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

func newSigner(t *testing.T) ssh.Signer {
	signer, _ := sshxtest.NewKey(t)
	return signer
}

func (s *testServer) Close() {
	s.ln.Close()
	s.DropConnections()
}

// DropConnections cuts every open connection, as a rebooting node would.
func (s *testServer) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.live {
		c.Close()
	}
	s.live = nil
}

// track remembers c for DropConnections.
func (s *testServer) track(c net.Conn) {
	s.mu.Lock()
	s.live = append(s.live, c)
	s.mu.Unlock()
}

func (s *testServer) accept() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.Conns.Add(1)
		s.track(nc)
		go s.serve(nc)
	}
}

func (s *testServer) serve(nc net.Conn) {
	_, chans, reqs, err := ssh.NewServerConn(nc, s.config)
	if err != nil {
		nc.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		if nch.ChannelType() == "direct-tcpip" {
			s.directTCPIP(nch)
			continue
		}
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, chReqs, err := nch.Accept()
		if err != nil {
			continue
		}
		go s.session(ch, chReqs)
	}
}

// session serves one channel. Its process group is killed on a "signal"
// request or when the client closes the channel, so timed-out test
// commands do not linger.
func (s *testServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	var proc processGroup
	defer proc.kill()
	for req := range reqs {
		switch req.Type {
		case "exec", "shell":
			var payload struct{ Command string }
			if req.Type == "shell" {
				payload.Command = "exec sh" // a login shell reading the session's stdin
			} else if ssh.Unmarshal(req.Payload, &payload) != nil {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			go func() {
				status := proc.run(payload.Command, ch, ch, ch.Stderr())
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
				ch.Close()
			}()
		case "subsystem":
			var payload struct{ Name string }
			if ssh.Unmarshal(req.Payload, &payload) != nil || payload.Name != "sftp" {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			s.SFTPs.Add(1)
			go func() {
				server, err := sftp.NewServer(ch)
				if err == nil {
					server.Serve()
					server.Close()
				}
				ch.Close()
			}()
		case "pty-req":
			var pty struct {
				Term                      string
				Cols, Rows, Width, Height uint32
				Modes                     string
			}
			ok := ssh.Unmarshal(req.Payload, &pty) == nil
			req.Reply(ok, nil)
			if ok {
				s.Windows <- pty.Term + " " + strconv.Itoa(int(pty.Cols)) + "x" + strconv.Itoa(int(pty.Rows))
			}
		case "window-change":
			var win struct{ Cols, Rows, Width, Height uint32 }
			if ssh.Unmarshal(req.Payload, &win) == nil {
				s.Windows <- "change " + strconv.Itoa(int(win.Cols)) + "x" + strconv.Itoa(int(win.Rows))
			}
		case "signal":
			proc.kill()
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
}

type processGroup struct {
	mu  sync.Mutex
	pid int
}

func (p *processGroup) run(command string, stdin io.Reader, stdout, stderr io.Writer) uint32 {
	cmd := exec.Command("sh", "-c", command)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 127
	}
	p.mu.Lock()
	p.pid = cmd.Process.Pid
	p.mu.Unlock()
	err := cmd.Wait()
	p.mu.Lock()
	p.pid = 0 // the group is gone; its id may be reused
	p.mu.Unlock()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return uint32(exit.ExitCode())
	default:
		return 255
	}
}

func (p *processGroup) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pid > 0 {
		syscall.Kill(-p.pid, syscall.SIGKILL)
	}
}

// directTCPIP serves a ProxyJump channel: a TCP connection from here to the
// address the client asks for.
func (s *testServer) directTCPIP(nch ssh.NewChannel) {
	if !s.forward {
		nch.Reject(ssh.Prohibited, "TCP forwarding disabled")
		return
	}
	req, err := ParseDirectTCPIP(nch)
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	target, err := net.Dial("tcp", net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port))))
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		target.Close()
		return
	}
	s.Forwards.Add(1)
	s.track(target)
	go ssh.DiscardRequests(reqs)
	go func() { io.Copy(ch, target); ch.CloseWrite() }()
	go func() { io.Copy(target, ch); target.Close() }()
}
