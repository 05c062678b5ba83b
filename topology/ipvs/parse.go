package ipvs

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Conn is one entry of the connection table ("ipvsadm -Lnc").
type Conn struct {
	Protocol    string         `json:"protocol"`
	Expire      time.Duration  `json:"expire"`
	State       string         `json:"state"`
	Source      netip.AddrPort `json:"source"`
	Virtual     netip.AddrPort `json:"virtual"`
	Destination netip.AddrPort `json:"destination"`
}

// Table is what Parse read: the services in the order first shown, and
// the connection entries.
type Table struct {
	Services []Service
	Conns    []Conn
}

// What the lines under a header are.
type listing int

const (
	listRules listing = iota
	listPlain
	listThresholds
	listStats
	listRate
	listConns
)

// parser reads ipvsadm's output line by line.
type parser struct {
	t     Table
	mode  listing
	rules map[string]bool // services defined by -A, to refuse a second one
	cur   *Service        // the service the "->" lines belong to
}

// Parse reads what ipvsadm prints: the rules of "ipvsadm -Sn", the
// listings of "ipvsadm -Ln" (plain, --thresholds, --stats, --rate, with or
// without --exact and --nosort) and the connection entries of -Lnc. It
// takes several outputs one after the other: a service shown again (in
// another listing) gets that listing's fields merged in.
func Parse(text string) (Table, error) {
	p := &parser{rules: map[string]bool{}}
	for n, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := p.line(line); err != nil {
			return Table{}, fmt.Errorf("ipvsadm output line %d %q: %w", n+1, line, err)
		}
	}
	return p.t, nil
}

// ParseRules reads "ipvsadm -Sn" output (or a rules file): its services.
func ParseRules(text string) ([]Service, error) {
	t, err := Parse(text)
	return t.Services, err
}

func (p *parser) line(line string) error {
	f := strings.Fields(line)
	switch {
	case strings.HasPrefix(line, "IP Virtual Server version"):
		p.mode, p.cur = listPlain, nil
		return nil
	case f[0] == "Prot":
		p.mode = headerMode(line)
		return nil
	case line == "IPVS connection entries":
		p.mode = listConns
		return nil
	case f[0] == "pro" && p.mode == listConns:
		return nil
	case f[0] == "->" && len(f) > 1 && f[1] == "RemoteAddress:Port":
		return nil
	case strings.HasPrefix(f[0], "-") && f[0] != "->":
		p.mode = listRules
		return p.rule(f)
	case p.mode == listConns:
		return p.conn(f)
	case f[0] == "->":
		return p.dest(f[1:])
	}
	return p.service(f)
}

func headerMode(line string) listing {
	switch {
	case strings.Contains(line, "Uthreshold"):
		return listThresholds
	case strings.Contains(line, "InPkts"):
		return listStats
	case strings.Contains(line, "CPS"):
		return listRate
	}
	return listPlain
}

// ParseOp reads one ipvsadm change, as Op.Rule or Op.Command spells it
// ("-a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1", with or without
// "ipvsadm " before it). The service options of a destination op are not
// known from its line: its Service carries only the key.
func ParseOp(rule string) (Op, error) {
	f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(rule), "ipvsadm "))
	if len(f) == 1 && f[0] == string(Clear) {
		return Op{Action: Clear}, nil
	}
	if len(f) < 3 {
		return Op{}, fmt.Errorf("ipvsadm %q: too short", rule)
	}
	op := Op{Action: Action(f[0])}
	err := parseKey(&op.Service, f[1], f[2])
	switch op.Action {
	case AddService, EditService:
		op.Service.SchedName = WeightedLeastConnection
		if err == nil {
			err = parseServiceOptions(&op.Service, f[3:])
		}
	case AddDest, EditDest, DelDest:
		if err == nil {
			op.Dest, err = parseDestOptions(f[3:], op.Service.Port)
		}
	case DelService:
		if err == nil && len(f) > 3 {
			err = fmt.Errorf("-D takes no options")
		}
	default:
		err = fmt.Errorf("unknown command %s", f[0])
	}
	if err != nil {
		return Op{}, fmt.Errorf("ipvsadm %q: %w", rule, err)
	}
	return op, nil
}

