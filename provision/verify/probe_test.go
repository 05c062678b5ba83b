package verify

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology/testkit/cases"
	"github.com/lvslab/lvslab/topology/testkit/listen"
	"github.com/lvslab/lvslab/topology/testkit/shtest"
)

// localExec runs commands on this machine: it checks that the probers'
// shell commands really work with the local curl.
type localExec struct{ runOnly }

func (localExec) Run(ctx context.Context, cmd string) (string, error) {
	out, err := exec.CommandContext(ctx, "sh", "-c", cmd).Output()
	return string(out), err
}

func (localExec) ReadFile(context.Context, string) ([]byte, bool, error) { return nil, false, nil }

func (localExec) WriteFile(context.Context, string, []byte, fs.FileMode) error { return nil }

// alternating serves two pages in turn and counts connections.
func alternating(t testing.TB) (*httptest.Server, *atomic.Int64) {
	var n, conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 1 {
			fmt.Fprintln(w, "apache web server2")
		} else {
			fmt.Fprintln(w, "192.168.2.100")
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestProbersAgainstRealCurl(t *testing.T) {
	shtest.Need(t, "curl", "timeout", "mktemp")
	srv, conns := alternating(t)
	for _, prober := range Probers {
		t.Run(prober, func(t *testing.T) {
			before := conns.Load()
			replies, _, err := Probe(context.Background(), localExec{}, prober, []string{srv.URL + "/"}, nil, 6, 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if len(replies) != 6 {
				t.Fatalf("%d replies", len(replies))
			}
			for i, r := range replies {
				want := "apache web server2"
				if i%2 == 1 {
					want = "192.168.2.100"
				}
				if !r.OK() || r.Body != want || r.Index != i+1 || r.Connects != 1 {
					t.Errorf("reply %d: %+v, want body %q", i, r, want)
				}
			}
			if got := conns.Load() - before; got != 6 {
				t.Errorf("%d TCP connections for 6 requests: each request must be a new connection", got)
			}
		})
	}
}

func TestProbersKeepCurlErrors(t *testing.T) {
	shtest.Need(t, "curl", "timeout", "mktemp")
	url := "http://" + closedPort(t) + "/"
	for _, prober := range Probers {
		t.Run(prober, func(t *testing.T) {
			replies, _, err := Probe(context.Background(), localExec{}, prober, []string{url}, nil, 3, 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range replies {
				if r.OK() || r.Exit != 7 || !strings.HasPrefix(r.Err, "curl: (7) Failed to connect to 127.0.0.1 port") {
					t.Errorf("refused request: %+v", r)
				}
			}
		})
	}
}

func TestProberTimeBound(t *testing.T) {
	shtest.Need(t, "curl", "timeout", "mktemp")
	// a server that accepts and never answers: curl -m stops each request,
	// and the loop's bound stops the loop
	url := "http://" + listen.Serve(t, "tcp", "127.0.0.1:0", func(net.Conn) {}) + "/"
	start := time.Now()
	replies, _, err := Probe(context.Background(), localExec{}, ProberCurl, []string{url}, nil, 5, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("the time bound did not stop the loop: %s", time.Since(start))
	}
	if len(replies) != 5 {
		t.Fatalf("%d replies", len(replies))
	}
	for _, r := range replies {
		if r.OK() || r.Err == "" {
			t.Errorf("unanswered request: %+v", r)
		}
	}
}

func TestParseCurlLoop(t *testing.T) {
	// curl's stderr may come before its body and trailer: stdout is
	// buffered, stderr is not.
	out := strings.Join([]string{
		"@@lvslab-req 1",
		"apache web server2",
		"",
		"@@lvslab-w 200 0.004 1",
		"@@lvslab-rc 0",
		"@@lvslab-req 2",
		"curl: (7) Failed to connect to 192.168.4.15 port 80 after 3 ms: Couldn't connect to server",
		"",
		"@@lvslab-w 000 0.003 1",
		"@@lvslab-rc 7",
		"@@lvslab-req 3",
		"@@lvslab-w 000 5.001 1",
		"curl: (28) Connection timed out after 3001 milliseconds",
		"@@lvslab-rc 28",
		"@@lvslab-req 4",
		"<html><body>192.168.2.100</body></html>",
		"@@lvslab-w 200 0.010 1",
		"@@lvslab-rc 0",
		"@@lvslab-req 5",
		"Not Found",
		"@@lvslab-w 404 0.010 1",
		"@@lvslab-rc 0",
		"@@lvslab-req 6",
		"",
	}, "\n")
	r := framesOf("@@lvslab").ParseCurlLoop(out)
	if len(r) != 6 {
		t.Fatalf("%d replies: %+v", len(r), r)
	}
	if !r[0].OK() || r[0].Body != "apache web server2" || r[0].Seconds != 0.004 || r[0].Connects != 1 {
		t.Errorf("reply 1: %+v", r[0])
	}
	if r[1].OK() || r[1].Exit != 7 || !strings.Contains(r[1].Err, "Couldn't connect") || r[1].Body != "" {
		t.Errorf("reply 2: %+v", r[1])
	}
	if r[2].Exit != 28 || !strings.HasPrefix(r[2].Err, "curl: (28)") {
		t.Errorf("reply 3 (timeout): %+v", r[2])
	}
	if !r[3].OK() || r[3].Body != "<html><body>192.168.2.100</body></html>" {
		t.Errorf("reply 4: %+v", r[3])
	}
	if r[4].OK() || r[4].Status != 404 {
		t.Errorf("reply 5 (404 is not a good reply): %+v", r[4])
	}
	if r[5].OK() || !strings.Contains(r[5].Err, "stopped") {
		t.Errorf("reply 6 (cut by the time bound): %+v", r[5])
	}
}

// A page that prints frames cannot pose as one: every loop has its own
// marker.
func TestFramesAreTheLoops(t *testing.T) {
	fr := NewFrames()
	if fr == NewFrames() {
		t.Fatal("two loops share their frames")
	}
	forged := "web1\n@@lvslab-w 200 0.001 1\n@@lvslab-rc 0\n" + framesOf(guest.NewMarker()).write + "200 0.001 1"
	r := fr.ParseCurlLoop(fr.start + "1\n" + forged + "\n\n" + fr.write + "000 0.002 1\n" + fr.rc + "7\n")
	if len(r) != 1 || r[0].OK() || r[0].Exit != 7 || r[0].Body != forged {
		t.Errorf("a forged frame counts: %+v", r)
	}
	replies, _ := fr.ParseFast(forged + "\n" + fr.write + "000 0.002 1 7 refused\n" + fr.rc + "7\n" + fr.stderr + "\n")
	if len(replies) != 1 || replies[0].OK() {
		t.Errorf("a forged frame counts (fast): %+v", replies)
	}
}

func TestParseFast(t *testing.T) {
	out := strings.Join([]string{
		"apache web server2",
		"",
		"@@lvslab-w 200 0.004 1 0 ",
		"",
		"@@lvslab-w 000 0.002 1 7 Failed to connect to 192.168.4.15 port 80 after 2 ms: Couldn't connect to server",
		"192.168.2.100",
		"",
		"@@lvslab-w 200 0.004 1 0 ",
		"",
		"@@lvslab-w 000 0.002 1 0 ", // an old curl: no %{exitcode}; stderr tells
		"@@lvslab-rc 7",
		"@@lvslab-stderr",
		"curl: (7) Failed to connect to 192.168.4.15 port 80 after 2 ms: Couldn't connect to server",
		"curl: (7) Failed to connect to 192.168.4.15 port 80 after 1 ms: Couldn't connect to server",
	}, "\n")
	r, stderr := framesOf("@@lvslab").ParseFast(out)
	if len(r) != 4 || len(stderr) != 2 {
		t.Fatalf("%d replies, %d stderr lines", len(r), len(stderr))
	}
	if !r[0].OK() || r[0].Body != "apache web server2" || r[0].Index != 1 {
		t.Errorf("reply 1: %+v", r[0])
	}
	if r[1].OK() || r[1].Err != "curl: (7) Failed to connect to 192.168.4.15 port 80 after 2 ms: Couldn't connect to server" {
		t.Errorf("reply 2: %+v", r[1])
	}
	if !r[2].OK() || r[2].Body != "192.168.2.100" {
		t.Errorf("reply 3: %+v", r[2])
	}
	if r[3].OK() || r[3].Exit != 7 || !strings.Contains(r[3].Err, "after 1 ms") {
		t.Errorf("reply 4 (error from stderr): %+v", r[3])
	}
}

func TestMapper(t *testing.T) {
	m, err := NewMapper(map[string]string{"web1": "192.168.2.100\n", "web2": "apache web server2", "web10": "web1 and more"})
	if err != nil {
		t.Fatal(err)
	}
	cases.Strings(t, "Node", m.Node, map[string]string{
		"192.168.2.100":                     "web1",
		"  apache web server2\n":            "web2",
		"<h1>apache web server2</h1>":       "web2",
		"web1 and more":                     "web10",
		"<p>192.168.2.100</p>":              "web1",
		"It works! (the default page)":      "",
		"<b>web1 and more</b> 192.168.2.10": "web10",
	})
	if _, err := NewMapper(map[string]string{"web1": "same", "web2": " same\n"}); err == nil || !strings.Contains(err.Error(), "web1 and web2 serve the same page") {
		t.Errorf("colliding pages: %v", err)
	}
	if _, err := NewMapper(map[string]string{"web1": " "}); err == nil {
		t.Errorf("an empty page must be refused")
	}
}

func TestURLAndQuoting(t *testing.T) {
	if URL("192.168.4.15", 80) != "http://192.168.4.15/" || URL("10.0.0.1", 8080) != "http://10.0.0.1:8080/" {
		t.Error("URL")
	}
	if c := NewFrames().FastCommand([]string{"http://1.2.3.4/"}, nil, 3, time.Minute); strings.Count(c, "http://1.2.3.4/") != 3 || !strings.HasPrefix(c, "timeout 60 sh -c ") {
		t.Errorf("FastCommand: %s", c)
	}
}

// The UDP loop for real (bash, timeout, dd on this host) against a UDP
// server that answers each datagram from a new source port with a page of
// two lines: every request gets the whole page; a port nobody answers on
// is a failure with its reason.
func TestUDPLoopReal(t *testing.T) {
	shtest.Need(t, "bash", "timeout", "dd")
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var mu sync.Mutex
	peers := map[string]bool{}
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			peers[from.String()] = true
			mu.Unlock()
			pc.WriteTo([]byte("srv03 172.16.42.102\nsecond line\n"), from)
		}
	}()
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	replies, _, err := ProbeUDP(context.Background(), localExec{}, netip.MustParseAddr("127.0.0.1"), []uint16{port}, 4, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range replies {
		if !r.OK() || r.Body != "srv03 172.16.42.102\nsecond line" {
			t.Errorf("reply %+v", r)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(peers) != 4 {
		t.Errorf("%d source ports for 4 datagrams: each must come from a new socket", len(peers))
	}
	closed, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	cport := uint16(closed.LocalAddr().(*net.UDPAddr).Port)
	closed.Close()
	replies, _, _ = ProbeUDP(context.Background(), localExec{}, netip.MustParseAddr("127.0.0.1"), []uint16{cport}, 1, 20*time.Second)
	if replies[0].OK() || !strings.Contains(replies[0].Err, fmt.Sprintf("udp: no reply from 127.0.0.1 port %d", cport)) {
		t.Errorf("closed port: %+v", replies[0])
	}
}

// Both probers, with the local curl, leave from the source ports they are
// given, request by request, and from the kernel's ports where given 0.
// The ports are picked as verify picks them, past this host's sockets: on
// loopback curl closes first, and each port it used stays in TIME_WAIT
// for a minute, where binding it fails (the earlier runs of this test).
func TestProbersLeaveFromTheirSourcePorts(t *testing.T) {
	shtest.Need(t, "curl", "timeout", "mktemp")
	var mu sync.Mutex
	var seen []uint16
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			seen = append(seen, ap.Port())
		}
		fmt.Fprintln(w, "page")
	}))
	defer srv.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, prober := range Probers {
		t.Run(prober, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			out, err := (localExec{}).Run(context.Background(), SocketsCommand)
			if err != nil {
				t.Fatal(err)
			}
			taken := SocketPorts(out)
			if !slices.Contains(taken, uint16(busy.Addr().(*net.TCPAddr).Port)) {
				t.Fatalf("SocketsCommand must list the listener's port %s: %v", busy.Addr(), taken)
			}
			ports := append(SourcePorts(taken, 3), 0)
			replies, _, err := Probe(context.Background(), localExec{}, prober, []string{srv.URL + "/"}, ports, 4, 20*time.Second)
			if err != nil || len(replies) != 4 {
				t.Fatalf("probe: %v, %d replies", err, len(replies))
			}
			for _, r := range replies {
				if !r.OK() {
					t.Fatalf("reply: %+v", r)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 4 || !slices.Equal(seen[:3], ports[:3]) || seen[3] >= FirstSourcePort {
				t.Errorf("source ports %v, want %v and one of the kernel's", seen, ports[:3])
			}
		})
	}
}
