package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
	"github.com/lvslab/lvslab/topology/ipvs/ipvstest"
)

// world is a scripted lab: the director's IPVS table (the shared kernel
// simulator) schedules the client's requests, web servers answer with
// their page or refuse when stopped, and every node answers the commands
// verify and the drill send. Commands nobody expects are errors.
type world struct {
	mu       sync.Mutex
	t        *testing.T
	lab      *topology.Lab
	svc      *topology.Service
	key      string // the service's IPVS key
	kernel   *ipvstest.Kernel
	up       map[string]bool
	neighMAC string // "" = the director's
	facts    map[string]string
	extra    map[string]int // connections scheduled by other clients
	log      []string
	down     map[string]bool // nodes that cannot be reached
	// mgmtRoute: nodes whose route leaves by the management NIC (a broken lab).
	mgmtRoute map[string]bool
	// unmarked: ports of a firewall-mark service the director does not mark
	// (their requests reach no IPVS service and are refused).
	unmarked map[uint16]bool
	// kernelPorts: the source ports the client's kernel gives, in turn, to
	// requests that leave it the choice (then 40000 up).
	kernelPorts []uint16
	// clientBusy: source ports the client's sockets hold (TIME_WAIT): a
	// request bound to one fails.
	clientBusy []uint16
}

func newWorld(t *testing.T, labName string) *world {
	t.Helper()
	lab, err := labs.Load(labName)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, lab: lab, svc: lab.Services[0], up: map[string]bool{}, facts: map[string]string{}, extra: map[string]int{}, down: map[string]bool{}, mgmtRoute: map[string]bool{}, unmarked: map[uint16]bool{}}
	dir := lab.Director()
	want := roles.IPVSService(lab, w.svc)
	w.key = want.Key()
	var all []ipvs.Service
	for _, s := range lab.Services {
		all = append(all, roles.IPVSService(lab, s))
	}
	w.kernel = ipvstest.New(all)
	for _, r := range w.svc.RealServers {
		n := lab.Node(r.Node)
		w.up[n.Name] = true
		w.facts[n.Name] = goodFacts(w.svc, n, dir)
	}
	return w
}

// service is the director's live IPVS service.
func (w *world) service() *ipvs.Service { return w.kernel.Service(w.key) }

// A real server's facts as the world keeps them: its addresses, then its
// route and sysctl sections after these lines; answerFacts frames them.
const (
	factsRoute  = "@@route"
	factsSysctl = "@@sysctl"
)

// answerFacts answers the facts probe script with the facts kept.
func answerFacts(script, facts string) (string, bool) {
	_, marker, secs, ok := guest.ReadScript(script)
	if !ok || len(secs) != 4 || secs[0].Name != secAddrs {
		return "", false
	}
	addrs, rest, _ := strings.Cut(facts, factsRoute+"\n")
	route, sysctl, _ := strings.Cut(rest, factsSysctl+"\n")
	return guest.Frame(marker, secAddrs) + addrs + guest.Frame(marker, secRoute) + route +
		guest.Frame(marker, secSysctl) + sysctl + guest.Frame(marker, guest.EndSection), true
}

// goodFacts is a correctly configured real server.
func goodFacts(s *topology.Service, n, dir *topology.Node) string {
	var b strings.Builder
	b.WriteString("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n")
	for i, a := range n.Addresses() {
		fmt.Fprintf(&b, "%d: %s    inet %s scope global %s\\       valid_lft forever\n", i+2, n.NICFor(a).Name, n.NICFor(a).Address, n.NICFor(a).Name)
	}
	switch s.Mode {
	case "dr":
		fmt.Fprintf(&b, "1: lo    inet %s/32 scope global lo:0\\       valid_lft forever\n", s.VIP)
	case "tun":
		fmt.Fprintf(&b, "5: tunl0    inet %s/32 scope global tunl0\\       valid_lft forever\n", s.VIP)
	}
	b.WriteString(factsRoute + "\n")
	if n.Gateway.IsValid() {
		fmt.Fprintf(&b, "default via %s dev %s proto static\n", n.Gateway, n.NICFor(n.Gateway).Name)
	}
	b.WriteString(factsSysctl + "\n")
	arp := s.Mode != "nat"
	for _, dev := range []string{"all", "default", "lo", "eth0", "eth1", "tunl0"} {
		ig, an, rp := 0, 0, 2
		if arp && (dev == "all" || dev == "lo") {
			ig, an = 1, 2
		}
		if s.Mode == "tun" && (dev == "all" || dev == "tunl0") {
			rp = 0
		}
		fmt.Fprintf(&b, "/proc/sys/net/ipv4/conf/%s/arp_ignore:%d\n/proc/sys/net/ipv4/conf/%s/arp_announce:%d\n/proc/sys/net/ipv4/conf/%s/rp_filter:%d\n", dev, ig, dev, an, dev, rp)
	}
	return b.String()
}

