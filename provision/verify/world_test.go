package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
	// Keepalived: the routers holding the VIP (the lab's MASTER at
	// first), each other director's own IPVS table (a copy of the lab's
	// at first; w.kernel is the holder's), and the sources of the VRRP
	// adverts a backup hears (nil: the holders' addresses, 3 each).
	holders []string
	kernels map[string]*ipvstest.Kernel
	adverts []netip.Addr
	// The keepalived drill: mu guards the world while the client loop
	// runs beside the drill's actions; acted is closed by the action, and
	// gap is the outage it makes in the loop (seconds from the action);
	// hcPolls counts the reads of the holder's table since a web server
	// stopped or started (keepalived's check acts at the third); sync
	// says whether keepalived.conf has lvs_sync_daemon; the kernel's sync
	// daemons follow it at a reload with it on, and keep running after a
	// reload without it (as keepalived leaves them) until stopped:
	// daemonsSet tells daemons holds that state.
	mu         sync.Mutex
	acted      chan struct{}
	gap        float64
	hcPolls    int
	hcNode     string
	sync       bool
	daemons    bool
	daemonsSet bool
	// slowClient: the download runs out of time (curl -m, exit 28).
	slowClient bool
	// stopResets: a clean stop of keepalived makes the stopping router
	// reset the download (its IPVS rules gone before its VIP); resets
	// counts each router's TCP resets sent (OutRsts).
	stopResets bool
	resets     map[string]int
	dlPending  bool
	// kaDown: routers whose keepalived is stopped ("keepalived") or whose
	// VRRP NIC is down ("link").
	kaDown map[string]string
}

// syncDownload puts the download's connection in the tables of the
// routers that do not hold the VIP, as their sync daemons would.
func (w *world) syncDownload() {
	port := w.freeDownloadPort()
	for n := range w.kernels {
		if !slices.Contains(w.holders, n) {
			w.holdDownloadPort(n, port)
		}
	}
}

// holdDownloadPort puts an ESTABLISHED entry from the client's port in
// node's table, to web1.
func (w *world) holdDownloadPort(node string, port uint16) {
	cip := w.lab.NodesWithRole(topology.RoleClient)[0].Addresses()[0]
	k := w.kernels[node]
	k.Conns = append(k.Conns, ipvs.Conn{Protocol: "TCP", State: "ESTABLISHED", Source: netip.AddrPortFrom(cip, port),
		Virtual: netip.AddrPortFrom(w.svc.VIP, w.svc.Port), Destination: netip.AddrPortFrom(w.dest("web1").Address, w.dest("web1").Port)})
}

// freeDownloadPort is the first download port no router's table holds.
func (w *world) freeDownloadPort() uint16 {
	for p := DownloadPorts[0]; ; p++ {
		held := false
		for _, k := range w.kernels {
			held = held || slices.ContainsFunc(k.Conns, func(c ipvs.Conn) bool { return c.Source.Port() == p })
		}
		if !held {
			return p
		}
	}
}

// heldByHolder: a router that holds the VIP has an entry from port.
func (w *world) heldByHolder(port uint16) bool {
	for _, h := range w.holders {
		if k, ok := w.kernels[h]; ok && slices.ContainsFunc(k.Conns, func(c ipvs.Conn) bool { return c.Source.Port() == port }) {
			return true
		}
	}
	return false
}

// syncRuns: the routers' kernels run their sync daemons.
func (w *world) syncRuns() bool {
	if w.daemonsSet {
		return w.daemons
	}
	return w.sync
}

// kernelOf is a director's IPVS table: the holder's is w.kernel.
func (w *world) kernelOf(node string) *ipvstest.Kernel {
	if k, ok := w.kernels[node]; ok && !slices.Contains(w.holders, node) {
		return k
	}
	return w.kernel
}

func newWorld(t *testing.T, labName string) *world {
	t.Helper()
	lab, err := labs.Load(labName)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, lab: lab, up: map[string]bool{}, facts: map[string]string{}, extra: map[string]int{}, down: map[string]bool{}, mgmtRoute: map[string]bool{}, unmarked: map[uint16]bool{}, kernels: map[string]*ipvstest.Kernel{}, acted: make(chan struct{}), kaDown: map[string]string{}, resets: map[string]int{}}
	if len(lab.Services) == 0 { // VRRP-only: the routers serve the VIP themselves
		w.svc = lab.VRRPServices[0]
		for _, r := range w.svc.Keepalived.Routers {
			w.up[r.Node] = true
		}
		w.holders = []string{w.svc.Keepalived.Master().Node}
		return w
	}
	w.svc = lab.Services[0]
	dir := lab.Director()
	want := roles.IPVSService(lab, w.svc)
	w.key = want.Key()
	var all []ipvs.Service
	for _, s := range lab.Services {
		all = append(all, roles.IPVSService(lab, s))
	}
	w.kernel = ipvstest.New(all)
	if k := w.svc.Keepalived; k != nil {
		w.holders = []string{k.Master().Node}
		for _, r := range k.Routers {
			w.kernels[r.Node] = ipvstest.New(slices.Clone(all))
		}
	}
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

