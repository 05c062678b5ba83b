package roles

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Scheduler names, as ipvsadm -s takes them (moby/ipvs style constants).
const (
	RoundRobin                          = "rr"
	WeightedRoundRobin                  = "wrr"
	LeastConnection                     = "lc"
	WeightedLeastConnection             = "wlc"
	LocalityBasedLeastConnection        = "lblc"
	LocalityBasedLeastConnectionReplica = "lblcr"
	DestinationHashing                  = "dh"
	SourceHashing                       = "sh"
	ShortestExpectedDelay               = "sed"
	NeverQueue                          = "nq"
	WeightedFailover                    = "fo"
	WeightedOverflow                    = "ovf"
	MaglevHashing                       = "mh"
)

// Forwarding methods of a destination (the kernel's IP_VS_CONN_F_* values).
const (
	ConnectionFlagMasq        = 0x0000 // NAT, ipvsadm -m
	ConnectionFlagLocalNode   = 0x0001
	ConnectionFlagTunnel      = 0x0002 // IP-in-IP, ipvsadm -i
	ConnectionFlagDirectRoute = 0x0003 // DR, ipvsadm -g
)

// Service flags.
const (
	// FlagPersistent marks a persistent service (ipvsadm -p Timeout).
	FlagPersistent = 0x0001
	// FlagOnePacket is ipvsadm -o (one-packet scheduling, UDP).
	FlagOnePacket = 0x0004
)

// Service is one IPVS virtual service, named like moby/ipvs.
type Service struct {
	Protocol  string     `json:"protocol,omitempty"` // "tcp" or "udp"; empty for a firewall-mark service
	Address   netip.Addr `json:"address,omitzero"`
	Port      uint16     `json:"port,omitempty"`
	FWMark    uint32     `json:"fwmark,omitempty"`
	SchedName string     `json:"scheduler"`
	Flags     uint32     `json:"flags,omitempty"`
	Timeout   uint32     `json:"timeout,omitempty"` // persistence in seconds when Flags has FlagPersistent
	// Netmask is the persistence granularity (ipvsadm -M) when not /32.
	Netmask netip.Addr `json:"netmask,omitzero"`
	// SchedFlags are ipvsadm -b flags (sh-fallback, sh-port, ...), comma-separated.
	SchedFlags   string        `json:"sched_flags,omitempty"`
	Destinations []Destination `json:"destinations"`
}

// Destination is one real server of a Service.
type Destination struct {
	Address         netip.Addr `json:"address"`
	Port            uint16     `json:"port"`
	ConnectionFlags uint32     `json:"connection_flags"`
	Weight          int        `json:"weight"`
	UpperThreshold  uint32     `json:"upper_threshold,omitempty"`
	LowerThreshold  uint32     `json:"lower_threshold,omitempty"`
	// TunnelType is the encapsulation of a tunnel destination: "ipip" (the
	// default, shown by ipvsadm 1.30+ as --tun-type ipip) or "gue".
	TunnelType string `json:"tunnel_type,omitempty"`
}

// Key is the service's ipvsadm identity: "-t 192.168.4.5:80", "-u ...", "-f 1".
func (s *Service) Key() string {
	if s.FWMark != 0 {
		return "-f " + strconv.FormatUint(uint64(s.FWMark), 10)
	}
	flag := "-t"
	if s.Protocol == "udp" {
		flag = "-u"
	}
	return flag + " " + netip.AddrPortFrom(s.Address, s.Port).String()
}

// Key is the destination's identity within its service: "192.168.2.100:80".
func (d *Destination) Key() string {
	return netip.AddrPortFrom(d.Address, d.Port).String()
}

// ForwardFlag is the ipvsadm switch of a forwarding method.
func ForwardFlag(connFlags uint32) string {
	switch connFlags & 0x7 {
	case ConnectionFlagMasq:
		return "-m"
	case ConnectionFlagTunnel:
		return "-i"
	default:
		return "-g"
	}
}

// serviceOptions is what follows the key on an -A or -E line.
func (s *Service) serviceOptions() string {
	var b strings.Builder
	b.WriteString(" -s " + s.SchedName)
	if s.SchedFlags != "" {
		b.WriteString(" -b " + s.SchedFlags)
	}
	if s.Flags&FlagPersistent != 0 {
		fmt.Fprintf(&b, " -p %d", s.Timeout)
		if s.Netmask.IsValid() && s.Netmask != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			b.WriteString(" -M " + s.Netmask.String())
		}
	}
	if s.Flags&FlagOnePacket != 0 {
		b.WriteString(" -o")
	}
	return b.String()
}