func (w *world) dial(node string) (guest.Executor, error) {
	if w.down[node] {
		return nil, fmt.Errorf("dial tcp %s:22: connect: no route to host", node)
	}
	if w.lab.Node(node) == nil {
		return nil, fmt.Errorf("no node %s", node)
	}
	return &worldExec{w: w, node: node}, nil
}

type worldExec struct {
	runOnly
	w    *world
	node string
}

func (x *worldExec) ReadFile(context.Context, string) ([]byte, bool, error) { return nil, false, nil }
func (x *worldExec) WriteFile(context.Context, string, []byte, fs.FileMode) error {
	return fmt.Errorf("not expected")
}

var (
	// a request of the TCP probers: "URL,SOURCEPORT"
	reRequest = regexp.MustCompile(`(http://[0-9.]+(?::\d+)?/),(\d+)`)
	// a loop's frames: its marker, and the start of a request's frame
	reMarker    = regexp.MustCompile(`@@lvslab-[0-9a-f]{16}`)
	reLoopStart = regexp.MustCompile(`@@lvslab-[0-9a-f]{16}-req `)
	// the ports of UDPLoopCommand's datagrams: "for p in 53 53 ...; do"
	reUDPPorts = regexp.MustCompile(`for p in ([0-9 ]+); do`)
)

func (x *worldExec) Run(_ context.Context, cmd string) (string, error) {
	w := x.w
	w.mu.Lock() // a quick run reads the director and the client at once
	defer w.mu.Unlock()
	w.log = append(w.log, x.node+": "+cmd)
	n := w.lab.Node(x.node)
	switch {
	case ipvstest.Handles(cmd) && n.Role == topology.RoleDirector:
		return w.kernel.Run(cmd)
	case strings.Contains(cmd, "/dev/udp/") && n.Role == topology.RoleClient:
		fr := loopFrames(cmd)
		var urls []string
		for _, p := range strings.Fields(reUDPPorts.FindStringSubmatch(cmd)[1]) {
			urls = append(urls, "udp://"+w.svc.VIP.String()+":"+p)
		}
		return w.requests(fr, urls, nil, true), nil
	case reLoopStart.MatchString(cmd) && n.Role == topology.RoleClient:
		urls, ports := requestList(cmd)
		return w.requests(loopFrames(cmd), urls, ports, true), nil
	case strings.Contains(cmd, "Connection: close") && n.Role == topology.RoleClient:
		urls, ports := requestList(cmd)
		return w.requests(loopFrames(cmd), urls, ports, false), nil
	case cmd == SocketsCommand && n.Role == topology.RoleClient:
		var b strings.Builder
		b.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
		for i, p := range w.clientBusy {
			fmt.Fprintf(&b, "%4d: 0A04A8C0:%04X 0F04A8C0:0050 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n", i, p)
		}
		return b.String(), nil
	case strings.HasPrefix(cmd, "ip neigh show ") && n.Role == topology.RoleClient:
		mac := w.neighMAC
		if mac == "" {
			mac = w.lab.Director().NICFor(w.svc.VIP).MAC
		}
		return fmt.Sprintf("%s dev eth0 lladdr %s REACHABLE\n", w.svc.VIP, mac), nil
	case strings.HasPrefix(cmd, "ip -4 -o route get "):
		return w.route(x.node, cmd), nil
	case strings.Contains(cmd, "ip -o -4 addr show") && n.Role == topology.RoleWeb:
		if out, ok := answerFacts(cmd, w.facts[x.node]); ok {
			return out, nil
		}
	case cmd == DetectCommand && n.Role == topology.RoleWeb:
		st := "inactive"
		if w.up[x.node] {
			st = "active"
		}
		return "apache2 " + st + "\n", nil
	case cmd == "systemctl stop apache2":
		w.up[x.node] = false
		return "", nil
	case cmd == "systemctl start apache2":
		w.up[x.node] = true
		return "", nil
	}
	w.t.Errorf("unexpected command on %s: %s", x.node, cmd)
	return "", fmt.Errorf("unexpected command")
}