// WriteFile takes the drill's keepalived.conf (--sync): lvs_sync_daemon
// in it turns the world's sync on.
func (x *worldExec) WriteFile(_ context.Context, path string, data []byte, _ fs.FileMode) error {
	if path != "/etc/keepalived/keepalived.conf" {
		return fmt.Errorf("not expected")
	}
	x.w.mu.Lock()
	defer x.w.mu.Unlock()
	if !x.w.daemonsSet {
		x.w.daemons, x.w.daemonsSet = x.w.sync, true
	}
	x.w.sync = strings.Contains(string(data), "lvs_sync_daemon")
	x.w.log = append(x.w.log, x.node+": write "+path)
	return nil
}

var (
	reLocalPort = regexp.MustCompile(`--local-port (\d+) `)
	// a request of the TCP probers: "URL,SOURCEPORT"
	reRequest = regexp.MustCompile(`(http://[0-9.]+(?::\d+)?/),(\d+)`)
	// a loop's frames: its marker, and the start of a request's frame
	reMarker    = regexp.MustCompile(`@@lvslab-[0-9a-f]{16}`)
	reLoopStart = regexp.MustCompile(`@@lvslab-[0-9a-f]{16}-req `)
	// the ports of UDPLoopCommand's datagrams: "for p in 53 53 ...; do"
	reUDPPorts = regexp.MustCompile(`for p in ([0-9 ]+); do`)
)