// destOptions is what follows "-r ADDR:PORT" on an -a or -e line.
func (d *Destination) destOptions() string {
	s := fmt.Sprintf(" %s -w %d", ForwardFlag(d.ConnectionFlags), d.Weight)
	if d.ConnectionFlags&0x7 == ConnectionFlagTunnel && d.TunnelType != "" {
		s += " --tun-type " + d.TunnelType
	}
	if d.UpperThreshold != 0 {
		s += fmt.Sprintf(" -x %d", d.UpperThreshold)
	}
	if d.LowerThreshold != 0 {
		s += fmt.Sprintf(" -y %d", d.LowerThreshold)
	}
	return s
}

// SaveLines renders services in ipvsadm-save -n form, one rule a line, in
// the given order.
func SaveLines(services []Service) []string {
	var out []string
	for i := range services {
		s := &services[i]
		out = append(out, "-A "+s.Key()+s.serviceOptions())
		for j := range s.Destinations {
			d := &s.Destinations[j]
			out = append(out, "-a "+s.Key()+" -r "+d.Key()+d.destOptions())
		}
	}
	return out
}

// SaveView is what "ipvsadm -Sn" shows of services: everything but the
// connection thresholds, which only "ipvsadm -Ln --thresholds" shows.
func SaveView(services []Service) []Service {
	out := NormalizeIPVS(services)
	for i := range out {
		for j := range out[i].Destinations {
			out[i].Destinations[j].UpperThreshold = 0
			out[i].Destinations[j].LowerThreshold = 0
		}
	}
	return out
}

// IPVSRules renders a node's IPVS services exactly as "ipvsadm -Sn" prints
// them, so that the rules file can be fed to ipvsadm-restore and compared
// with a read-back.
func IPVSRules(state *NodeState) string {
	return RenderIPVS(state.IPVS)
}