// rule reads one -A or -a line of ipvsadm-save.
func (p *parser) rule(f []string) error {
	if len(f) < 3 {
		return fmt.Errorf("too short")
	}
	var key Service
	if err := parseKey(&key, f[1], f[2]); err != nil {
		return err
	}
	opts := f[3:]
	switch f[0] {
	case "-A", "--add-service":
		if p.rules[key.Key()] {
			return fmt.Errorf("service %s defined twice", key.Key())
		}
		p.rules[key.Key()] = true
		key.SchedName = WeightedLeastConnection
		if err := parseServiceOptions(&key, opts); err != nil {
			return err
		}
		s := p.find(key)
		key.Destinations, key.Stats = s.Destinations, s.Stats
		*s = key
	case "-a", "--add-server":
		s := Find(p.t.Services, key.Key())
		if s == nil {
			return fmt.Errorf("real server for service %s, which is not defined before it", key.Key())
		}
		d, err := parseDestOptions(opts, s.Port)
		if err != nil {
			return err
		}
		if old := s.Dest(d.Key()); old != nil {
			d.ActiveConnections, d.InactiveConnections, d.Stats = old.ActiveConnections, old.InactiveConnections, old.Stats
			*old = d
		} else {
			s.Destinations = append(s.Destinations, d)
		}
	default:
		return fmt.Errorf("unknown rule %s: expected -A or -a", f[0])
	}
	return nil
}

// find returns the table's service with key's identity, adding it when new.
func (p *parser) find(key Service) *Service {
	if s := Find(p.t.Services, key.Key()); s != nil {
		return s
	}
	p.t.Services = append(p.t.Services, key)
	return &p.t.Services[len(p.t.Services)-1]
}

// service reads a listing's service line: "TCP  192.168.4.15:80 wlc
// persistent 300", or the protocol and address followed by counters.
func (p *parser) service(f []string) error {
	if len(f) < 2 {
		return fmt.Errorf("not a service or real server line")
	}
	var key Service
	flag := map[string]string{"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service", "FWM": "-f"}[f[0]]
	if flag == "" {
		return fmt.Errorf("not a service or real server line")
	}
	if err := parseKey(&key, flag, f[1]); err != nil {
		return err
	}
	s := p.find(key)
	p.cur = s
	switch p.mode {
	case listStats, listRate:
		return parseStats(&s.Stats, p.mode, f[2:])
	}
	if len(f) < 3 {
		return fmt.Errorf("want protocol, address and scheduler")
	}
	s.SchedName = f[2]
	return parseListedFlags(s, f[3:])
}

// parseListedFlags reads what follows the scheduler on a listed service:
// "persistent 300 mask 255.255.255.0", "ops", "(sh-fallback,sh-port)".
func parseListedFlags(s *Service, rest []string) error {
	for i := 0; i < len(rest); i++ {
		switch w := rest[i]; {
		case w == "persistent" && i+1 < len(rest):
			t, err := strconv.ParseUint(rest[i+1], 10, 32)
			if err != nil {
				return fmt.Errorf("persistent %q is not a number", rest[i+1])
			}
			s.Flags |= FlagPersistent
			s.Timeout = uint32(t)
			i++
		case w == "mask" && i+1 < len(rest):
			m, err := netip.ParseAddr(rest[i+1])
			if err != nil {
				return fmt.Errorf("mask %q is not a netmask", rest[i+1])
			}
			s.Netmask = m
			i++
		case w == "ops":
			s.Flags |= FlagOnePacket
		case strings.HasPrefix(w, "(") && strings.HasSuffix(w, ")"):
			s.SchedFlags = strings.Trim(w, "()")
		}
	}
	return nil
}

