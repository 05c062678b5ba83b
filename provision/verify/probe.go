package verify

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/roles/shell"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// Probers: how the client sends its requests.
const (
	// ProberCurl is the exercises' own loop: one curl process per request.
	ProberCurl = "curl"
	// ProberFast is one curl process for all requests, each on a new TCP
	// connection ("Connection: close"), so each is a new scheduling
	// decision without a process start-up per request.
	ProberFast = "fast"
	// ProberUDP is how a UDP service is asked, whatever --prober says: one
	// datagram per request, each from a new socket.
	ProberUDP = "udp"
)

// Probers lists the valid --prober values.
var Probers = []string{ProberFast, ProberCurl}

// Limits of a request loop.
const (
	MinRequests     = 1
	MaxRequests     = 2000
	DefaultRequests = 12 // a multiple of the usual weight sums 2, 3, 4, 6
	// requestTimeout bounds one request (curl -m), connectTimeout its
	// TCP connect.
	requestTimeout = 5
	connectTimeout = 3
)

// Frames are the markers of one request loop's output: a request's start,
// curl's write-out trailer, the exit status, curl's stderr. A loop is a
// stream of frames cut wherever its time bound stops it, not a read of
// named sections, so it does not run as a guest.Probe; but its marker is
// drawn the probe's way for every loop (guest.NewMarker), so that no page a
// real server answers and no curl message can pose as a frame.
type Frames struct {
	start, write, rc, stderr string
}

// NewFrames are the frames of one loop, with a fresh marker.
func NewFrames() Frames { return framesOf(guest.NewMarker()) }

// framesOf are the frames of marker m: "M-req N", "M-w ...", "M-rc N",
// "M-stderr".
func framesOf(m string) Frames {
	return Frames{start: m + "-req ", write: m + "-w ", rc: m + "-rc ", stderr: m + "-stderr"}
}

// Reply is one request as the client saw it.
type Reply struct {
	Index int `json:"index"` // 1-based
	// Status is the HTTP status; 0 when there was no response.
	Status int    `json:"status"`
	Body   string `json:"body,omitempty"`
	// Err is curl's own error line ("curl: (7) Failed to connect to ...").
	Err string `json:"error,omitempty"`
	// Exit is curl's exit code for this request (0 = success).
	Exit    int     `json:"exit"`
	Seconds float64 `json:"seconds"`
	// Connects is how many TCP connections the request opened (-1 unknown).
	Connects int `json:"connects"`
	// Node is the web node that served it, "" when unknown.
	Node string `json:"node,omitempty"`
}

// OK tells whether the request got an HTTP 2xx reply.
func (r Reply) OK() bool { return r.Exit == 0 && r.Status >= 200 && r.Status < 300 }

// URL is what the client asks for: http://VIP/ or http://VIP:PORT/.
func URL(vip string, port uint16) string {
	if port == 80 {
		return "http://" + vip + "/"
	}
	return "http://" + vip + ":" + strconv.Itoa(int(port)) + "/"
}

