package ipvstest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/topology/ipvs"
)

// listing renders "ipvsadm -Ln" with its options, like ipvsadm 1.31.
func (k *Kernel) listing(opts []string) (string, error) {
	svcs := k.sorted()
	var stats, rate, thresholds bool
	for _, o := range opts {
		switch o {
		case "--nosort":
			svcs = k.Services
		case "--stats":
			stats = true
		case "--rate":
			rate = true
		case "--thresholds":
			thresholds = true
		case "--exact":
		default:
			return "", fmt.Errorf("ipvstest: ipvsadm -Ln %s: unknown option %s", strings.Join(opts, " "), o)
		}
	}
	var b strings.Builder
	b.WriteString("IP Virtual Server version 1.2.1 (size=4096)\n")
	switch {
	case stats || rate:
		if stats {
			b.WriteString("Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  -> RemoteAddress:Port\n")
		} else {
			b.WriteString("Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n  -> RemoteAddress:Port\n")
		}
		counters := func(st ipvs.Stats) string {
			c := []uint64{st.Connections, st.PacketsIn, st.PacketsOut, st.BytesIn, st.BytesOut}
			if rate {
				c = []uint64{st.CPS, st.PPSIn, st.PPSOut, st.BPSIn, st.BPSOut}
			}
			return fmt.Sprintf("%9d%9d%9d%9d%9d", c[0], c[1], c[2], c[3], c[4])
		}
		for _, s := range svcs {
			fmt.Fprintf(&b, "%-33s%s\n", serviceName(&s), counters(s.Stats))
			for _, d := range s.Destinations {
				fmt.Fprintf(&b, "  -> %-28s%s\n", d.Key(), counters(d.Stats))
			}
		}
	case thresholds:
		b.WriteString("Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn\n  -> RemoteAddress:Port\n")
		for _, s := range svcs {
			fmt.Fprintf(&b, "%s %s\n", serviceName(&s), serviceFlags(&s))
			for _, d := range s.Destinations {
				fmt.Fprintf(&b, "  -> %-28s %-10d %-10d %-10d %-10d\n", d.Key(), d.UpperThreshold, d.LowerThreshold, d.ActiveConnections, d.InactiveConnections)
			}
		}
	default:
		b.WriteString("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
		for _, s := range svcs {
			fmt.Fprintf(&b, "%s %s\n", serviceName(&s), serviceFlags(&s))
			for _, d := range s.Destinations {
				fmt.Fprintf(&b, "  -> %-28s %-7s %-6d %-10d %-10d\n", d.Key(), ipvs.ForwardName(d.ConnectionFlags), d.Weight, d.ActiveConnections, d.InactiveConnections)
			}
		}
	}
	return b.String(), nil
}

// serviceName is "TCP  192.168.4.5:80" or "FWM  7".
func serviceName(s *ipvs.Service) string {
	if s.FWMark != 0 {
		return fmt.Sprintf("FWM  %d", s.FWMark)
	}
	key := s.Key()
	return strings.ToUpper(s.Protocol) + "  " + key[strings.IndexByte(key, ' ')+1:]
}

// serviceFlags is the scheduler and what follows it on a listed service.
func serviceFlags(s *ipvs.Service) string {
	out := []string{s.SchedName}
	if s.Persistence() > 0 {
		out = append(out, fmt.Sprintf("persistent %d", s.Timeout))
		if s.Netmask.IsValid() && s.Netmask.String() != "255.255.255.255" {
			out = append(out, "mask "+s.Netmask.String())
		}
	}
	if s.Flags&ipvs.FlagOnePacket != 0 {
		out = append(out, "ops")
	}
	if s.SchedFlags != "" {
		out = append(out, "("+s.SchedFlags+")")
	}
	return strings.Join(out, " ")
}

// connections renders "ipvsadm -Lnc".
func (k *Kernel) connections() string {
	var b strings.Builder
	b.WriteString("IPVS connection entries\npro expire state       source             virtual            destination\n")
	for _, c := range slices.Clone(k.Conns) {
		secs := int(c.Expire.Seconds())
		fmt.Fprintf(&b, "%-3s %02d:%02d  %-11s %-18s %-18s %s\n", strings.ToUpper(c.Protocol), secs/60, secs%60, c.State, c.Source, c.Virtual, c.Destination)
	}
	return b.String()
}