// dest reads a listing's "->" line (without the arrow).
func (p *parser) dest(f []string) error {
	if p.cur == nil {
		return fmt.Errorf("a real server before any service")
	}
	if len(f) < 1 {
		return fmt.Errorf("no real server address")
	}
	ap, err := netip.ParseAddrPort(f[0])
	if err != nil {
		return fmt.Errorf("%q is not ADDRESS:PORT", f[0])
	}
	d := p.cur.Dest(ap.String())
	if d == nil {
		p.cur.Destinations = append(p.cur.Destinations, Destination{Address: ap.Addr(), Port: ap.Port()})
		d = &p.cur.Destinations[len(p.cur.Destinations)-1]
	}
	switch p.mode {
	case listStats, listRate:
		return parseStats(&d.Stats, p.mode, f[1:])
	case listThresholds:
		n, err := numbers(f[1:], 4)
		if err != nil {
			return fmt.Errorf("want upper and lower thresholds, active and inactive connections: %w", err)
		}
		d.UpperThreshold, d.LowerThreshold = uint32(n[0]), uint32(n[1])
		d.ActiveConnections, d.InactiveConnections = int(n[2]), int(n[3])
		return nil
	}
	if len(f) < 5 {
		return fmt.Errorf("want address, forward, weight, active and inactive connections")
	}
	fwd := -1
	for _, m := range forwarding {
		if m.name == f[1] {
			fwd = int(m.flags)
		}
	}
	if fwd < 0 {
		return fmt.Errorf("forwarding method %q is none of Masq, Route, Tunnel, Local", f[1])
	}
	n, err := numbers(f[2:], 3)
	if err != nil {
		return fmt.Errorf("weight and connection counts must be numbers: %w", err)
	}
	d.ConnectionFlags = uint32(fwd)
	d.Weight, d.ActiveConnections, d.InactiveConnections = int(n[0]), int(n[1]), int(n[2])
	return nil
}

// parseStats reads five counters (--stats) or rates (--rate).
func parseStats(st *Stats, mode listing, f []string) error {
	if len(f) < 5 {
		return fmt.Errorf("want an address and five counters")
	}
	var c [5]uint64
	for i := range c {
		v, err := parseLargeNum(f[i])
		if err != nil {
			return err
		}
		c[i] = v
	}
	if mode == listRate {
		st.CPS, st.PPSIn, st.PPSOut, st.BPSIn, st.BPSOut = c[0], c[1], c[2], c[3], c[4]
	} else {
		st.Connections, st.PacketsIn, st.PacketsOut, st.BytesIn, st.BytesOut = c[0], c[1], c[2], c[3], c[4]
	}
	return nil
}

// conn reads one -Lnc entry: "TCP 01:56  SYN_RECV  SRC:PORT VIP:PORT RIP:PORT".
func (p *parser) conn(f []string) error {
	if len(f) < 6 {
		return fmt.Errorf("want protocol, expiry, state, source, virtual and destination")
	}
	c := Conn{Protocol: strings.ToLower(f[0]), State: f[2]}
	mm, ss, ok := strings.Cut(f[1], ":")
	m, err1 := strconv.Atoi(mm)
	s, err2 := strconv.Atoi(ss)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("expiry %q is not MM:SS", f[1])
	}
	c.Expire = time.Duration(m)*time.Minute + time.Duration(s)*time.Second
	for i, dst := range []*netip.AddrPort{&c.Source, &c.Virtual, &c.Destination} {
		ap, err := netip.ParseAddrPort(f[3+i])
		if err != nil {
			return fmt.Errorf("%q is not ADDRESS:PORT", f[3+i])
		}
		*dst = ap
	}
	p.t.Conns = append(p.t.Conns, c)
	return nil
}

func numbers(f []string, n int) ([]uint64, error) {
	if len(f) < n {
		return nil, fmt.Errorf("want %d numbers", n)
	}
	out := make([]uint64, n)
	for i := range out {
		v, err := strconv.ParseUint(f[i], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f[i])
		}
		out[i] = v
	}
	return out, nil
}

// parseLargeNum reads ipvsadm's print_largenum: digits, maybe with a
// K/M/G/T suffix (thousands, millions, ...).
func parseLargeNum(s string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult = 1e3
	case strings.HasSuffix(s, "M"):
		mult = 1e6
	case strings.HasSuffix(s, "G"):
		mult = 1e9
	case strings.HasSuffix(s, "T"):
		mult = 1e12
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a counter", s)
	}
	return v * mult, nil
}