// bound wraps a command in coreutils timeout so that a slow loop stops by
// itself and still returns what it printed so far.
func bound(limit time.Duration, cmd string) string {
	secs := int(limit.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return fmt.Sprintf("timeout %d sh -c %s", secs, shell.Quote(cmd))
}

// Source ports. The client's requests leave from ports its kernel never
// picks by itself (above the default ip_local_port_range, 32768-60999) that
// no entry of the director's connection table holds and no socket of the
// client. A SYN from a port the director still holds goes to that entry's
// real server without a scheduling decision and without a count: in DR and
// TUN the director sees no reply and keeps a closed connection in FIN_WAIT
// for 2 minutes, and conn_reuse_mode 1 (the default) reschedules only
// TIME_WAIT and CLOSE entries; the client's kernel does come back to recent
// ports (its base port for a destination jumps between runs). A port the
// client holds (curl closes first: TIME_WAIT for a minute) cannot be bound,
// and the director's table forgets it at a reboot. Each request gets one
// port, no range: curl would walk from a taken port into held ones.
const (
	FirstSourcePort = 61000
	LastSourcePort  = 65535
)

// QuickPorts are the source ports of a quick run's n requests, read from
// neither the client nor the director: a block of n ports from
// FirstSourcePort, the block chosen by the clock's second, so that two
// quick runs less than QuickPortsCycle(n) seconds apart never share a port,
// and a port comes back only after the client's TIME_WAIT (60 s) and the
// director's FIN_WAIT (120 s) of its last use are over. A full run in
// between may hold some (1 chance in the number of blocks, for 2 minutes).
func QuickPorts(n int, now time.Time) []uint16 {
	blocks := (LastSourcePort - FirstSourcePort + 1) / max(n, 1)
	first := FirstSourcePort + int(now.Unix()%int64(blocks))*n
	out := make([]uint16, n)
	for k := range out {
		out[k] = uint16(first + k)
	}
	return out
}

// QuickPortsFit tells whether n requests leave QuickPorts enough blocks
// that a port is not used again within quickPortsReuse.
func QuickPortsFit(n int) bool {
	return n > 0 && (LastSourcePort-FirstSourcePort+1)/n >= int(quickPortsReuse/time.Second)
}

// quickPortsReuse is the shortest time before QuickPorts gives a port
// again: beyond the director's FIN_WAIT.
const quickPortsReuse = 4 * time.Minute

// SocketsCommand lists the client's TCP sockets, whatever their state.
const SocketsCommand = "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; true"

// SocketPorts reads the local ports of SocketsCommand's tables: field 2
// is the local address:port in hex.
func SocketPorts(out string) []uint16 {
	var ports []uint16
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] == "sl" {
			continue
		}
		_, hex, ok := strings.Cut(f[1], ":")
		if p, err := strconv.ParseUint(hex, 16, 16); ok && err == nil {
			ports = append(ports, uint16(p))
		}
	}
	return ports
}

// HeldPorts is the source ports of the director's connection entries.
func HeldPorts(conns []ipvs.Conn) []uint16 {
	out := make([]uint16, len(conns))
	for i, c := range conns {
		out[i] = c.Source.Port()
	}
	return out
}

// SourcePorts picks n source ports, in turn from FirstSourcePort, that are
// not taken; 0 (the client kernel's choice) for the requests beyond the
// free ports.
func SourcePorts(taken []uint16, n int) []uint16 {
	busy := make(map[uint16]bool, len(taken))
	for _, p := range taken {
		busy[p] = true
	}
	out := make([]uint16, n)
	p := FirstSourcePort
	for k := range out {
		for p <= LastSourcePort && busy[uint16(p)] {
			p++
		}
		if p > LastSourcePort {
			break
		}
		out[k] = uint16(p)
		p++
	}
	return out
}

// requestWords is the loops' list: "URL,PORT" per request, urls in turn
// and ports[k] (0 when ports is short: the kernel's choice).
func requestWords(urls []string, ports []uint16, n int) string {
	words := make([]string, n)
	for k := range words {
		p := uint16(0)
		if k < len(ports) {
			p = ports[k]
		}
		words[k] = shell.Quote(urls[k%len(urls)] + "," + strconv.Itoa(int(p)))
	}
	return strings.Join(words, " ")
}

// CurlLoopCommand is the faithful prober: a shell loop running one curl per
// request, as the exercises do by hand; request k asks for urls[k mod
// len(urls)] (a firewall-mark service's ports in turn) from source port
// ports[k] (0: the kernel's choice). Each request is framed by markers;
// curl's error message (stderr) stays in its request's frame.
func (fr Frames) CurlLoopCommand(urls []string, ports []uint16, n int, limit time.Duration) string {
	w := `\n` + fr.write + `%{http_code} %{time_total} %{num_connects}\n`
	loop := fmt.Sprintf(`i=0; for r in %s; do i=$((i+1)); echo "%s$i"; p=${r##*,}; set --; [ "$p" = 0 ] || set -- --local-port "$p"; `+
		`curl -sS -m %d --connect-timeout %d -w '%s' "$@" "${r%%,*}" 2>&1; echo "%s$?"; done`,
		requestWords(urls, ports, n), fr.start, requestTimeout, connectTimeout, w, fr.rc)
	return bound(limit, loop) + "; true"
}

