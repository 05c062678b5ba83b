package verify

import (
	"fmt"
	"strconv"
	"strings"
)

// TableCommand reads the director's IPVS table in the kernel's list order
// (--nosort: the scheduler walks that order), then its counters.
const TableCommand = "ipvsadm -Ln --nosort; echo '" + markStats + "'; ipvsadm -Ln --stats --exact --nosort"

const markStats = "@@lvslab-stats"

// TableService is one virtual service read from "ipvsadm -Ln" and
// "ipvsadm -Ln --stats".
type TableService struct {
	// Key is "tcp 192.168.4.15:80", "udp ...", or "fwm 1".
	Key         string      `json:"key"`
	Scheduler   string      `json:"scheduler"`
	Persistence int         `json:"persistence,omitempty"`
	Flags       string      `json:"flags,omitempty"`
	Conns       uint64      `json:"conns"`
	Dests       []TableDest `json:"dests"`
}

// TableDest is one real server of a TableService.
type TableDest struct {
	Addr     string `json:"addr"` // "192.168.2.100:80"
	Forward  string `json:"forward"`
	Weight   int    `json:"weight"`
	Active   int    `json:"active"`
	Inactive int    `json:"inactive"`
	// Counters from --stats.
	Conns    uint64 `json:"conns"`
	InPkts   uint64 `json:"in_pkts"`
	OutPkts  uint64 `json:"out_pkts"`
	InBytes  uint64 `json:"in_bytes"`
	OutBytes uint64 `json:"out_bytes"`
}

// Dest returns the destination with that address, or nil.
func (s *TableService) Dest(addr string) *TableDest {
	for i := range s.Dests {
		if s.Dests[i].Addr == addr {
			return &s.Dests[i]
		}
	}
	return nil
}

// serviceKey turns "TCP", "192.168.4.15:80" into "tcp 192.168.4.15:80".
func serviceKey(proto, addr string) string {
	return strings.ToLower(proto) + " " + addr
}

// LabKey is the table key of a lab service (topology.Service.Key form
// "-t 1.2.3.4:80" -> "tcp 1.2.3.4:80").
func LabKey(key string) string {
	switch {
	case strings.HasPrefix(key, "-t "):
		return "tcp " + key[3:]
	case strings.HasPrefix(key, "-u "):
		return "udp " + key[3:]
	case strings.HasPrefix(key, "-f "):
		return "fwm " + key[3:]
	}
	return key
}

// ParseList parses "ipvsadm -Ln" (any of its list forms without --stats).
func ParseList(text string) ([]TableService, error) {
	var out []TableService
	for n, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(line, "IP Virtual Server") || strings.HasPrefix(line, "Prot ") || strings.HasPrefix(line, "-> RemoteAddress") {
			continue
		}
		if f[0] == "->" {
			if len(out) == 0 {
				return nil, fmt.Errorf("ipvsadm -Ln line %d %q: a real server before any service", n+1, line)
			}
			if len(f) < 6 {
				return nil, fmt.Errorf("ipvsadm -Ln line %d %q: want address, forward, weight, active and inactive connections", n+1, line)
			}
			d := TableDest{Addr: f[1], Forward: f[2]}
			var err1, err2, err3 error
			d.Weight, err1 = strconv.Atoi(f[3])
			d.Active, err2 = strconv.Atoi(f[4])
			d.Inactive, err3 = strconv.Atoi(f[5])
			if err1 != nil || err2 != nil || err3 != nil {
				return nil, fmt.Errorf("ipvsadm -Ln line %d %q: weight and connection counts must be numbers", n+1, line)
			}
			s := &out[len(out)-1]
			s.Dests = append(s.Dests, d)
			continue
		}
		switch f[0] {
		case "TCP", "UDP", "SCTP", "FWM":
		default:
			return nil, fmt.Errorf("ipvsadm -Ln line %d %q: not a service or real server line", n+1, line)
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("ipvsadm -Ln line %d %q: want protocol, address and scheduler", n+1, line)
		}
		s := TableService{Key: serviceKey(f[0], f[1]), Scheduler: f[2]}
		rest := f[3:]
		if len(rest) > 0 && rest[0] == "IPv6" {
			rest = rest[1:]
		}
		for i := 0; i < len(rest); i++ {
			if rest[i] == "persistent" && i+1 < len(rest) {
				p, err := strconv.Atoi(rest[i+1])
				if err != nil {
					return nil, fmt.Errorf("ipvsadm -Ln line %d %q: persistent %q is not a number", n+1, line, rest[i+1])
				}
				s.Persistence = p
			}
		}
		s.Flags = strings.Join(rest, " ")
		out = append(out, s)
	}
	return out, nil
}

// StatsService is one service of "ipvsadm -Ln --stats".
type StatsService struct {
	Key   string
	Conns uint64
	Dests []TableDest // Addr and counters only
}

// ParseStats parses "ipvsadm -Ln --stats" with or without --exact (then
// large numbers carry K, M, G or T).
func ParseStats(text string) ([]StatsService, error) {
	var out []StatsService
	for n, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(line, "IP Virtual Server") || strings.HasPrefix(line, "Prot ") || line == "-> RemoteAddress:Port" {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("ipvsadm --stats line %d %q: %s", n+1, line, why)
		}
		isDest := f[0] == "->"
		if isDest {
			f = f[1:]
		} else {
			if len(f) < 2 {
				return nil, bad("want protocol and address")
			}
			f = append([]string{f[0] + " " + f[1]}, f[2:]...)
		}
		if len(f) < 6 {
			return nil, bad("want an address and five counters")
		}
		var c [5]uint64
		for i := range c {
			v, err := parseLargeNum(f[1+i])
			if err != nil {
				return nil, bad(err.Error())
			}
			c[i] = v
		}
		if isDest {
			if len(out) == 0 {
				return nil, bad("a real server before any service")
			}
			s := &out[len(out)-1]
			s.Dests = append(s.Dests, TableDest{Addr: f[0], Conns: c[0], InPkts: c[1], OutPkts: c[2], InBytes: c[3], OutBytes: c[4]})
			continue
		}
		pf := strings.Fields(f[0])
		out = append(out, StatsService{Key: serviceKey(pf[0], pf[1]), Conns: c[0]})
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

// ParseTable parses the output of TableCommand: the list, then the stats,
// merged by service and real server.
func ParseTable(out string) ([]TableService, error) {
	list, stats, _ := strings.Cut(out, markStats)
	svcs, err := ParseList(list)
	if err != nil {
		return nil, err
	}
	st, err := ParseStats(stats)
	if err != nil {
		return nil, err
	}
	for _, ss := range st {
		for i := range svcs {
			if svcs[i].Key != ss.Key {
				continue
			}
			svcs[i].Conns = ss.Conns
			for _, sd := range ss.Dests {
				if d := svcs[i].Dest(sd.Addr); d != nil {
					d.Conns, d.InPkts, d.OutPkts, d.InBytes, d.OutBytes = sd.Conns, sd.InPkts, sd.OutPkts, sd.InBytes, sd.OutBytes
				}
			}
		}
	}
	return svcs, nil
}

// FindService returns the table's service with that key, or nil.
func FindService(svcs []TableService, key string) *TableService {
	for i := range svcs {
		if svcs[i].Key == key {
			return &svcs[i]
		}
	}
	return nil
}
