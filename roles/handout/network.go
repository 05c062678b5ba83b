package handout

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/roles"
)

const (
	networkdDir     = "/etc/systemd/network"
	restartNetworkd = "systemctl restart systemd-networkd"
	ifcfgDir        = "/etc/sysconfig/network-scripts"
)

// addresses: each NIC's own address (and gateway), DHCP off, and the NICs
// the lab keeps down. On systemd-networkd the director's VIP alias is in
// its NIC's file, so it comes here too.
func (w writer) addresses(st, prev *roles.NodeState) []Step {
	if w.net == Networkd {
		return w.networkdAddresses(st, prev)
	}
	var out []Step
	for _, nic := range st.NICs {
		var old *roles.NICState
		if prev != nil {
			old = prev.NIC(nic.Name)
		}
		if nic.Down {
			if old != nil && old.Down {
				continue
			}
			out = append(out, Step{
				Title: "disable " + nic.Name,
				Why:   nic.Name + " has no part in this lab: no address, not brought up at boot (a stray address there would route around the director)",
				Commands: []string{
					"nmcli connection modify " + nic.Name + " connection.autoconnect no ipv4.method disabled ipv4.addresses '' ipv4.gateway ''",
					"nmcli connection down " + nic.Name,
				},
				Notes: []string{`"not an active connection": ` + nic.Name + " was down already, which is what this wants"},
			})
			continue
		}
		gw, oldGW := gatewayOf(st, nic.Name), netip.Addr{}
		if prev != nil {
			oldGW = gatewayOf(prev, nic.Name)
		}
		if old != nil && !old.Down && old.Address == nic.Address && gw == oldGW {
			continue
		}
		cmd := "nmcli connection modify " + nic.Name + " connection.autoconnect yes ipv4.method manual ipv4.addresses " + nic.Address.String()
		if gw.IsValid() {
			cmd += " ipv4.gateway " + gw.String()
		} else if oldGW.IsValid() {
			cmd += " ipv4.gateway ''"
		}
		out = append(out, Step{
			Title:    "address " + nic.Name,
			Why:      addressWhy(st, nic, gw, false),
			Commands: []string{cmd, "nmcli connection down " + nic.Name + "; nmcli connection up " + nic.Name},
		})
	}
	return out
}

func gatewayOf(st *roles.NodeState, nic string) netip.Addr {
	if st.GatewayNIC() == nic {
		return st.Gateway
	}
	return netip.Addr{}
}

// addressWhy says what the address is in LVS terms: the client's CIP, the
// director's VIP or DIP, a real server's RIP, and where replies go.
func addressWhy(st *roles.NodeState, nic roles.NICState, gw netip.Addr, withAliases bool) string {
	var what string
	switch st.Role {
	case "client":
		what = "the client's address (CIP)"
	case "director":
		what = "the director's address on this network"
		for _, s := range st.IPVS {
			if s.Address.IsValid() && nic.Address.Contains(s.Address) && s.Address == nic.Address.Addr() {
				what = "the director's address, which is also the VIP clients ask for"
			}
		}
		if what == "the director's address on this network" {
			for _, s := range st.IPVS {
				for _, d := range s.Destinations {
					if nic.Address.Contains(d.Address) {
						what = "the director's address on the real servers' network (DIP)"
					}
				}
			}
		}
	case "web":
		what = "the real server's address (RIP), where the director sends it requests"
	}
	s := nic.Name + " " + nic.Address.String() + ": " + what
	if withAliases {
		for _, a := range st.Aliases {
			if a.Device == nic.Name {
				s += "; and the VIP " + a.Address.String() + " as " + a.Label + ", so the director answers the client's ARP for it"
			}
		}
	}
	if gw.IsValid() {
		s += "; default route via " + gw.String()
		if st.Role == "web" && len(st.Aliases) == 0 {
			s += " (NAT: replies must go back through the director, which rewrites them)"
		} else if st.Role == "client" {
			s += ""
		}
	}
	return s + "; static, no DHCP"
}

