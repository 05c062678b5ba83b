// Package ipvs is the one model of the kernel's IPVS table, in the style of
// moby/ipvs: plain Service and Destination structs that carry both what a
// lab wants (scheduler, forwarding, weight, thresholds) and what the kernel
// shows (connections, counters, rates); one parser for everything ipvsadm
// prints (Parse); Op and the read commands, the only place an ipvsadm
// command line is spelled; Handle, which reads, restores and applies over
// any command runner; and the schedulers: the kernel's algorithms (Pick,
// WRRCycle, SimulateLeast) and what they promise for a run of requests
// (Expect).
package ipvs

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Scheduler names, as ipvsadm -s takes them.
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

// Schedulers is the kernel's list of schedulers (ip_vs_<name> modules).
var Schedulers = []string{
	RoundRobin, WeightedRoundRobin, LeastConnection, WeightedLeastConnection,
	LocalityBasedLeastConnection, LocalityBasedLeastConnectionReplica,
	DestinationHashing, SourceHashing, ShortestExpectedDelay, NeverQueue,
	WeightedFailover, WeightedOverflow, MaglevHashing,
}

// Forwarding methods of a destination (the kernel's IP_VS_CONN_F_* values).
const (
	ConnectionFlagMasq        = 0x0000 // NAT, ipvsadm -m
	ConnectionFlagLocalNode   = 0x0001
	ConnectionFlagTunnel      = 0x0002 // IP-in-IP, ipvsadm -i
	ConnectionFlagDirectRoute = 0x0003 // DR, ipvsadm -g
	connectionFlagFwdMask     = 0x0007
)

// forwarding names each method: its ipvsadm switch and the word
// "ipvsadm -Ln" shows in its Forward column.
var forwarding = []struct {
	flags      uint32
	flag, name string
}{
	{ConnectionFlagMasq, "-m", "Masq"},
	{ConnectionFlagLocalNode, "-g", "Local"},
	{ConnectionFlagTunnel, "-i", "Tunnel"},
	{ConnectionFlagDirectRoute, "-g", "Route"},
}

// ForwardName is how "ipvsadm -Ln" names a forwarding method: Masq, Route,
// Tunnel or Local.
func ForwardName(connFlags uint32) string {
	for _, f := range forwarding {
		if f.flags == connFlags&connectionFlagFwdMask {
			return f.name
		}
	}
	return "Route"
}

// Forwarding is the destination's forwarding method: one of the
// ConnectionFlag* values.
func (d *Destination) Forwarding() uint32 { return d.ConnectionFlags & connectionFlagFwdMask }

// ForwardFlag is the ipvsadm switch of the destination's forwarding
// method: -m, -g or -i.
func (d *Destination) ForwardFlag() string {
	for _, f := range forwarding {
		if f.flags == d.Forwarding() {
			return f.flag
		}
	}
	return "-g"
}

// TunnelIPIP is the default encapsulation of a tunnel destination.
const TunnelIPIP = "ipip"

// Service flags.
const (
	// FlagPersistent marks a persistent service (ipvsadm -p Timeout).
	FlagPersistent = 0x0001
	// FlagOnePacket is ipvsadm -o (one-packet scheduling, UDP).
	FlagOnePacket = 0x0004
)

// Service is one IPVS virtual service.
type Service struct {
	Protocol  string     `json:"protocol,omitempty"` // "tcp", "udp" or "sctp"; empty for a firewall-mark service
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
	// Stats is observed: the counters and rates of "ipvsadm -Ln --stats/--rate".
	Stats Stats `json:"stats,omitzero"`
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
	// Observed: the connection counts of "ipvsadm -Ln" and the counters.
	ActiveConnections   int   `json:"active_connections,omitempty"`
	InactiveConnections int   `json:"inactive_connections,omitempty"`
	Stats               Stats `json:"stats,omitzero"`
}

// Stats are the counters ("ipvsadm -Ln --stats") and rates ("--rate") of
// a service or destination.
type Stats struct {
	Connections uint64 `json:"connections,omitempty"`
	PacketsIn   uint64 `json:"packets_in,omitempty"`
	PacketsOut  uint64 `json:"packets_out,omitempty"`
	BytesIn     uint64 `json:"bytes_in,omitempty"`
	BytesOut    uint64 `json:"bytes_out,omitempty"`
	CPS         uint64 `json:"cps,omitempty"`
	PPSIn       uint64 `json:"pps_in,omitempty"`
	PPSOut      uint64 `json:"pps_out,omitempty"`
	BPSIn       uint64 `json:"bps_in,omitempty"`
	BPSOut      uint64 `json:"bps_out,omitempty"`
}

// Key is the service's ipvsadm identity: "-t 192.168.4.5:80", "-u ...", "-f 1".
func (s *Service) Key() string {
	if s.FWMark != 0 {
		return "-f " + strconv.FormatUint(uint64(s.FWMark), 10)
	}
	flag := "-t"
	switch s.Protocol {
	case "udp":
		flag = "-u"
	case "sctp":
		flag = "--sctp-service"
	}
	return flag + " " + netip.AddrPortFrom(s.Address, s.Port).String()
}

// Persistence is the persistence timeout in seconds; 0 when not persistent.
func (s *Service) Persistence() int {
	if s.Flags&FlagPersistent == 0 {
		return 0
	}
	return int(s.Timeout)
}

// Dest returns the destination with that key ("ADDR:PORT"), or nil.
func (s *Service) Dest(key string) *Destination {
	for i := range s.Destinations {
		if s.Destinations[i].Key() == key {
			return &s.Destinations[i]
		}
	}
	return nil
}

// Key is the destination's identity within its service: "192.168.2.100:80".
func (d *Destination) Key() string {
	return netip.AddrPortFrom(d.Address, d.Port).String()
}

// Find returns the service with that key, or nil.
func Find(services []Service, key string) *Service {
	for i := range services {
		if services[i].Key() == key {
			return &services[i]
		}
	}
	return nil
}

var hostMask = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// Normalize returns a sorted deep copy: services by key, destinations by
// address, so that two tables compare regardless of kernel listing order
// (the kernel lists the last added real server first); what ipvsadm leaves
// out or shows only sometimes is made explicit.
func Normalize(services []Service) []Service {
	out := make([]Service, len(services))
	for i, s := range services {
		s.Destinations = slices.Clone(s.Destinations)
		for j := range s.Destinations {
			d := &s.Destinations[j]
			switch {
			case d.ConnectionFlags&connectionFlagFwdMask != ConnectionFlagTunnel:
				d.TunnelType = ""
			case d.TunnelType == "":
				d.TunnelType = TunnelIPIP // older ipvsadm does not show the default
			}
		}
		slices.SortFunc(s.Destinations, func(a, b Destination) int { return strings.Compare(a.Key(), b.Key()) })
		if s.FWMark != 0 {
			s.Protocol = ""
		}
		if s.Flags&FlagPersistent == 0 {
			s.Timeout = 0
			s.Netmask = netip.Addr{}
		} else if s.Netmask == hostMask {
			s.Netmask = netip.Addr{}
		}
		out[i] = s
	}
	slices.SortFunc(out, func(a, b Service) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// SaveView is what "ipvsadm -Sn" shows of services: everything but the
// connection thresholds, which only "ipvsadm -Ln --thresholds" shows.
func SaveView(services []Service) []Service {
	out := Normalize(services)
	for i := range out {
		for j := range out[i].Destinations {
			out[i].Destinations[j].UpperThreshold = 0
			out[i].Destinations[j].LowerThreshold = 0
		}
	}
	return out
}
