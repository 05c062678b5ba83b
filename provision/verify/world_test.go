package verify

import (
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/topology"
)

// world is a scripted lab: the director's IPVS table schedules the
// client's requests with the kernel's algorithms, web servers answer with
// their page or refuse when stopped, and every node answers the commands
// verify and the drill send. Commands nobody expects are errors.
type world struct {
	t        *testing.T
	lab      *topology.Lab
	svc      *topology.Service
	sched    string
	pers     int
	dests    []*wdest // kernel list order
	pos      int      // position in the rr/wrr cycle
	up       map[string]bool
	neighMAC string // "" = the director's
	facts    map[string]string
	extra    map[string]int // connections scheduled by other clients
	log      []string
	down     map[string]bool // nodes that cannot be reached
}

type wdest struct {
	node, addr, fwd          string
	weight, active, inactive int
	conns                    int
}

func newWorld(t *testing.T, labName string) *world {
	t.Helper()
	lab, err := labs.Load(labName)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, lab: lab, svc: lab.Services[0], up: map[string]bool{}, facts: map[string]string{}, extra: map[string]int{}, down: map[string]bool{}}
	w.sched = w.svc.Scheduler
	w.pers = w.svc.Persistence
	dir := lab.Director()
	fwd := map[string]string{"nat": "Masq", "dr": "Route", "tun": "Tunnel"}[w.svc.Mode]
	for _, r := range w.svc.RealServers {
		n := lab.Node(r.Node)
		rip := topology.RealServerAddress(dir, n)
		d := &wdest{node: n.Name, addr: netip.AddrPortFrom(rip, r.Port).String(), fwd: fwd, weight: r.Weight}
		w.dests = append([]*wdest{d}, w.dests...) // the kernel adds at the head
		w.up[n.Name] = true
		w.facts[n.Name] = goodFacts(w.svc, n, dir)
	}
	return w
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
	b.WriteString(markRoute + "\n")
	if n.Gateway.IsValid() {
		fmt.Fprintf(&b, "default via %s dev %s proto static\n", n.Gateway, n.NICFor(n.Gateway).Name)
	}
	b.WriteString(markSysctl + "\n")
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

func (w *world) dial(node string) (roles.Executor, error) {
	if w.down[node] {
		return nil, fmt.Errorf("dial tcp %s:22: connect: no route to host", node)
	}
	if w.lab.Node(node) == nil {
		return nil, fmt.Errorf("no node %s", node)
	}
	return &worldExec{w: w, node: node}, nil
}

type worldExec struct {
	w    *world
	node string
}

func (x *worldExec) ReadFile(context.Context, string) ([]byte, bool, error) { return nil, false, nil }
func (x *worldExec) WriteFile(context.Context, string, []byte, fs.FileMode) error {
	return fmt.Errorf("not expected")
}

var (
	reLoopN  = regexp.MustCompile(`-lt (\d+) \]`)
	reURL    = regexp.MustCompile(`http://[0-9.]+(:\d+)?/`)
	reIPVSd  = regexp.MustCompile(`^ipvsadm -d -t (\S+) -r (\S+)$`)
	reIPVSae = regexp.MustCompile(`^ipvsadm -([ae]) -t (\S+) -r (\S+) -([mgi]) -w (\d+)$`)
)

func (x *worldExec) Run(_ context.Context, cmd string) (string, error) {
	w := x.w
	w.log = append(w.log, x.node+": "+cmd)
	n := w.lab.Node(x.node)
	switch {
	case cmd == TableCommand && n.Role == topology.RoleDirector:
		return w.table(), nil
	case strings.Contains(cmd, "@@lvslab-req") && n.Role == topology.RoleClient:
		m := reLoopN.FindStringSubmatch(cmd)
		k, _ := strconv.Atoi(m[1])
		return w.requests(k, true), nil
	case strings.Contains(cmd, "Connection: close") && n.Role == topology.RoleClient:
		return w.requests(len(reURL.FindAllString(cmd, -1)), false), nil
	case strings.HasPrefix(cmd, "ip neigh show ") && n.Role == topology.RoleClient:
		mac := w.neighMAC
		if mac == "" {
			mac = w.lab.Director().NICFor(w.svc.VIP).MAC
		}
		return fmt.Sprintf("%s dev eth0 lladdr %s REACHABLE\n", w.svc.VIP, mac), nil
	case cmd == FactsCommand && n.Role == topology.RoleWeb:
		return w.facts[x.node], nil
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
	case n.Role == topology.RoleDirector && reIPVSd.MatchString(cmd):
		m := reIPVSd.FindStringSubmatch(cmd)
		for i, d := range w.dests {
			if d.addr == m[2] {
				w.dests = append(w.dests[:i:i], w.dests[i+1:]...)
				w.pos = 0
				return "", nil
			}
		}
		return "", fmt.Errorf("ipvsadm: No such destination")
	case n.Role == topology.RoleDirector && reIPVSae.MatchString(cmd):
		m := reIPVSae.FindStringSubmatch(cmd)
		wt, _ := strconv.Atoi(m[5])
		fwd := map[string]string{"m": "Masq", "g": "Route", "i": "Tunnel"}[m[4]]
		for _, d := range w.dests {
			if d.addr == m[3] {
				if m[1] == "a" {
					return "", fmt.Errorf("ipvsadm: Destination already exists")
				}
				d.weight, d.fwd = wt, fwd
				w.pos = 0
				return "", nil
			}
		}
		if m[1] == "e" {
			return "", fmt.Errorf("ipvsadm: No such destination")
		}
		node := ""
		for _, r := range w.svc.RealServers {
			rn := w.lab.Node(r.Node)
			if netip.AddrPortFrom(topology.RealServerAddress(w.lab.Director(), rn), r.Port).String() == m[3] {
				node = rn.Name
			}
		}
		w.dests = append([]*wdest{{node: node, addr: m[3], fwd: fwd, weight: wt}}, w.dests...)
		w.pos = 0
		return "", nil
	}
	w.t.Errorf("unexpected command on %s: %s", x.node, cmd)
	return "", fmt.Errorf("unexpected command")
}