// networkdFile is the lines of a NIC's .network file, with the VIP
// aliases on it or without.
func networkdFile(st *roles.NodeState, nic roles.NICState, aliases bool) []string {
	lines := []string{"[Match]", "Name=" + nic.Name, "[Network]", "Address=" + nic.Address.String()}
	if gw := gatewayOf(st, nic.Name); gw.IsValid() {
		lines = append(lines, "Gateway="+gw.String())
	}
	for _, a := range st.Aliases {
		if a.Device == nic.Name && aliases {
			lines = append(lines, "[Address]", "Address="+a.Address.String(), "Label="+a.Label)
		}
	}
	return lines
}

func (w writer) networkdAddresses(st, prev *roles.NodeState) []Step {
	s := Step{Title: "addresses"}
	var whys, down []string
	for _, nic := range st.NICs {
		path := networkdDir + "/" + nic.Name + ".network"
		var old *roles.NICState
		if prev != nil {
			old = prev.NIC(nic.Name)
		}
		if nic.Down {
			if old != nil && !old.Down {
				s.Commands = append(s.Commands, "rm "+path, "ip addr flush dev "+nic.Name, "ip link set "+nic.Name+" down")
				whys = append(whys, nic.Name+" has no part in this lab any more: its file goes, its address too")
			} else {
				down = append(down, nic.Name)
			}
			continue
		}
		lines := networkdFile(st, nic, false)
		if old != nil && !old.Down && slices.Equal(lines, networkdFile(prev, *old, false)) {
			continue
		}
		s.Commands = append(s.Commands, writeFile(path, lines, false))
		whys = append(whys, addressWhy(st, nic, gatewayOf(st, nic.Name), false))
	}
	if len(down) > 0 && prev == nil {
		s.Notes = append(s.Notes, strings.Join(down, ", ")+": no part in this lab; with no file systemd-networkd leaves it down, with no address")
	}
	if len(s.Commands) == 0 {
		return nil
	}
	s.Commands = append(s.Commands, restartNetworkd)
	s.Why = strings.Join(whys, ". ") + " (systemd-networkd applies its files when it restarts, and at every boot)"
	return []Step{s}
}

// vips: the VIPs, after the kernel settings: the director's eth0:0, a DR
// real server's lo:0, a TUN one's tunl0.
func (w writer) vips(st, prev *roles.NodeState) []Step {
	var out []Step
	// Devices in alias order, each once.
	var devs []string
	for _, a := range st.Aliases {
		if !slices.Contains(devs, a.Device) {
			devs = append(devs, a.Device)
		}
	}
	had := func(a roles.Alias) bool {
		return prev != nil && slices.Contains(prev.Aliases, a)
	}
	for _, dev := range devs {
		nic := st.NIC(dev)
		var aliases []roles.Alias
		for _, a := range st.Aliases {
			if a.Device == dev && !had(a) && !(nic != nil && w.keepalivedVIP(a.Address.Addr())) {
				aliases = append(aliases, a)
			}
		}
		if len(aliases) == 0 {
			continue
		}
		s := Step{Title: "vip " + dev, Why: vipWhy(st, dev)}
		switch {
		case w.net == Networkd && nic != nil:
			// The NIC's file again, now with its VIP.
			s.Commands = []string{writeFile(networkdDir+"/"+dev+".network", networkdFile(st, *nic, true), false), restartNetworkd}
		case w.net == Networkd:
			lines := []string{"[Match]", "Name=" + dev, "[Network]", "LinkLocalAddressing=no", "IPv6AcceptRA=no", "KeepConfiguration=yes"}
			for _, a := range st.Aliases {
				if a.Device == dev {
					lines = append(lines, "[Address]", "Address="+a.Address.String())
					if a.Label != "" {
						lines = append(lines, "Label="+a.Label)
					}
				}
			}
			s.Commands = []string{writeFile(networkdDir+"/"+dev+".network", lines, false), restartNetworkd}
		case w.rhel():
			rhelVIPs(&s, dev, aliases)
		default: // NetworkManager on Debian
			for _, a := range aliases {
				s.Commands = append(s.Commands, "nmcli connection modify "+dev+" +ipv4.addresses "+a.Address.String())
			}
			s.Commands = append(s.Commands, "nmcli connection up "+dev)
			if dev == "lo" {
				s.Notes = append(s.Notes, "NetworkManager 1.42 and later manage lo as the connection lo")
			}
		}
		out = append(out, s)
	}
	if prev != nil {
		out = append(out, w.removedVIPs(st, prev)...)
	}
	return out
}

