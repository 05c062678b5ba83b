package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode"
)

// ModeVRRP is a service without IPVS: keepalived moves the VIP between the
// service's routers by VRRP, and whichever holds it serves it itself (the
// course's keepalived web pair).
const ModeVRRP = "vrrp"

// A router's initial VRRP state (keepalived's "state").
const (
	StateMaster = "MASTER"
	StateBackup = "BACKUP"
)

// Health checkers of a keepalived real server.
const (
	CheckTCP  = "TCP_CHECK"
	CheckHTTP = "HTTP_GET"
)

// Defaults of a keepalived block, the course's values.
const (
	DefaultAdvertInt        = 1
	DefaultDelayLoop        = 6
	DefaultConnectTimeout   = 3
	DefaultRetry            = 3
	DefaultDelayBeforeRetry = 3
	DefaultStatusCode       = 200
)

// Keepalived is a service's high availability: its routers share the VIP by
// VRRP (one VRRP instance, virtual_router_id VRID on the VIP's segment);
// for an IPVS service keepalived also programs the service on every router
// and takes real servers out whose health check fails.
type Keepalived struct {
	// Routers hold the VIP in turn, in file order: the lab's directors for
	// an IPVS service, web nodes for a VRRP-only one.
	Routers   []Router
	VRID      int
	AdvertInt int    // seconds between adverts
	AuthPass  string // auth_type PASS; "" for no authentication
	NoPreempt bool
	// Unicast sends adverts to the other routers' addresses instead of
	// the VRRP multicast group (unicast_src_ip, unicast_peer).
	Unicast bool
	// Sync runs the kernel's connection sync (lvs_sync_daemon) on the
	// VIP's interface, so that connections survive a failover.
	Sync  bool
	Check *HealthCheck // nil: the real servers are never checked
	// DelayLoop is the seconds between health checks (delay_loop).
	DelayLoop int
}

// Router is one node of a VRRP instance.
type Router struct {
	Node     string
	State    string // StateMaster or StateBackup
	Priority int
}

// HealthCheck is how keepalived checks each real server of a service.
type HealthCheck struct {
	Type string // CheckTCP or CheckHTTP
	// Port is the port checked (connect_port); 0 is the real server's port.
	Port             uint16
	ConnectTimeout   int
	Retry            int // retry, the course's nb_get_retry
	DelayBeforeRetry int
	Path             string // HTTP_GET: the URL path
	StatusCode       int    // HTTP_GET: the status a healthy server answers
}

// Router returns the router on node, or nil.
func (k *Keepalived) Router(node string) *Router {
	if i := slices.IndexFunc(k.Routers, func(r Router) bool { return r.Node == node }); i >= 0 {
		return &k.Routers[i]
	}
	return nil
}

// Master is the router that holds the VIP when all are up: the highest
// priority (validation refuses ties).
func (k *Keepalived) Master() *Router {
	var m *Router
	for i := range k.Routers {
		if m == nil || k.Routers[i].Priority > m.Priority {
			m = &k.Routers[i]
		}
	}
	return m
}

// SameInstance tells whether two services' keepalived blocks are one VRRP
// instance: same id, routers, states, priorities and VRRP settings.
func (k *Keepalived) SameInstance(o *Keepalived) bool {
	return k.VRID == o.VRID && slices.Equal(k.Routers, o.Routers) && k.AdvertInt == o.AdvertInt &&
		k.AuthPass == o.AuthPass && k.NoPreempt == o.NoPreempt && k.Unicast == o.Unicast
}

// KeepalivedServices lists the services keepalived carries: the IPVS ones
// with a keepalived block, then the VRRP-only ones, in file order each.
func (l *Lab) KeepalivedServices() []*Service {
	var out []*Service
	for _, s := range l.Services {
		if s.Keepalived != nil {
			out = append(out, s)
		}
	}
	for _, s := range l.VRRPServices {
		if s.Keepalived != nil {
			out = append(out, s)
		}
	}
	return out
}