// schedule picks a destination like the kernel.
func (w *world) schedule() *wdest {
	if w.pers > 0 && len(w.dests) > 0 {
		return w.dests[len(w.dests)-1]
	}
	switch w.sched {
	case "rr", "wrr":
		weights := make([]int, len(w.dests))
		for i, d := range w.dests {
			weights[i] = d.weight
		}
		c := WRRCycle(weights)
		if w.sched == "rr" {
			c = RRCycle(weights)
		}
		if len(c) == 0 {
			return nil
		}
		d := w.dests[c[w.pos%len(c)]]
		w.pos++
		return d
	case "sh", "dh", "mh", "lblc", "lblcr":
		for _, d := range w.dests {
			if d.weight > 0 {
				return d
			}
		}
		return nil
	default:
		ds := make([]Dest, len(w.dests))
		for i, d := range w.dests {
			ds[i] = Dest{Weight: d.weight, Active: d.active, Inactive: d.inactive}
		}
		p := pickOnce(w.sched, ds)
		if p < 0 {
			return nil
		}
		return w.dests[p]
	}
}

func (w *world) requests(k int, loop bool) string {
	var b strings.Builder
	vip := w.svc.VIP.String()
	for i := 1; i <= k; i++ {
		if loop {
			fmt.Fprintf(&b, "%s%d\n", markStart, i)
		}
		d := w.schedule()
		ok := false
		if d != nil {
			d.conns++
			d.inactive++
			d.conns += w.extra[d.node]
			ok = w.up[d.node]
		}
		errText := fmt.Sprintf("Failed to connect to %s port %d after 2 ms: Couldn't connect to server", vip, w.svc.Port)
		switch {
		case ok && loop:
			fmt.Fprintf(&b, "%s\n\n%s200 0.012 1\n%s0\n", w.lab.Node(d.node).Page, markWrite, markRC)
		case ok:
			fmt.Fprintf(&b, "%s\n\n%s200 0.012 1 0 \n", w.lab.Node(d.node).Page, markWrite)
		case loop:
			fmt.Fprintf(&b, "curl: (7) %s\n\n%s000 0.002 1\n%s7\n", errText, markWrite, markRC)
		default:
			fmt.Fprintf(&b, "\n%s000 0.002 1 7 %s\n", markWrite, errText)
		}
	}
	if !loop {
		fmt.Fprintf(&b, "%s0\n%s\n", markRC, markStderr)
	}
	return b.String()
}

func (w *world) table() string {
	var b strings.Builder
	b.WriteString("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	proto := strings.ToUpper(w.svc.Protocol)
	addr := netip.AddrPortFrom(w.svc.VIP, w.svc.Port).String()
	fmt.Fprintf(&b, "%s  %s %s", proto, addr, w.sched)
	if w.pers > 0 {
		fmt.Fprintf(&b, " persistent %d", w.pers)
	}
	b.WriteString("\n")
	for _, d := range w.dests {
		fmt.Fprintf(&b, "  -> %-28s %-7s %-6d %-10d %-10d\n", d.addr, d.fwd, d.weight, d.active, d.inactive)
	}
	b.WriteString(markStats + "\n")
	b.WriteString("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  -> RemoteAddress:Port\n")
	total := 0
	for _, d := range w.dests {
		total += d.conns
	}
	fmt.Fprintf(&b, "%-33s%9d%9d%9d%9d%9d\n", proto+"  "+addr, total, total*6, 0, total*336, 0)
	for _, d := range w.dests {
		fmt.Fprintf(&b, "  -> %-28s%9d%9d%9d%9d%9d\n", d.addr, d.conns, d.conns*6, 0, d.conns*336, 0)
	}
	return b.String()
}

// dest returns the world's destination of a node, or nil.
func (w *world) dest(node string) *wdest {
	for _, d := range w.dests {
		if d.node == node {
			return d
		}
	}
	return nil
}
