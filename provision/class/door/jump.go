package door

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/lvslab/lvslab/provision/sshx"
	"golang.org/x/crypto/ssh"
)

// jump serves a direct-tcpip channel ("ssh -J"): only to port 22 of a node
// of the student's own copy, by name; the door then is the SSH server at
// the far end of the channel.
func (c *conn) jump(nch ssh.NewChannel) {
	p, err := sshx.ParseDirectTCPIP(nch)
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	node, reason := c.jumpTarget(p.Host, p.Port)
	if reason != "" {
		c.d.log.Warn("door: jump refused", "student", c.student, "addr", c.addr, "target", clean(p.Host, 64), "port", p.Port)
		nch.Reject(ssh.Prohibited, reason)
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	c.d.log.Info("door: jump", "student", c.student, "addr", c.addr, "node", clean(node, 64))
	c.inner(ch, node)
}

// jumpTarget returns the node a jump asks for, or why it is refused.
func (c *conn) jumpTarget(host string, port uint32) (node, reason string) {
	shown := clean(host, 64)
	if port != 22 {
		return "", fmt.Sprintf("the door reaches only port 22 (SSH) of your nodes, not port %d", port)
	}
	bare := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if net.ParseIP(bare) != nil || strings.EqualFold(bare, "localhost") {
		return "", fmt.Sprintf("the door reaches your nodes by name, not %q: ssh -J %s@<door> root@<node>", shown, c.student)
	}
	nodes, err := c.nodes(c.ctx)
	if err != nil {
		return "", "your lab's nodes cannot be listed now: " + clean(err.Error(), 200)
	}
	for _, n := range nodes {
		if n == host {
			return n, ""
		}
	}
	if n, ok := matchFold(nodes, host); ok {
		return n, ""
	}
	shownNodes := make([]string, len(nodes))
	for i, n := range nodes {
		shownNodes[i] = clean(n, 64)
	}
	return "", fmt.Sprintf("%q is not a node of your lab (yours: %s)", shown, strings.Join(shownNodes, ", "))
}

// inner runs the SSH server a jump channel carries: the door's host key,
// no second login (the channel is bound to the student's node), sessions
// only.
func (c *conn) inner(ch ssh.Channel, node string) {
	d := c.d
	timer := time.AfterFunc(d.cfg.HandshakeTimeout, func() { ch.Close() })
	cfg := &ssh.ServerConfig{NoClientAuth: true, ServerVersion: "SSH-2.0-lvslab-door"}
	cfg.AddHostKey(d.signer)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}
	sc, chans, reqs, err := ssh.NewServerConn(&chanConn{ch: ch, local: local, remote: local}, cfg)
	if !timer.Stop() || err != nil {
		ch.Close()
		if err == nil {
			sc.Close()
		}
		return
	}
	defer sc.Close()
	// tcpip-forward and every other global request: refused
	go ssh.DiscardRequests(reqs)
	slots := newSlots(d.cfg.MaxChannelsPerConn)
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.Prohibited, fmt.Sprintf("the door's session to %s opens no %q channels", clean(node, 64), clean(nch.ChannelType(), 64)))
			continue
		}
		if !slots.take() {
			nch.Reject(ssh.ResourceShortage, fmt.Sprintf("too many sessions on this connection (at most %d at once)", slots.max))
			continue
		}
		ch, reqs, err := nch.Accept()
		if err != nil {
			slots.give()
			continue
		}
		s := &session{c: c, ch: ch, node: node}
		go func() {
			defer slots.give()
			s.serve(reqs)
		}()
	}
}