// FastCommand is the fast prober: one curl process given the URLs n times
// in turn, from the source ports of CurlLoopCommand, "Connection: close"
// so that every transfer opens its own connection (a new scheduling
// decision): a transfer per operation of a config file ("next" between
// them; the command line would outgrow a shell's argument at 2000
// requests). Each transfer writes its status, exit code and error text
// after its body; curl's stderr follows at the end.
func (fr Frames) FastCommand(urls []string, ports []uint16, n int, limit time.Duration) string {
	w := `\n` + fr.write + `%{http_code} %{time_total} %{num_connects} %{exitcode} %{errormsg}\n`
	opts := []string{
		fmt.Sprintf("max-time = %d", requestTimeout),
		fmt.Sprintf("connect-timeout = %d", connectTimeout),
		`header = "Connection: close"`,
		`write-out = "` + w + `"`,
	}
	for i := range opts {
		opts[i] = shell.Quote(opts[i])
	}
	// curl reads its configuration from the loop's pipe (-K -) and its
	// stderr goes to a file named by the shell's pid: the shell's builtins
	// do the rest, no mktemp or cat (a process costs ~0.2 s under TCG).
	cmd := fmt.Sprintf(`e=${TMPDIR:-/tmp}/lvslab-verify.$$; k=0; for r in %s; do [ $k = 0 ] || echo next; k=1; p=${r##*,}; `+
		`printf 'url = "%%s"\n' "${r%%,*}"; [ "$p" = 0 ] || printf 'local-port = %%s\n' "$p"; printf '%%s\n' %s; done | `+
		`curl -sS -K - 2>"$e"; echo "%s$?"; echo "%s"; while IFS= read -r l || [ -n "$l" ]; do printf '%%s\n' "$l"; done <"$e"; rm -f "$e"`,
		requestWords(urls, ports, n), strings.Join(opts, " "), fr.rc, fr.stderr)
	return bound(limit, cmd) + "; true"
}

// udpReplyTimeout bounds the wait for one reply datagram (seconds).
const udpReplyTimeout = 3

// UDPLoopCommand is the prober of a UDP service: a bash loop that sends
// one datagram per request from a new socket (a new source port, so a new
// scheduling decision: IPVS keys UDP "connections" by it) to vip on the
// ports in turn, and reads the reply with one read of dd (bash's own read
// takes a datagram a byte at a time and loses the rest). It prints the
// frames of CurlLoopCommand: a reply counts as status 200.
func (fr Frames) UDPLoopCommand(vip string, ports []uint16, n int, limit time.Duration) string {
	var words []string
	for k := range n {
		words = append(words, strconv.Itoa(int(ports[k%len(ports)])))
	}
	loop := fmt.Sprintf(`i=0; for p in %s; do i=$((i+1)); echo "%s$i"; `+
		`if exec 3<>/dev/udp/%s/$p; then printf 'lvslab %%s\n' $i >&3; `+
		`if b=$(timeout %d dd bs=65536 count=1 <&3 2>/dev/null) && [ -n "$b" ]; then printf '%%s\n%s200 0 1\n%s0\n' "$b"; `+
		`else echo "udp: no reply from %s port $p within %d s"; echo "%s28"; fi; exec 3<&-; `+
		`else echo "udp: cannot send to %s port $p"; echo "%s7"; fi; done`,
		strings.Join(words, " "), fr.start, vip, udpReplyTimeout, fr.write, fr.rc, vip, udpReplyTimeout, fr.rc, vip, fr.rc)
	return fmt.Sprintf("timeout %d bash -c %s; true", max(int(limit.Round(time.Second)/time.Second), 1), shell.Quote(loop))
}

// ParseCurlLoop reads the output of CurlLoopCommand (and UDPLoopCommand).
func (fr Frames) ParseCurlLoop(out string) []Reply {
	var replies []Reply
	var cur *Reply
	var body []string
	finish := func() {
		if cur == nil {
			return
		}
		cur.Body = cleanBody(body)
		if cur.Exit == 0 && cur.Status == 0 && cur.Err == "" {
			// The frame ended without curl's trailer: the loop was stopped.
			cur.Exit = -1
			cur.Err = "no result: the request loop was stopped (time bound)"
		}
		replies = append(replies, *cur)
		cur, body = nil, nil
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, fr.start):
			finish()
			idx, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, fr.start)))
			cur = &Reply{Index: idx, Connects: -1}
		case cur == nil:
			// noise before the first frame
		case strings.HasPrefix(line, fr.write):
			cur.trailer(strings.Fields(strings.TrimPrefix(line, fr.write)))
		case strings.HasPrefix(line, fr.rc):
			cur.Exit, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, fr.rc)))
		case strings.HasPrefix(line, "curl: ("), strings.HasPrefix(line, "udp: "):
			cur.Err = joinErr(cur.Err, line)
		default:
			body = append(body, line)
		}
	}
	finish()
	return replies
}