// nodeOf names the lab node behind a destination.
func (w *world) nodeOf(d *ipvs.Destination) string {
	for _, r := range w.svc.RealServers {
		n := w.lab.Node(r.Node)
		if topology.RealServerAddress(w.lab.Director(), n) == d.Address && (r.Port == d.Port || w.svc.FWMark != 0) {
			return n.Name
		}
	}
	return ""
}

// keyFor is the IPVS service a request to url reaches: the UDP or TCP
// service of its port, the firewall-mark service when the port is marked;
// "" when none.
func (w *world) keyFor(url string, port uint16) string {
	udp := strings.HasPrefix(url, "udp://")
	for _, s := range w.lab.Services {
		if (s.Protocol == "udp") == udp && slices.Contains(s.ClientPorts(), port) && !(s.FWMark != 0 && w.unmarked[port]) {
			v := roles.IPVSService(w.lab, s)
			return v.Key()
		}
	}
	return ""
}

// requestList reads a TCP prober's requests: URLs and source ports.
func requestList(cmd string) (urls []string, ports []uint16) {
	for _, m := range reRequest.FindAllStringSubmatch(cmd, -1) {
		p, _ := strconv.Atoi(m[2])
		urls, ports = append(urls, m[1]), append(ports, uint16(p))
	}
	return urls, ports
}

// loopFrames are the frames of the loop cmd: its marker's.
func loopFrames(cmd string) Frames { return framesOf(reMarker.FindString(cmd)) }

// requests answers one request per URL: the director schedules it on the
// service, unless its port is one the director does not mark (unmarked),
// or its source port is that of an entry the director holds in FIN_WAIT
// (then it goes to that entry's server, unscheduled and uncounted, as
// conn_reuse_mode 1 does).
func (w *world) requests(fr Frames, urls []string, ports []uint16, loop bool) string {
	var b strings.Builder
	vip := w.svc.VIP.String()
	for i := 1; i <= len(urls); i++ {
		if loop {
			fmt.Fprintf(&b, "%s%d\n", fr.start, i)
		}
		port := uint16(80)
		if c := strings.LastIndex(urls[i-1], ":"); c > len("udp:") {
			n, _ := strconv.Atoi(strings.TrimSuffix(urls[i-1][c+1:], "/"))
			port = uint16(n)
		}
		sport := uint16(0)
		if i-1 < len(ports) {
			sport = ports[i-1]
		}
		if sport == 0 {
			sport = uint16(40000 + len(w.kernel.Conns))
			if len(w.kernelPorts) > 0 {
				sport, w.kernelPorts = w.kernelPorts[0], w.kernelPorts[1:]
			}
		}
		if slices.Contains(w.clientBusy, sport) {
			const bind = "bind failed with errno 98: Address already in use"
			if loop {
				fmt.Fprintf(&b, "curl: (45) %s\n\n%s000 0.001 0\n%s45\n", bind, fr.write, fr.rc)
			} else {
				fmt.Fprintf(&b, "\n%s000 0.001 0 45 %s\n", fr.write, bind)
			}
			continue
		}
		var d *ipvs.Destination
		reused := w.held(sport)
		if reused != nil {
			d = reused
		} else if key := w.keyFor(urls[i-1], port); key != "" {
			d = w.kernel.Schedule(key)
		}
		ok, node := false, ""
		if d != nil {
			node = w.nodeOf(d)
			ok = w.up[node]
		}
		if d != nil && reused == nil {
			d.Stats.Connections += uint64(w.extra[node])
			w.connect(d, sport)
		}
		errText := fmt.Sprintf("Failed to connect to %s port %d after 2 ms: Couldn't connect to server", vip, port)
		switch {
		case ok && loop:
			fmt.Fprintf(&b, "%s\n\n%s200 0.012 1\n%s0\n", w.lab.Node(node).Page, fr.write, fr.rc)
		case ok:
			fmt.Fprintf(&b, "%s\n\n%s200 0.012 1 0 \n", w.lab.Node(node).Page, fr.write)
		case loop:
			fmt.Fprintf(&b, "curl: (7) %s\n\n%s000 0.002 1\n%s7\n", errText, fr.write, fr.rc)
		default:
			fmt.Fprintf(&b, "\n%s000 0.002 1 7 %s\n", fr.write, errText)
		}
	}
	if !loop {
		fmt.Fprintf(&b, "%s0\n%s\n", fr.rc, fr.stderr)
	}
	return b.String()
}