// RenderIPVS is IPVSRules for a list of services.
func RenderIPVS(services []Service) string {
	lines := SaveLines(services)
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// Commands are the ipvsadm commands a student types to build services from
// nothing, in order.
func Commands(services []Service) []string {
	var out []string
	for _, l := range SaveLines(services) {
		out = append(out, "ipvsadm "+l)
	}
	return out
}

// ParseIPVSSave parses "ipvsadm -Sn" (ipvsadm-save -n) output.
func ParseIPVSSave(text string) ([]Service, error) {
	var out []Service
	index := map[string]int{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		bad := func(format string, a ...any) error {
			return fmt.Errorf("ipvsadm rules line %d %q: %s", n+1, line, fmt.Sprintf(format, a...))
		}
		if len(fields) < 3 {
			return nil, bad("too short")
		}
		var svc Service
		if err := parseKey(&svc, fields[1], fields[2]); err != nil {
			return nil, bad("%v", err)
		}
		opts := fields[3:]
		switch fields[0] {
		case "-A", "--add-service":
			if _, dup := index[svc.Key()]; dup {
				return nil, bad("service %s defined twice", svc.Key())
			}
			svc.SchedName = WeightedLeastConnection
			if err := parseServiceOptions(&svc, opts); err != nil {
				return nil, bad("%v", err)
			}
			index[svc.Key()] = len(out)
			out = append(out, svc)
		case "-a", "--add-server":
			i, ok := index[svc.Key()]
			if !ok {
				return nil, bad("real server for service %s, which is not defined before it", svc.Key())
			}
			d, err := parseDestOptions(opts, svc.Port)
			if err != nil {
				return nil, bad("%v", err)
			}
			out[i].Destinations = append(out[i].Destinations, d)
		default:
			return nil, bad("unknown rule %s: expected -A or -a", fields[0])
		}
	}
	return out, nil
}

func parseKey(svc *Service, flag, value string) error {
	switch flag {
	case "-t", "--tcp-service", "-u", "--udp-service":
		ap, err := netip.ParseAddrPort(value)
		if err != nil {
			return fmt.Errorf("%q is not ADDRESS:PORT", value)
		}
		svc.Protocol = "tcp"
		if flag == "-u" || flag == "--udp-service" {
			svc.Protocol = "udp"
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

func parseServiceOptions(svc *Service, opts []string) error {
	for i := 0; i < len(opts); i++ {
		arg := func() (string, error) {
			if i+1 >= len(opts) {
				return "", fmt.Errorf("%s needs a value", opts[i])
			}
			i++
			return opts[i], nil
		}
		switch opts[i] {
		case "-s", "--scheduler":
			v, err := arg()
			if err != nil {
				return err
			}
			svc.SchedName = v
		case "-p", "--persistent":
			svc.Flags |= FlagPersistent
			svc.Timeout = 300 // ipvsadm's default
			if i+1 < len(opts) && !strings.HasPrefix(opts[i+1], "-") {
				t, err := strconv.ParseUint(opts[i+1], 10, 32)
				if err != nil {
					return fmt.Errorf("-p %q is not a number of seconds", opts[i+1])
				}
				svc.Timeout = uint32(t)
				i++
			}
		case "-M", "--netmask":
			v, err := arg()
			if err != nil {
				return err
			}
			m, err := netip.ParseAddr(v)
			if err != nil {
				return fmt.Errorf("-M %q is not a netmask", v)
			}
			svc.Netmask = m
		case "-b", "--sched-flags":
			v, err := arg()
			if err != nil {
				return err
			}
			svc.SchedFlags = v
		case "-o", "--ops", "ops":
			svc.Flags |= FlagOnePacket
		default:
			return fmt.Errorf("unknown service option %s", opts[i])
		}
	}
	return nil
}

func parseDestOptions(opts []string, svcPort uint16) (Destination, error) {
	var d Destination
	d.Weight = 1
	d.ConnectionFlags = ConnectionFlagDirectRoute // ipvsadm's default
	seenServer := false
	for i := 0; i < len(opts); i++ {
		arg := func() (string, error) {
			if i+1 >= len(opts) {
				return "", fmt.Errorf("%s needs a value", opts[i])
			}
			i++
			return opts[i], nil
		}
		num := func() (uint64, error) {
			flag := opts[i]
			v, err := arg()
			if err != nil {
				return 0, err
			}
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return 0, fmt.Errorf("%s %q is not a number", flag, v)
			}
			return n, nil
		}
		switch opts[i] {
		case "-r", "--real-server":
			v, err := arg()
			if err != nil {
				return d, err
			}
			if ap, err := netip.ParseAddrPort(v); err == nil {
				d.Address, d.Port = ap.Addr(), ap.Port()
			} else if a, err := netip.ParseAddr(v); err == nil {
				d.Address, d.Port = a, svcPort
			} else {
				return d, fmt.Errorf("-r %q is not ADDRESS[:PORT]", v)
			}
			seenServer = true
		case "-m", "--masquerading":
			d.ConnectionFlags = ConnectionFlagMasq
		case "-g", "--gatewaying":
			d.ConnectionFlags = ConnectionFlagDirectRoute
		case "-i", "--ipip":
			d.ConnectionFlags = ConnectionFlagTunnel
		case "-w", "--weight":
			n, err := num()
			if err != nil {
				return d, err
			}
			d.Weight = int(n)
		case "-x", "--u-threshold":
			n, err := num()
			if err != nil {
				return d, err
			}
			d.UpperThreshold = uint32(n)
		case "--tun-type":
			v, err := arg()
			if err != nil {
				return d, err
			}
			d.TunnelType = v
		case "-y", "--l-threshold":
			n, err := num()
			if err != nil {
				return d, err
			}
			d.LowerThreshold = uint32(n)
		default:
			return d, fmt.Errorf("unknown real-server option %s", opts[i])
		}
	}
	if !seenServer {
		return d, fmt.Errorf("no -r real server")
	}
	return d, nil
}

// NormalizeIPVS returns a sorted deep copy: services by key, destinations by
// address, so that two rule sets compare regardless of kernel listing order
// (the kernel lists the last added real server first).
func NormalizeIPVS(services []Service) []Service {
	out := make([]Service, len(services))
	for i, s := range services {
		s.Destinations = append([]Destination(nil), s.Destinations...)
		for j := range s.Destinations {
			d := &s.Destinations[j]
			switch {
			case d.ConnectionFlags&0x7 != ConnectionFlagTunnel:
				d.TunnelType = ""
			case d.TunnelType == "":
				d.TunnelType = "ipip" // older ipvsadm does not show the default
			}
		}
		sort.Slice(s.Destinations, func(a, b int) bool {
			return s.Destinations[a].Key() < s.Destinations[b].Key()
		})
		if s.FWMark != 0 {
			s.Protocol = ""
		}
		if s.Flags&FlagPersistent == 0 {
			s.Timeout = 0
			s.Netmask = netip.Addr{}
		} else if s.Netmask == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			s.Netmask = netip.Addr{}
		}
		out[i] = s
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key() < out[b].Key() })
	return out
}

// DiffIPVS returns the fewest ipvsadm commands that turn current into
// desired: -D/-A/-E for services, -d/-a/-e for real servers. None when
// they already match.
func DiffIPVS(current, desired []Service) []string {
	cur := NormalizeIPVS(current)
	want := NormalizeIPVS(desired)
	curBy := map[string]*Service{}
	for i := range cur {
		curBy[cur[i].Key()] = &cur[i]
	}
	wantBy := map[string]bool{}
	for i := range want {
		wantBy[want[i].Key()] = true
	}
	var out []string
	for i := range cur {
		if !wantBy[cur[i].Key()] {
			out = append(out, "ipvsadm -D "+cur[i].Key())
		}
	}
	for i := range want {
		w := &want[i]
		c, ok := curBy[w.Key()]
		if !ok {
			out = append(out, "ipvsadm -A "+w.Key()+w.serviceOptions())
			for j := range w.Destinations {
				d := &w.Destinations[j]
				out = append(out, "ipvsadm -a "+w.Key()+" -r "+d.Key()+d.destOptions())
			}
			continue
		}
		if c.serviceOptions() != w.serviceOptions() {
			out = append(out, "ipvsadm -E "+w.Key()+w.serviceOptions())
		}
		curDest := map[string]*Destination{}
		for j := range c.Destinations {
			curDest[c.Destinations[j].Key()] = &c.Destinations[j]
		}
		wantDest := map[string]bool{}
		for j := range w.Destinations {
			wantDest[w.Destinations[j].Key()] = true
		}
		for j := range c.Destinations {
			if d := &c.Destinations[j]; !wantDest[d.Key()] {
				out = append(out, "ipvsadm -d "+w.Key()+" -r "+d.Key())
			}
		}
		for j := range w.Destinations {
			d := &w.Destinations[j]
			cd, ok := curDest[d.Key()]
			switch {
			case !ok:
				out = append(out, "ipvsadm -a "+w.Key()+" -r "+d.Key()+d.destOptions())
			case cd.destOptions() != d.destOptions():
				out = append(out, "ipvsadm -e "+w.Key()+" -r "+d.Key()+d.destOptions())
			}
		}
	}
	return out
}

// IPVSDifferences describes, one line each, how current differs from
// desired, for error messages; none when they match.
func IPVSDifferences(current, desired []Service) []string {
	var out []string
	for _, cmd := range DiffIPVS(current, desired) {
		rule := strings.TrimPrefix(cmd, "ipvsadm ")
		switch rule[:2] {
		case "-D":
			out = append(out, "unexpected service "+rule[3:])
		case "-A":
			out = append(out, "missing service "+rule[3:])
		case "-E":
			out = append(out, "service differs, want "+rule[3:])
		case "-d":
			out = append(out, "unexpected real server "+rule[3:])
		case "-a":
			out = append(out, "missing real server "+rule[3:])
		case "-e":
			out = append(out, "real server differs, want "+rule[3:])
		}
	}
	return out
}

// ApplyThresholds fills the connection thresholds of services from the
// output of "ipvsadm -Ln --thresholds" (which "ipvsadm -Sn" does not show).
func ApplyThresholds(services []Service, listing string) error {
	type pair struct{ upper, lower uint32 }
	found := map[string]map[string]pair{}
	var svc string
	for n, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "TCP", "UDP":
			flag := "-t"
			if f[0] == "UDP" {
				flag = "-u"
			}
			svc = flag + " " + f[1]
			found[svc] = map[string]pair{}
		case "FWM":
			svc = "-f " + f[1]
			found[svc] = map[string]pair{}
		case "->":
			if svc == "" || len(f) < 4 || f[1] == "RemoteAddress:Port" {
				continue
			}
			u, err1 := strconv.ParseUint(f[2], 10, 32)
			l, err2 := strconv.ParseUint(f[3], 10, 32)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("ipvsadm thresholds line %d %q: not UPPER LOWER numbers", n+1, line)
			}
			found[svc][f[1]] = pair{uint32(u), uint32(l)}
		}
	}
	for i := range services {
		dests, ok := found[services[i].Key()]
		if !ok {
			continue
		}
		for j := range services[i].Destinations {
			d := &services[i].Destinations[j]
			if p, ok := dests[d.Key()]; ok {
				d.UpperThreshold, d.LowerThreshold = p.upper, p.lower
			}
		}
	}
	return nil
}