func (x *worldExec) Run(ctx context.Context, cmd string) (string, error) {
	w := x.w
	if strings.Contains(cmd, "curl -s -m 1.5 --connect-timeout 0.5") || strings.Contains(cmd, "--limit-rate") {
		// The drill's client loop or download: it runs while the drill
		// acts, and answers once the action happened.
		select {
		case <-w.acted:
		case <-time.After(5 * time.Second):
		}
	}
	w.mu.Lock() // a quick run reads the director and the client at once
	defer w.mu.Unlock()
	w.log = append(w.log, x.node+": "+cmd)
	n := w.lab.Node(x.node)
	if out, ok := w.keepalivedDrill(x.node, cmd); ok {
		return out, nil
	}
	switch {
	case ipvstest.Handles(cmd) && n.Role == topology.RoleDirector:
		return w.kernelOf(x.node).Run(cmd)
	case strings.HasPrefix(cmd, AddrCommand+";"):
		var b strings.Builder
		for i, c := range n.NICs {
			if c.Address.IsValid() {
				fmt.Fprintf(&b, "%d: %s    inet %s brd x scope global %s\\       valid_lft forever\n", i+2, c.Name, c.Address, c.Name)
				if slices.Contains(w.holders, x.node) && c.Address.Contains(w.svc.VIP) {
					fmt.Fprintf(&b, "%d: %s    inet %s/%d scope global secondary %s\\       valid_lft forever\n", i+2, c.Name, w.svc.VIP, w.svc.VIPPrefix, c.Name)
				}
			}
		}
		ka, link := "active", "up"
		switch w.kaDown[x.node] {
		case "keepalived":
			ka = "inactive"
		case "link":
			link = "down"
		}
		fmt.Fprintf(&b, "keepalived %s\nlink %s\n", ka, link)
		return b.String(), nil
	case strings.Contains(cmd, "IP4-RECV:112"):
		srcs := w.adverts
		if srcs == nil {
			for _, h := range w.holders {
				if w.kaDown[h] != "" {
					continue // a dead keepalived's VIP lingers; it sends nothing
				}
				for range 3 {
					srcs = append(srcs, w.lab.Node(h).NICFor(w.svc.VIP).Address.Addr())
				}
			}
		}
		var ads []Advert
		for _, src := range srcs {
			prio := 100
			if r := w.svc.Keepalived.Router(nodeWith(w.lab, src)); r != nil {
				prio = r.Priority
			}
			ads = append(ads, Advert{src, w.svc.Keepalived.VRID, prio})
		}
		return AdvertOutput(ads, w.svc.VIP), nil
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
		live := slices.DeleteFunc(slices.Clone(w.holders), func(h string) bool { return w.kaDown[h] != "" })
		if mac == "" && len(live) > 0 { // the last gratuitous ARP: a live master's
			mac = w.lab.Node(live[0]).NICFor(w.svc.VIP).MAC
		} else if mac == "" {
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
		w.hcPolls, w.hcNode = 0, x.node
		w.act(0)
		return "", nil
	case cmd == "systemctl start apache2":
		w.up[x.node] = true
		w.hcPolls, w.hcNode = 0, x.node
		w.act(0)
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
		if sport == 0 && w.kernel != nil {
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
		if w.svc.Mode == topology.ModeVRRP { // the holder serves the VIP itself
			if len(w.holders) > 0 && w.up[w.holders[0]] && loop {
				fmt.Fprintf(&b, "%s\n\n%s200 0.012 1\n%s0\n", w.lab.Node(w.holders[0]).Page, fr.write, fr.rc)
			} else if len(w.holders) > 0 && w.up[w.holders[0]] {
				fmt.Fprintf(&b, "%s\n\n%s200 0.012 1 0 \n", w.lab.Node(w.holders[0]).Page, fr.write)
			} else {
				fmt.Fprintf(&b, "\n%s000 0.002 1 7 Failed to connect to %s port %d after 2 ms: Couldn't connect to server\n", fr.write, vip, port)
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

// nodeWith names the node with address a, "" when none.
func nodeWith(lab *topology.Lab, a netip.Addr) string {
	for _, n := range lab.Nodes {
		if n.HasAddress(a) {
			return n.Name
		}
	}
	return ""
}

// act marks the drill's action: the client loop answers now, with an
// outage of gap seconds after it.
func (w *world) act(gap float64) {
	w.gap = gap
	if w.acted != nil {
		select {
		case <-w.acted:
		default:
			close(w.acted)
		}
	}
}

// The drill's clock in the world: each sleep moves it on.
var worldClock time.Time

func init() {
	drillNow = func() time.Time { return worldClock }
	drillSleep = func(_ context.Context, d time.Duration) error { worldClock = worldClock.Add(d); return nil }
}

// keepalivedDrill answers the keepalived drill's commands: a router's
// failure (the VIP moves to the other router after a gap), its restore
// (preemption unless nopreempt), the client loop, the download, and the
// health check's work (web1 leaves or rejoins the tables at the third
// read of the holder's table).
func (w *world) keepalivedDrill(node, cmd string) (string, bool) {
	k := w.svc.Keepalived
	if k == nil {
		return "", false
	}
	others := func() []string {
		var o []string
		for _, r := range k.Routers {
			if r.Node != node {
				o = append(o, r.Node)
			}
		}
		return o
	}
	switch {
	case cmd == "systemctl stop keepalived":
		w.holders, w.kaDown[node] = others(), "keepalived"
		if w.stopResets {
			w.resets[node]++
		}
		w.act(0.2)
	case cmd == SNMPCommand:
		return fmt.Sprintf("Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm ActiveOpens OutRsts InCsumErrors\nTcp: 1 4 %d 0\n", 7+w.resets[node]), true
	case cmd == "systemctl kill -s KILL keepalived":
		w.holders = append([]string{node}, others()...) // the VIP stays where it was
		w.kaDown[node] = "keepalived"
		w.act(3.6)
	case strings.HasPrefix(cmd, "ip link set ") && strings.HasSuffix(cmd, " down"):
		w.holders, w.kaDown[node] = others(), "link"
		w.act(3.6)
	case strings.HasPrefix(cmd, "ip link set ") && strings.HasSuffix(cmd, " up"):
		delete(w.kaDown, node)
	case strings.HasPrefix(cmd, "systemctl is-active -q keepalived || ip -4 addr del"),
		cmd == "systemctl is-active -q keepalived || "+ipvs.ClearCommand:
	case cmd == "systemctl is-active -q keepalived || systemctl start keepalived":
		delete(w.kaDown, node)
		if !k.NoPreempt && node == k.Master().Node {
			w.holders = []string{node}
		} else {
			w.holders = slices.DeleteFunc(w.holders, func(h string) bool { return h == node })
		}
		w.act(0)
	case cmd == "! systemctl is-active -q keepalived || systemctl reload keepalived":
		if w.sync {
			w.daemons, w.daemonsSet = true, true
		}
	case cmd == ipvs.StopDaemonsCommand:
		w.daemons, w.daemonsSet = false, true
	case cmd == ipvs.DaemonsCommand:
		// The drill reads the daemons once it chose the download's port:
		// with sync, the master's daemon hands the connection to the others.
		if w.dlPending && w.syncRuns() {
			w.syncDownload()
		}
		w.dlPending = false
		if !w.syncRuns() {
			return "", true
		}
		state := map[bool]string{true: "master", false: "backup"}[slices.Contains(w.holders, node)]
		return state + " sync daemon (mcast=eth0, syncid=51)\n", true
	case strings.Contains(cmd, "lvslab-sync-drill") && strings.Contains(cmd, "yes ") && !strings.Contains(cmd, "curl"):
		w.dlPending = true // the download starts after its port is chosen
	case strings.Contains(cmd, "--limit-rate"):
		m := reMarker.FindString(cmd)
		got := "aaaa" + strings.Repeat("0", 60)
		// With the kernel's default receive buffer the whole file is in the
		// client before the failure: it "survives" without sync too.
		// An entry of the new holder from the download's port carries it
		// too, synced or stale.
		port, _ := strconv.Atoi(reLocalPort.FindStringSubmatch(cmd + " --local-port 0 ")[1])
		carried := w.syncRuns() || !strings.Contains(cmd, "sysctl -qw "+DownloadRmemSysctl+"=") || w.heldByHolder(uint16(port))
		if carried && !(w.stopResets && slices.ContainsFunc(k.Routers, func(r topology.Router) bool { return w.resets[r.Node] > 0 })) {
			got = strings.Repeat("b", 64)
		}
		size, rc := "1234567", "56"
		switch {
		case w.slowClient:
			got, rc = "cccc"+strings.Repeat("0", 60), "28"
		case got == strings.Repeat("b", 64):
			size, rc = "4194304", "0"
		}
		return fmt.Sprintf("%s %s %s %s %s\n", m, got, strings.Repeat("b", 64), size, rc), true
	case strings.Contains(cmd, "curl -s -m 1.5 --connect-timeout 0.5"):
		return w.loop(cmd), true
	case cmd == ipvs.SaveCommand && w.hcNode != "":
		w.hcPolls++
		if w.hcPolls == 3 {
			for _, kern := range append([]*ipvstest.Kernel{w.kernel}, w.kernelList()...) {
				svc := &kern.Services[0]
				rip := topology.RealServerAddress(w.lab.Director(), w.lab.Node(w.hcNode))
				has := slices.ContainsFunc(svc.Destinations, func(d ipvs.Destination) bool { return d.Address == rip })
				switch {
				case !w.up[w.hcNode] && has:
					svc.Destinations = slices.DeleteFunc(svc.Destinations, func(d ipvs.Destination) bool { return d.Address == rip })
				case w.up[w.hcNode] && !has:
					svc.Destinations = append(svc.Destinations, ipvs.Destination{Address: rip, Port: 80, ConnectionFlags: ipvs.ConnectionFlagDirectRoute, Weight: 1})
				}
			}
		}
		return "", false
	default:
		return "", false
	}
	return "", true
}

func (w *world) kernelList() []*ipvstest.Kernel {
	var out []*ipvstest.Kernel
	for _, n := range slices.Sorted(maps.Keys(w.kernels)) {
		if w.kernels[n] != w.kernel {
			out = append(out, w.kernels[n])
		}
	}
	return out
}

var reLoopCount = regexp.MustCompile(`while \[ \$i -lt (\d+) \]`)

// loop answers the client loop: a request every 0.1 s from t=1000; the
// action at t=1002; requests fail for the gap after it (a VIP nobody
// answers) or, in a health-check drill, while the stopped web server
// still gets its turn (until keepalived acts, 1 s later here); the
// answering page is the holder's (VRRP-only) or the next real server's.
func (w *world) loop(cmd string) string {
	m := reMarker.FindString(cmd)
	n, _ := strconv.Atoi(reLoopCount.FindStringSubmatch(cmd)[1])
	var b strings.Builder
	var rs []string
	for _, r := range w.svc.RealServers {
		rs = append(rs, r.Node)
	}
	for i := range n {
		t := 1000 + float64(i)*0.1
		node := ""
		if w.svc.Mode == topology.ModeVRRP {
			node = w.svc.Keepalived.Master().Node
			if t > 1002 && len(w.holders) > 0 {
				node = w.holders[len(w.holders)-1]
			}
		} else {
			node = rs[i%len(rs)]
		}
		ok := !(t > 1002 && t < 1002+w.gap)
		if w.hcNode != "" && node == w.hcNode && t > 1002 && t < 1003 && !w.up[w.hcNode] {
			ok = false
		}
		if ok {
			fmt.Fprintf(&b, "%s %.3f 0 %s\n", m, t, w.lab.Node(node).Page)
		} else {
			fmt.Fprintf(&b, "%s %.3f 7 \n", m, t)
		}
	}
	return b.String()
}
