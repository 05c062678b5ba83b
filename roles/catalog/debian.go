package catalog

import (
	"net/netip"

	"github.com/lvslab/lvslab/roles"
)

// restartNetworkd makes systemd-networkd apply its files again. networkctl
// would be gentler but needs D-Bus, which lab images leave out (seen:
// "Failed to connect system bus"); systemctl reaches systemd without it.
const restartNetworkd = "systemctl restart systemd-networkd"

// debian configures systemd-networkd, apt-get and apache2.
var debian = family{
	name:        Debian,
	seeded:      true,
	early:       debianEarly,
	addresses:   debianAddresses,
	marks:       debianMarks,
	webServer:   "apache2",
	nginxRoot:   "/var/www/html",
	webPorts:    apachePortsFile,
	rulesFile:   DebianRulesFile,
	ipvsBootOff: debianIPVSBootOff,
	ipvsAtBoot: func() []Step {
		f := ipvsUnitFile()
		return []Step{{
			Name:      "ipvs boot unit",
			Comment:   "a unit that restores " + DebianRulesFile + " at boot",
			File:      &f,
			Apply:     []string{"systemctl daemon-reload"},
			FirstBoot: true,
			// Enabled by hand: "systemctl enable" would reload systemd mid-boot.
			Boot: []string{"mkdir -p /etc/systemd/system/multi-user.target.wants",
				"ln -sf ../" + IPVSUnit + " /etc/systemd/system/multi-user.target.wants/" + IPVSUnit},
		}, {
			Name:    "ipvs at boot",
			Comment: "enable the rules at boot",
			Check:   "systemctl is-enabled -q " + IPVSUnit,
			Apply:   []string{"systemctl enable " + IPVSUnit},
		}}
	},
}

func debianEarly(st *roles.NodeState) []Step {
	out := []Step{{
		Name:    "systemd-networkd",
		Comment: "enabled and running: it owns the guest's addresses",
		Check:   "systemctl is-enabled -q systemd-networkd && systemctl is-active -q systemd-networkd",
		Apply:   []string{"systemctl enable --now systemd-networkd"},
	}}
	for _, nic := range st.NICs {
		f := linkFile(nic)
		out = append(out, Step{
			Name:    "name " + nic.Name,
			Comment: "the NIC with MAC " + nic.MAC + " is called " + nic.Name + " (from the next boot on)",
			File:    &f,
		})
	}
	return out
}

func debianAddresses(st *roles.NodeState) []Step {
	// Addresses, down NICs and VIPs follow each other: Apply changes them
	// together with one networkd restart.
	out := nicSteps(st, true, func(nic roles.NICState) (*File, string, []string) {
		f := networkFile(st, nic)
		if nic.Down {
			return &f, downCheck(nic.Name), []string{restartNetworkd, "ip -4 addr flush dev " + nic.Name, "ip link set " + nic.Name + " down"}
		}
		return &f, addressCheck(st, nic, ""), append([]string{restartNetworkd}, afterNetwork(st)...)
	})
	for _, dev := range virtualDevices(st) {
		f := virtualNetworkFile(st, dev)
		out = append(out, Step{
			Name:    "vip " + dev,
			Comment: vipComment(st, []string{dev}),
			File:    &f,
			Check:   addrCheck(dev, "", aliasPrefixes(st, dev), false, netip.Addr{}),
			Apply:   []string{restartNetworkd},
			Kind:    KindNetwork,
		})
	}
	return out
}