func parseKey(svc *Service, flag, value string) error {
	switch flag {
	case "-t", "--tcp-service", "-u", "--udp-service", "--sctp-service":
		ap, err := netip.ParseAddrPort(value)
		if err != nil {
			return fmt.Errorf("%q is not ADDRESS:PORT", value)
		}
		svc.Protocol = map[string]string{"-u": "udp", "--udp-service": "udp", "--sctp-service": "sctp"}[flag]
		if svc.Protocol == "" {
			svc.Protocol = "tcp"
		}
		svc.Address, svc.Port = ap.Addr(), ap.Port()
	case "-f", "--fwmark-service":
		m, err := strconv.ParseUint(value, 10, 32)
		if err != nil || m == 0 {
			return fmt.Errorf("%q is not a firewall mark", value)
		}
		svc.FWMark = uint32(m)
	default:
		return fmt.Errorf("unknown service type %s", flag)
	}
	return nil
}

// options walks ipvsadm switches, handing each its value on demand.
type options struct {
	opts []string
	i    int
}

func (o *options) value() (string, error) {
	if o.i+1 >= len(o.opts) {
		return "", fmt.Errorf("%s needs a value", o.opts[o.i])
	}
	o.i++
	return o.opts[o.i], nil
}

func (o *options) number() (uint32, error) {
	flag := o.opts[o.i]
	v, err := o.value()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a number", flag, v)
	}
	return uint32(n), nil
}

func parseServiceOptions(svc *Service, opts []string) error {
	o := &options{opts: opts}
	for ; o.i < len(opts); o.i++ {
		var err error
		switch opts[o.i] {
		case "-s", "--scheduler":
			svc.SchedName, err = o.value()
		case "-p", "--persistent":
			svc.Flags |= FlagPersistent
			svc.Timeout = 300 // ipvsadm's default
			if o.i+1 < len(opts) && !strings.HasPrefix(opts[o.i+1], "-") {
				svc.Timeout, err = o.number()
			}
		case "-M", "--netmask":
			var v string
			if v, err = o.value(); err == nil {
				if svc.Netmask, err = netip.ParseAddr(v); err != nil {
					err = fmt.Errorf("-M %q is not a netmask", v)
				}
			}
		case "-b", "--sched-flags":
			svc.SchedFlags, err = o.value()
		case "-o", "--ops", "ops":
			svc.Flags |= FlagOnePacket
		default:
			err = fmt.Errorf("unknown service option %s", opts[o.i])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func parseDestOptions(opts []string, svcPort uint16) (Destination, error) {
	d := Destination{Weight: 1, ConnectionFlags: ConnectionFlagDirectRoute} // ipvsadm's defaults
	seenServer := false
	o := &options{opts: opts}
	for ; o.i < len(opts); o.i++ {
		var err error
		var n uint32
		switch opts[o.i] {
		case "-r", "--real-server":
			var v string
			if v, err = o.value(); err == nil {
				err = parseServer(&d, v, svcPort)
			}
			seenServer = true
		case "-m", "--masquerading":
			d.ConnectionFlags = ConnectionFlagMasq
		case "-g", "--gatewaying":
			d.ConnectionFlags = ConnectionFlagDirectRoute
		case "-i", "--ipip":
			d.ConnectionFlags = ConnectionFlagTunnel
		case "-w", "--weight":
			n, err = o.number()
			d.Weight = int(n)
		case "-x", "--u-threshold":
			d.UpperThreshold, err = o.number()
		case "-y", "--l-threshold":
			d.LowerThreshold, err = o.number()
		case "--tun-type":
			d.TunnelType, err = o.value()
		default:
			err = fmt.Errorf("unknown real-server option %s", opts[o.i])
		}
		if err != nil {
			return d, err
		}
	}
	if !seenServer {
		return d, fmt.Errorf("no -r real server")
	}
	return d, nil
}

func parseServer(d *Destination, v string, svcPort uint16) error {
	if ap, err := netip.ParseAddrPort(v); err == nil {
		d.Address, d.Port = ap.Addr(), ap.Port()
		return nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return fmt.Errorf("-r %q is not ADDRESS[:PORT]", v)
	}
	d.Address, d.Port = a, svcPort
	return nil
}
