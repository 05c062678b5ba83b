package verify

// What a keepalived lab's routers say: the addresses each holds, whether
// keepalived and its VRRP NIC run, the adverts seen on the wire, and the
// VRRP state read from them, settled or not.

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
)

// AddrCommand lists a node's IPv4 addresses, one a line ("ip -o"): where
// a VRRP router's VIP is, if it holds it.
const AddrCommand = "ip -4 -o addr show"

// RouterCommand reads a VRRP router: its addresses (AddrCommand), then
// whether keepalived runs and whether its VRRP NIC is up, a line each
// ("keepalived active", "link up"): a router without either cannot be
// MASTER, and a VIP it still carries is stale.
func RouterCommand(nic string) string {
	return AddrCommand + `; echo "keepalived $(systemctl is-active keepalived 2>/dev/null)"; echo "link $(cat /sys/class/net/` + nic + `/operstate 2>/dev/null)"`
}

// AdvertSeconds is how long the backup listens for VRRP adverts: three
// adverts at keepalived's default advert_int of 1 s.
const AdvertSeconds = 3

// AdvertCommand listens for VRRP (IP protocol 112) on a router for secs
// seconds, bounded by timeout: socat (in the image, for UDP services)
// opens a raw socket of protocol 112 and writes each packet's VRRP part
// (socat strips the IP header, seen with socat 1.7.4 in the guest), which
// od prints in hex; socat's own log (-d -d) says, per packet, its length
// with the IP header and its source, in the same order. A node that is a
// member of the VRRP group (keepalived on the backup joins 224.0.0.18) or
// a unicast peer receives every advert of the segment's routers.
func AdvertCommand(secs int) string {
	return fmt.Sprintf(`f=$(mktemp); timeout %d socat -d -d -u IP4-RECV:112 - 2>"$f" | od -An -v -tx1; echo %s; grep 'received packet' "$f"; rm -f "$f"; true`, secs, advertSplit)
}

// advertSplit ends AdvertCommand's hex dump; socat's log lines follow.
const advertSplit = "--"

// Advert is one VRRP advertisement as a router received it.
type Advert struct {
	Source   netip.Addr `json:"source"`
	VRID     int        `json:"vrid"`
	Priority int        `json:"priority"`
}

// reAdvertLog is socat's log line of one packet received.
var reAdvertLog = regexp.MustCompile(`received packet with (\d+) bytes from AF=2 ([0-9.]+):`)

// ParseAdverts reads AdvertCommand's output: the VRRP parts back to back in
// hex (version and type, VRID, priority), then socat's log line of each
// packet (its length with the 20-byte IP header, its source), which splits
// the dump. It stops at the first packet the dump does not hold whole.
func ParseAdverts(out string) []Advert {
	dump, log, _ := strings.Cut(out, "\n"+advertSplit+"\n")
	if strings.HasPrefix(out, advertSplit+"\n") {
		dump, log = "", strings.TrimPrefix(out, advertSplit+"\n")
	}
	var b []byte
	for _, f := range strings.Fields(dump) {
		v, err := strconv.ParseUint(f, 16, 8)
		if err != nil {
			return nil
		}
		b = append(b, byte(v))
	}
	var ads []Advert
	for _, m := range reAdvertLog.FindAllStringSubmatch(log, -1) {
		n, _ := strconv.Atoi(m[1])
		src, err := netip.ParseAddr(m[2])
		n -= 20
		if err != nil || n < 3 || n > len(b) || b[0]>>4 != 2 && b[0]>>4 != 3 {
			break
		}
		ads = append(ads, Advert{Source: src, VRID: int(b[1]), Priority: int(b[2])})
		b = b[n:]
	}
	return ads
}

// AdvertOutput is what AdvertCommand prints for these VRRPv2 adverts with
// one VIP each (tests and the drill's simulated world).
func AdvertOutput(ads []Advert, vip netip.Addr) string {
	var dump, log strings.Builder
	for _, a := range ads {
		vrrp := []byte{0x21, byte(a.VRID), byte(a.Priority), 1, 0, 1, 0, 0}
		vrrp = append(vrrp, vip.AsSlice()...)
		vrrp = append(vrrp, 0, 0, 0, 0, 0, 0, 0, 0)
		for _, c := range vrrp {
			fmt.Fprintf(&dump, " %02x", c)
		}
		dump.WriteString("\n")
		fmt.Fprintf(&log, "2026/12/06 13:15:34 socat[351] N received packet with %d bytes from AF=2 %s:0\n", 20+len(vrrp), a.Source)
	}
	return dump.String() + advertSplit + "\n" + log.String()
}