// held is the destination of the director's FIN_WAIT entry for the
// client's source port sport, nil when there is none.
func (w *world) held(sport uint16) *ipvs.Destination {
	for _, c := range w.kernel.Conns {
		if c.State != "FIN_WAIT" || c.Source.Port() != sport || c.Virtual.Addr() != w.svc.VIP {
			continue
		}
		svc := w.service()
		for i := range svc.Destinations {
			if svc.Destinations[i].Address == c.Destination.Addr() {
				return &svc.Destinations[i]
			}
		}
	}
	return nil
}

// connect notes a connection from the client's lab address in the
// director's table, as the kernel does: closed, TIME_WAIT where the
// director sees both ways (NAT), FIN_WAIT where it sees the client's
// packets only (DR, TUN).
func (w *world) connect(d *ipvs.Destination, sport uint16) {
	cip := w.lab.NodesWithRole(topology.RoleClient)[0].Addresses()[0]
	state := "TIME_WAIT"
	if w.svc.Mode != "nat" {
		state = "FIN_WAIT"
	}
	w.kernel.Conns = append(w.kernel.Conns, ipvs.Conn{
		Protocol: "TCP", State: state,
		Source:      netip.AddrPortFrom(cip, sport),
		Virtual:     netip.AddrPortFrom(w.svc.VIP, w.svc.Port),
		Destination: netip.AddrPortFrom(d.Address, d.Port),
	})
}

// route is "ip -o route get" on node: over the NIC of the destination's
// network, else the gateway's.
func (w *world) route(node, cmd string) string {
	n := w.lab.Node(node)
	to := netip.MustParseAddr(strings.TrimPrefix(cmd, "ip -4 -o route get "))
	nic := n.NICFor(to)
	if nic == nil && n.Gateway.IsValid() {
		nic = n.NICFor(n.Gateway)
	}
	if w.mgmtRoute[node] || nic == nil {
		return fmt.Sprintf("%s dev mgmt0 src 10.250.0.10 uid 0 \\    cache \n", to)
	}
	return fmt.Sprintf("%s dev %s src %s uid 0 \\    cache \n", to, nic.Name, nic.Address.Addr())
}

// dest returns the director's destination of a node, or nil.
func (w *world) dest(node string) *ipvs.Destination {
	svc := w.service()
	for i := range svc.Destinations {
		if w.nodeOf(&svc.Destinations[i]) == node {
			return &svc.Destinations[i]
		}
	}
	return nil
}

// runOnly makes a fake that only runs commands a guest.Executor: verify
// and the drill read and write no file.
type runOnly struct{}

func (runOnly) ReadFile(context.Context, string) ([]byte, bool, error) {
	return nil, false, errors.New("verify reads no file")
}

func (runOnly) WriteFile(context.Context, string, []byte, fs.FileMode) error {
	return errors.New("verify writes no file")
}