// rhelVIPs: an ifcfg file and ifup per alias of dev on RHEL, with what to
// do where network-scripts are missing.
func rhelVIPs(s *Step, dev string, aliases []roles.Alias) {
	for _, a := range aliases {
		name := a.Label
		if name == "" {
			name = dev
		}
		lines := []string{"DEVICE=" + name, "IPADDR=" + a.Address.Addr().String()}
		if dev == "lo" || a.Address.Bits() == 32 {
			lines = append(lines, "NETMASK=255.255.255.255")
		} else {
			lines = append(lines, fmt.Sprintf("PREFIX=%d", a.Address.Bits()))
		}
		lines = append(lines, "ONBOOT=yes")
		s.Commands = append(s.Commands, writeFile(ifcfgDir+"/ifcfg-"+name, lines, false), "ifup "+name)
		if dev == "tunl0" {
			s.Notes = append(s.Notes, "no network-scripts (RHEL 8/9 without that package)? Then: ip addr add "+a.Address.String()+" dev tunl0; ip link set tunl0 up, and the same two lines in /etc/rc.d/rc.local (chmod +x it) for the next boot")
			continue
		}
		alt := "nmcli connection modify " + dev + " +ipv4.addresses " + a.Address.String() + "; nmcli connection up " + dev
		if dev == "lo" {
			alt += " (NetworkManager 1.42 and later manage lo)"
		}
		s.Notes = append(s.Notes, "no "+ifcfgDir+"/ifup-aliases (RHEL 8/9 without the network-scripts package)? Then instead: "+alt+"; the VIP then has no "+name+" label, which changes nothing for LVS")
	}
}

// removedVIPs: the VIPs the stage before had and this one has not (DR back
// to NAT).
func (w writer) removedVIPs(st, prev *roles.NodeState) []Step {
	var out []Step
	for _, a := range prev.Aliases {
		if slices.Contains(st.Aliases, a) {
			continue
		}
		s := Step{Title: "no vip on " + a.Device, Why: "this lab has no VIP " + a.Address.String() + " on " + a.Device + ": a real server that kept it would answer for an address it must not"}
		switch {
		case w.net == Networkd && st.NIC(a.Device) != nil && !st.NIC(a.Device).Down:
			s.Commands = []string{writeFile(networkdDir+"/"+a.Device+".network", networkdFile(st, *st.NIC(a.Device), true), false), "ip addr del " + a.Address.String() + " dev " + a.Device}
		case w.net == Networkd && st.NIC(a.Device) != nil:
			continue // the NIC is down: its file went, its addresses too
		case w.net == Networkd:
			s.Commands = []string{"rm " + networkdDir + "/" + a.Device + ".network", "ip addr del " + a.Address.String() + " dev " + a.Device}
		case w.rhel() && a.Label != "":
			s.Commands = []string{"ifdown " + a.Label, "rm " + ifcfgDir + "/ifcfg-" + a.Label}
		default:
			s.Commands = []string{"nmcli connection modify " + a.Device + " -ipv4.addresses " + a.Address.String(), "nmcli connection up " + a.Device}
		}
		out = append(out, s)
	}
	return out
}

func vipWhy(st *roles.NodeState, dev string) string {
	var vips []string
	for _, a := range st.Aliases {
		if a.Device == dev {
			v := a.Address.String()
			if a.Label != "" {
				v += " as " + a.Label
			}
			vips = append(vips, v)
		}
	}
	v := strings.Join(vips, ", ")
	switch {
	case st.Role == "director":
		return "the VIP " + v + " on " + dev + ": the director answers the client's ARP for it and takes its requests"
	case dev == "tunl0":
		return "the VIP " + v + " on tunl0 (/32): the real server accepts the tunnelled packets for the VIP and replies from it, straight to the client"
	}
	return "the VIP " + v + " on lo, always /32 (a wider prefix on lo swallows the whole subnet): the real server accepts the packets the director forwards unchanged to it, and replies from the VIP straight to the client"
}