// trailer reads the status, time and new connections curl's --write-out
// line gives, as far as it has them.
func (r *Reply) trailer(f []string) {
	if len(f) > 0 {
		r.Status, _ = strconv.Atoi(f[0])
	}
	if len(f) > 1 {
		r.Seconds, _ = strconv.ParseFloat(f[1], 64)
	}
	if len(f) > 2 {
		r.Connects, _ = strconv.Atoi(f[2])
	}
}

// ParseFast reads the output of FastCommand: n frames, each a body then a
// trailer line, then curl's exit status and stderr.
func (fr Frames) ParseFast(out string) (replies []Reply, stderr []string) {
	var body []string
	inStderr := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case inStderr:
			if strings.TrimSpace(line) != "" {
				stderr = append(stderr, line)
			}
		case line == fr.stderr:
			inStderr = true
		case strings.HasPrefix(line, fr.rc):
			// the exit code of the last transfer; each has its own below
		case strings.HasPrefix(line, fr.write):
			r := Reply{Index: len(replies) + 1, Connects: -1, Body: cleanBody(body)}
			body = nil
			f := strings.SplitN(strings.TrimPrefix(line, fr.write), " ", 5)
			r.trailer(f)
			if len(f) > 3 {
				r.Exit, _ = strconv.Atoi(f[3])
			}
			if len(f) > 4 && strings.TrimSpace(f[4]) != "" && r.Exit != 0 {
				r.Err = fmt.Sprintf("curl: (%d) %s", r.Exit, strings.TrimSpace(f[4]))
			}
			if r.Exit == 0 && r.Status == 0 {
				r.Exit = -1 // an old curl without %{exitcode}: no response is a failure
			}
			replies = append(replies, r)
		default:
			body = append(body, line)
		}
	}
	// curl's stderr has one "curl: (N) ..." line per failed transfer, in
	// order: use it where the trailer had no message.
	var errs []string
	for _, l := range stderr {
		if strings.HasPrefix(l, "curl: (") {
			errs = append(errs, l)
		}
	}
	k := 0
	for i := range replies {
		if replies[i].OK() {
			continue
		}
		if replies[i].Err == "" && k < len(errs) {
			replies[i].Err = errs[k]
			if replies[i].Exit < 0 {
				replies[i].Exit = curlCode(errs[k])
			}
		}
		k++
	}
	return replies, stderr
}

// curlCode reads N from "curl: (N) ...".
func curlCode(line string) int {
	rest := strings.TrimPrefix(line, "curl: (")
	if i := strings.IndexByte(rest, ')'); i > 0 {
		if n, err := strconv.Atoi(rest[:i]); err == nil {
			return n
		}
	}
	return -1
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// cleanBody joins body lines and trims the blank line the trailer's
// leading newline leaves.
func cleanBody(lines []string) string {
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// Mapper maps a reply body back to the web node that served it.
type Mapper struct {
	pages map[string]string // trimmed page -> node
	order []string          // pages, longest first
}

// NewMapper builds a mapper from each web node's page. Two nodes with the
// same page cannot be told apart: that is an error.
func NewMapper(pages map[string]string) (*Mapper, error) {
	m := &Mapper{pages: map[string]string{}}
	for node, page := range pages {
		p := strings.TrimSpace(page)
		if p == "" {
			return nil, fmt.Errorf("web node %s has an empty page: its replies cannot be told from others", node)
		}
		if other, dup := m.pages[p]; dup {
			a, b := min(node, other), max(node, other)
			return nil, fmt.Errorf("web nodes %s and %s serve the same page %q: the client cannot tell which one answered; give each a distinct page", a, b, p)
		}
		m.pages[p] = node
		m.order = append(m.order, p)
	}
	// longest first, so that a page containing another wins
	sortByLenDesc(m.order)
	return m, nil
}

func sortByLenDesc(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (len(s[j]) > len(s[j-1]) || len(s[j]) == len(s[j-1]) && s[j] < s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Node returns the node whose page the body is: the exact page first, else
// the longest page the body contains (a page wrapped in HTML).
func (m *Mapper) Node(body string) string {
	b := strings.TrimSpace(body)
	if n, ok := m.pages[b]; ok {
		return n
	}
	for _, p := range m.order {
		if strings.Contains(b, p) {
			return m.pages[p]
		}
	}
	return ""
}