// holdsAddr tells whether "ip -o addr" lines carry addr.
func holdsAddr(out string, addr netip.Addr) (dev string, ok bool) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				if p, err := netip.ParsePrefix(f[i+1]); err == nil && p.Addr() == addr {
					return f[1], true
				}
			}
		}
	}
	return "", false
}

// VRRPState is who holds a keepalived service's VIP, read from each
// router's addresses.
type VRRPState struct {
	Service string   `json:"service"`
	VIP     string   `json:"vip"`
	Holders []string `json:"holders"`
	// Unread are the routers whose addresses could not be read, with why.
	Unread map[string]string `json:"unread,omitempty"`
	// Down are the routers that cannot be MASTER (keepalived not running,
	// the VRRP NIC down), with why.
	Down map[string]string `json:"down,omitempty"`
}

// Holder is the one running router holding the VIP, "" when none or
// several (a VIP a dead keepalived left is stale, not held).
func (v VRRPState) Holder() string {
	live := v.live()
	if len(live) == 1 {
		return live[0]
	}
	return ""
}

func (v VRRPState) live() []string {
	return slices.DeleteFunc(slices.Clone(v.Holders), func(h string) bool { return v.Down[h] != "" })
}

// stale are the holders that are down.
func (v VRRPState) stale() []string {
	return slices.DeleteFunc(slices.Clone(v.Holders), func(h string) bool { return v.Down[h] == "" })
}

// ReadVRRP reads each router of s: which hold the VIP, which cannot be
// MASTER.
func ReadVRRP(ctx context.Context, l *topology.Lab, s *topology.Service, dial guest.Dialer) VRRPState {
	lab := func(s *topology.Service, node string) string {
		if n := l.Node(node); n != nil {
			if c := n.NICFor(s.VIP); c != nil {
				return c.Name
			}
		}
		return ""
	}
	v := VRRPState{Service: s.Name, VIP: s.VIP.String(), Holders: []string{}, Unread: map[string]string{}, Down: map[string]string{}}
	for _, r := range s.Keepalived.Routers {
		x, err := dial(r.Node)
		if err != nil {
			v.Unread[r.Node] = err.Error()
			continue
		}
		nic := "lo"
		if n := lab(s, r.Node); n != "" {
			nic = n
		}
		out, err := x.Run(ctx, RouterCommand(nic))
		if err != nil {
			v.Unread[r.Node] = err.Error()
			continue
		}
		if _, ok := holdsAddr(out, s.VIP); ok {
			v.Holders = append(v.Holders, r.Node)
		}
		var why []string
		for _, line := range strings.Split(out, "\n") {
			if st, ok := strings.CutPrefix(line, "keepalived "); ok && st != "active" {
				why = append(why, "keepalived "+orWord(st, "not running"))
			}
			if st, ok := strings.CutPrefix(line, "link "); ok && st != "up" && st != "unknown" {
				why = append(why, nic+" "+orWord(st, "missing"))
			}
		}
		if len(why) > 0 {
			v.Down[r.Node] = strings.Join(why, ", ")
		}
	}
	return v
}

// SettledVRRP is ReadVRRP once VRRP has settled, for verify: right after
// "up" (or a restore) the routers' keepalived start a few seconds apart,
// the backup may hold the VIP until the master's first adverts preempt it,
// so a state that is not yet the lab's (no holder, two, or not the MASTER
// while it runs and may preempt) is read again every second, for at most
// within (3 adverts and 2 s when 0, the protocol's master-down time with
// room; none when negative). A state that stays wrong is what verify
// judges.
func SettledVRRP(ctx context.Context, l *topology.Lab, s *topology.Service, dial guest.Dialer, within time.Duration) VRRPState {
	if within == 0 {
		within = time.Duration(3*s.Keepalived.AdvertInt)*time.Second + 2*time.Second
	}
	deadline := time.Now().Add(within)
	for {
		v := ReadVRRP(ctx, l, s, dial)
		if vrrpSettled(s, v) || !time.Now().Before(deadline) || ctx.Err() != nil {
			return v
		}
		select {
		case <-ctx.Done():
			return v
		case <-time.After(time.Second):
		}
	}
}

// vrrpSettled: every router read, one holder, and the holder is the lab's
// MASTER unless that one is down or does not preempt.
func vrrpSettled(s *topology.Service, v VRRPState) bool {
	if len(v.Unread) > 0 || len(v.Holders) != 1 {
		return false
	}
	m := s.Keepalived.Master()
	_, down := v.Down[m.Node]
	return v.Holders[0] == m.Node || down || s.Keepalived.NoPreempt
}