// KeepalivedNodes lists the nodes that run keepalived, in file order.
func (l *Lab) KeepalivedNodes() []*Node {
	var out []*Node
	for _, n := range l.Nodes {
		for _, s := range l.KeepalivedServices() {
			if s.Keepalived.Router(n.Name) != nil {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

func hasKeepalived(lab *Lab) bool { return len(lab.KeepalivedServices()) > 0 }

// The raw keepalived block of a service, as a teacher writes it.
type rawKeepalived struct {
	Routers     []*rawRouter    `yaml:"routers"`
	VRRP        *rawVRRP        `yaml:"vrrp"`
	HealthCheck *rawHealthCheck `yaml:"health_check"`
	Sync        bool            `yaml:"sync"`
}

type rawRouter struct {
	Node     string `yaml:"node"`
	State    string `yaml:"state"`
	Priority *int64 `yaml:"priority"`
}

type rawVRRP struct {
	VirtualRouterID *int64 `yaml:"virtual_router_id"`
	AdvertInt       *int64 `yaml:"advert_int"`
	AuthPass        string `yaml:"auth_pass"`
	NoPreempt       bool   `yaml:"nopreempt"`
	Unicast         bool   `yaml:"unicast"`
}

type rawHealthCheck struct {
	Type             string `yaml:"type"`
	Port             *int   `yaml:"port"`
	DelayLoop        *int64 `yaml:"delay_loop"`
	ConnectTimeout   *int64 `yaml:"connect_timeout"`
	Retry            *int64 `yaml:"retry"`
	DelayBeforeRetry *int64 `yaml:"delay_before_retry"`
	Path             string `yaml:"path"`
	StatusCode       *int64 `yaml:"status_code"`
}

// buildKeepalived reads a service's keepalived block (nil when it has
// none). What needs every service and node is checked later, by
// checkKeepalived.
func (d *document) buildKeepalived(lab *Lab, s *Service, rk *rawKeepalived, path string) *Keepalived {
	if rk == nil {
		if s.Mode == ModeVRRP {
			d.add(parentPath(path)+".mode", "mode vrrp is a VIP that keepalived moves between routers: the service needs a keepalived block with its routers and vrrp settings")
		}
		return nil
	}
	k := &Keepalived{AdvertInt: DefaultAdvertInt, DelayLoop: DefaultDelayLoop, Sync: rk.Sync}
	d.buildRouters(lab, s, rk.Routers, k, path+".routers")
	d.buildVRRP(rk.VRRP, k, path+".vrrp")
	if rk.HealthCheck != nil {
		k.Check = d.buildHealthCheck(s, rk.HealthCheck, k, path+".health_check")
	}
	if s.Mode == ModeVRRP {
		svc := parentPath(path)
		switch {
		case s.FWMark != 0:
			d.add(svc+".fwmark", "a firewall mark gathers ports for IPVS: a VRRP-only service has none; give its VIP and port")
		case s.Protocol != "tcp":
			d.add(svc+".protocol", "a VRRP-only service's routers serve it with their web server, over TCP: leave protocol out")
		}
		if s.Scheduler != DefaultScheduler {
			d.add(svc+".scheduler", "no IPVS schedules a VRRP-only service (the master answers every request): leave scheduler out")
		}
		if len(s.RealServers) > 0 {
			d.add(svc+".real_servers", "a VRRP-only service has no IPVS to forward to real servers: its routers serve the VIP themselves; leave real_servers out, or use mode dr")
		}
		if k.Check != nil {
			d.add(path+".health_check", "a VRRP-only service has no IPVS, so no real servers for keepalived to check: leave health_check out (or use mode dr with real servers)")
		}
		if rk.Sync {
			d.add(path+".sync", "connection sync copies IPVS connections between directors: a VRRP-only service has none; leave sync out")
		}
	}
	return k
}

func (d *document) buildRouters(lab *Lab, s *Service, raw []*rawRouter, k *Keepalived, path string) {
	if len(raw) == 0 {
		d.add(path, "missing: the nodes that share the VIP by VRRP, like [{node: lvs1, state: MASTER, priority: 100}, {node: lvs2, state: BACKUP, priority: 50}]")
		return
	}
	if len(raw) == 1 {
		d.add(path, "one router fails over to nobody: list at least two nodes that share the VIP")
	}
	role, what := RoleDirector, "an IPVS service's routers are its directors"
	if s.Mode == ModeVRRP {
		role, what = RoleWeb, "a VRRP-only service's routers are the web nodes that serve the VIP themselves"
	}
	for i, rr := range raw {
		rpath := fmt.Sprintf("%s[%d]", path, i)
		if rr == nil {
			d.add(rpath, "empty router: it needs a node and a priority")
			continue
		}
		r := Router{Node: rr.Node, State: strings.ToUpper(rr.State)}
		if d.nodeOf(lab, rpath+".node", rr.Node, role, "missing: the node that runs keepalived", what) != nil && k.Router(rr.Node) != nil {
			d.add(rpath+".node", "%s is listed twice among the routers", rr.Node)
		}
		switch r.State {
		case "":
			r.State = StateBackup // keepalived's own default
		case StateMaster, StateBackup:
		default:
			d.add(rpath+".state", "%q is not a VRRP state: use MASTER or BACKUP (the state a router starts in; the priorities elect the master)", rr.State)
		}
		if p, ok := required(d, rpath+".priority", rr.Priority, 1, 254, "missing: the router's priority, 1 to 254 (the highest holds the VIP)",
			"use 1 to 254 (255 is kept for a router that owns the VIP as its own address)"); ok {
			r.Priority = int(p)
		}
		k.Routers = append(k.Routers, r)
	}
	d.checkElection(k, path)
}

// checkElection refuses routers whose states and priorities make the
// election other than the file suggests.
func (d *document) checkElection(k *Keepalived, path string) {
	master := -1
	for i, r := range k.Routers {
		rpath := fmt.Sprintf("%s[%d]", path, i)
		if r.State == StateMaster {
			if master >= 0 {
				d.add(rpath+".state", "a second MASTER (%s is one already): one router starts as MASTER, the others as BACKUP", k.Routers[master].Node)
			} else {
				master = i
			}
		}
		if r.Priority == 0 {
			continue
		}
		for j := range i {
			if k.Routers[j].Priority == r.Priority {
				d.add(rpath+".priority", "%d is also %s's priority: with equal priorities the election falls to the higher IP address, not to the router you meant; give each router a priority of its own", r.Priority, k.Routers[j].Node)
			}
		}
	}
	if master < 0 {
		return
	}
	m := k.Routers[master]
	for _, r := range k.Routers {
		if m.Priority != 0 && r.Priority > m.Priority {
			d.add(fmt.Sprintf("%s[%d].priority", path, master), "%s starts as MASTER with priority %d, below %s's %d: the higher priority takes the VIP at once; give the MASTER the highest priority", m.Node, m.Priority, r.Node, r.Priority)
			return
		}
	}
}

func (d *document) buildVRRP(rv *rawVRRP, k *Keepalived, path string) {
	if rv == nil {
		d.add(path, "missing: the VRRP settings, at least virtual_router_id (like vrrp: {virtual_router_id: 51, advert_int: 1, auth_pass: \"1111\"})")
		return
	}
	if id, ok := required(d, path+".virtual_router_id", rv.VirtualRouterID, 1, 255, "missing: the VRRP instance's id, 1 to 255, the same on every router and unique on the segment", "use 1 to 255"); ok {
		k.VRID = int(id)
	}
	optional(d, path+".advert_int", rv.AdvertInt, 1, 255, "seconds from 1 to 255 (the backup takes over after 3 adverts missed)", &k.AdvertInt)
	switch {
	case rv.AuthPass == "":
	case len(rv.AuthPass) > 8:
		d.add(path+".auth_pass", "%d characters: keepalived's PASS authentication uses at most 8 and cuts the rest, so write at most 8", len(rv.AuthPass))
	case strings.ContainsFunc(rv.AuthPass, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsGraphic(r) || unicode.IsSpace(r) }):
		d.add(path+".auth_pass", "use printable ASCII without spaces: keepalived.conf reads it as one word")
	default:
		k.AuthPass = rv.AuthPass
	}
	k.NoPreempt, k.Unicast = rv.NoPreempt, rv.Unicast
	if k.NoPreempt {
		for i, r := range k.Routers {
			if r.State == StateMaster {
				d.add(fmt.Sprintf("%s.routers[%d].state", parentPath(path), i), "nopreempt needs every router to start as BACKUP: keepalived ignores nopreempt on a MASTER, so %s would take the VIP back on its return; write state: BACKUP (the priorities still elect the first master)", r.Node)
			}
		}
	}
}

func (d *document) buildHealthCheck(s *Service, rh *rawHealthCheck, k *Keepalived, path string) *HealthCheck {
	c := &HealthCheck{Type: strings.ToUpper(rh.Type), ConnectTimeout: DefaultConnectTimeout, Retry: DefaultRetry, DelayBeforeRetry: DefaultDelayBeforeRetry}
	switch c.Type {
	case CheckTCP, CheckHTTP:
	case "":
		d.add(path+".type", "missing: %s (a TCP connection) or %s (an HTTP request and its status)", CheckTCP, CheckHTTP)
	default:
		d.add(path+".type", "%q is no checker lvslab sets up: use %s or %s", rh.Type, CheckTCP, CheckHTTP)
	}
	if s.Protocol == "udp" && c.Type != "" {
		d.add(path+".type", "%s checks over TCP: a UDP service's real servers answer no TCP connection, so every check would fail and keepalived would take them all out", c.Type)
	}
	optional(d, path+".delay_loop", rh.DelayLoop, 1, 3600, "use 1 to 3600", &k.DelayLoop)
	optional(d, path+".connect_timeout", rh.ConnectTimeout, 1, 300, "use 1 to 300", &c.ConnectTimeout)
	optional(d, path+".retry", rh.Retry, 0, 100, "use 0 to 100", &c.Retry)
	optional(d, path+".delay_before_retry", rh.DelayBeforeRetry, 0, 3600, "use 0 to 3600", &c.DelayBeforeRetry)
	optional(d, path+".port", rh.Port, 1, 65535, "use 1 to 65535", &c.Port)
	if rh.Port == nil && s.FWMark != 0 {
		d.add(path+".port", "missing: a firewall-mark service's real servers have no port of their own; name the port to check (connect_port), one of %s", portText(s.Ports))
	}
	if c.Type == CheckHTTP {
		c.Path, c.StatusCode = rh.Path, DefaultStatusCode
		if c.Path == "" {
			c.Path = "/"
		} else if !strings.HasPrefix(c.Path, "/") || strings.ContainsFunc(c.Path, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsGraphic(r) || unicode.IsSpace(r) }) {
			d.add(path+".path", "%q is not a URL path: start with / and use printable ASCII without spaces, like /index.html", rh.Path)
		}
		optional(d, path+".status_code", rh.StatusCode, 100, 599, "use 100 to 599", &c.StatusCode)
	} else {
		if rh.Path != "" {
			d.add(path+".path", "a path is what %s requests: %s only connects", CheckHTTP, CheckTCP)
		}
		if rh.StatusCode != nil {
			d.add(path+".status_code", "a status code is what %s expects: %s only connects", CheckHTTP, CheckTCP)
		}
	}
	return c
}

// checkKeepalived applies the rules that need the whole lab: directors
// and routers agree, each VIP sits on its routers' segment, one VRRP id is
// one instance per segment, and the real servers serve what is checked.
func (d *document) checkKeepalived(lab *Lab) {
	directors := lab.NodesWithRole(RoleDirector)
	for _, s := range lab.Services {
		switch {
		case s.Keepalived == nil && len(directors) > 1 && hasKeepalived(lab):
			d.add(s.path, "the lab has %d directors: every service needs a keepalived block whose routers are those directors, or the VIP of this one has no owner", len(directors))
		case s.Keepalived == nil:
		case s.Mode == ModeNAT:
			d.add(s.path+".mode", "NAT under keepalived needs the real servers' gateway to move with the VIP as a second VRRP address, which lvslab does not set up: use mode dr (the course's keepalived exercise) or tun")
		default:
			for _, dir := range directors {
				if s.Keepalived.Router(dir.Name) == nil {
					d.add(s.path+".keepalived.routers", "director %s is not among the routers: keepalived would program this service on the others only, and %s would hold nothing", dir.Name, dir.Name)
				}
			}
		}
		if s.Keepalived != nil && s.Persistence > 0 {
			d.add(s.path+".persistence", "persistence left on a keepalived service: each client stays on one real server for %d s (persistence_timeout), so the round robin the exercise shows through the VIP never appears; leave persistence out", s.Persistence)
		}
	}
	type instance struct {
		k       *Keepalived
		path    string
		network string
	}
	byID := map[string]instance{}
	var synced instance
	vipOwner := map[netip.Addr]instance{}
	for _, s := range lab.KeepalivedServices() {
		k, kpath := s.Keepalived, s.path+".keepalived"
		network := d.checkVIPSegment(lab, s)
		if s.VIP.IsValid() {
			if o, ok := vipOwner[s.VIP]; ok && !o.k.SameInstance(k) {
				d.add(s.path+".vip", "%s is also the VIP of %s, in another VRRP instance: two instances would fight over one address; give both services the same routers and vrrp settings", s.VIP, parentPath(o.path))
			} else if !ok {
				vipOwner[s.VIP] = instance{k, kpath, network}
			}
		}
		if k.VRID != 0 && network != "" {
			key := fmt.Sprintf("%s/%d", network, k.VRID)
			if o, ok := byID[key]; ok && !o.k.SameInstance(k) {
				d.add(kpath+".vrrp.virtual_router_id", "virtual_router_id %d is already used on %s by %s with other routers or settings: one id is one VRRP instance on a segment, and two would take each other's adverts for their own; pick another id", k.VRID, network, parentPath(o.path))
			} else if !ok {
				byID[key] = instance{k, kpath, network}
			}
		}
		if k.Sync {
			switch {
			case synced.k == nil:
				synced = instance{k, kpath, network}
			case !k.SameInstance(synced.k):
				d.add(kpath+".sync", "connection sync runs for one VRRP instance only (%s has it already): keepalived ignores a second lvs_sync_daemon", parentPath(synced.path))
			}
		}
		if s.Mode != ModeVRRP && k.Check != nil {
			d.checkHealthPort(lab, s, kpath+".health_check")
		}
		if s.Mode == ModeDR || s.Mode == ModeTUN {
			d.checkBackupDirectors(lab, s)
		}
	}
}

// checkVIPSegment refuses a VIP that is not a host address on one segment
// shared by every router; it returns that segment's network, or "".
func (d *document) checkVIPSegment(lab *Lab, s *Service) string {
	if !s.VIP.IsValid() {
		return ""
	}
	first := lab.Director()
	network := ""
	for _, r := range s.Keepalived.Routers {
		n := lab.Node(r.Node)
		if n == nil {
			continue
		}
		nic := n.NICFor(s.VIP)
		switch {
		case nic == nil && s.Mode != ModeVRRP && n == first:
			return "" // checkVIP said it
		case nic == nil:
			d.add(s.path+".vip", "%s is outside the segment of router %s (%s): keepalived puts the VIP on the router's NIC in its subnet, where the clients' ARP finds it", s.VIP, n.Name, prefixList(n))
			return ""
		case network != "" && nic.Network != network:
			d.add(s.path+".vip", "%s is on %s for %s but on %s for the other routers: VRRP routers of one VIP share one segment", s.VIP, nic.Network, n.Name, network)
			return ""
		case !usableIn(s.VIP, nic.Address.Masked()):
			if s.Mode == ModeVRRP {
				d.add(s.path+".vip", "%s is the network or broadcast address of %s: a VIP is a host address clients connect to", s.VIP, nic.Address.Masked())
			}
			return ""
		}
		network = nic.Network
	}
	if s.Mode == ModeVRRP {
		for _, n := range lab.Nodes {
			if n.HasAddress(s.VIP) {
				d.add(s.path+".vip", "%s is %s's own address: the VIP is a separate address that keepalived adds to the master", s.VIP, n.Name)
				return ""
			}
		}
		if nw := lab.Network(network); nw != nil && nw.Host == s.VIP {
			d.add(s.path+".vip", "%s is the host machine's address on %s", s.VIP, nw.Name)
		}
		for _, o := range lab.Services {
			if o.VIP == s.VIP {
				d.add(s.path+".vip", "%s is also the VIP of %s, an IPVS service: a VRRP-only VIP is served by its routers themselves", s.VIP, o.path)
			}
		}
	}
	return network
}

// checkHealthPort refuses a health check on a port a real server does not
// serve: every check would fail, and keepalived take every server out.
func (d *document) checkHealthPort(lab *Lab, s *Service, path string) {
	for _, r := range s.RealServers {
		port := s.Keepalived.Check.Port
		if port == 0 {
			port = r.Port
		}
		if port == 0 {
			continue // a firewall-mark service without a port: said already
		}
		served := servedPorts(lab, r.Node)
		if !slices.Contains(served, port) {
			at := path + ".port"
			if s.Keepalived.Check.Port == 0 {
				at = path
			}
			d.add(at, "%s does not serve port %d (it serves %s): every %s would fail and keepalived would take %s out; check a port the real servers serve", r.Node, port, portText(served), s.Keepalived.Check.Type, r.Node)
			return
		}
	}
}

// servedPorts are the TCP ports a web node serves: those of the TCP
// services it is a real server of.
func servedPorts(lab *Lab, node string) []uint16 {
	var out []uint16
	for _, s := range lab.Services {
		if s.Protocol != "tcp" {
			continue
		}
		for _, r := range s.RealServers {
			if r.Node != node {
				continue
			}
			ports := []uint16{r.Port}
			if s.FWMark != 0 {
				ports = s.Ports
			}
			for _, p := range ports {
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkBackupDirectors applies checkMode's reachability rules to the
// routers after the first director (checkMode judges that one).
func (d *document) checkBackupDirectors(lab *Lab, s *Service) {
	for _, r := range s.Keepalived.Routers {
		dir := lab.Node(r.Node)
		if dir == nil || dir.Role != RoleDirector || dir == lab.Director() {
			continue
		}
		for j, rr := range s.RealServers {
			rs := lab.Node(rr.Node)
			if rs == nil || rs.Role != RoleWeb {
				continue
			}
			if SharedNetwork(dir, rs) == "" {
				d.add(fmt.Sprintf("%s.real_servers[%d].node", s.path, j), "%s shares no network with director %s: when %s holds the VIP it must reach every real server directly", rs.Name, dir.Name, dir.Name)
			}
		}
	}
}

func portText(ports []uint16) string {
	if len(ports) == 0 {
		return "no port"
	}
	var out []string
	for _, p := range ports {
		out = append(out, fmt.Sprint(p))
	}
	return strings.Join(out, ", ")
}
