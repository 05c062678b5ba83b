package catalog

import "github.com/lvslab/lvslab/roles"

// RestartNetworkd makes systemd-networkd apply its files again. networkctl
// would be gentler but needs D-Bus, which lab images leave out (seen:
// "Failed to connect system bus"); systemctl reaches systemd without it.
const RestartNetworkd = "systemctl restart systemd-networkd"

// debian configures systemd-networkd, apt-get and apache2.
var debian = family{
	name:      Debian,
	early:     debianEarly,
	addresses: debianAddresses,
	webServer: "apache2",
	webPorts:  apachePortsFile,
	rulesFile: DebianRulesFile,
	ipvsAtBoot: func() []Step {
		f := ipvsUnitFile()
		return []Step{{
			Name:    "ipvs boot unit",
			Comment: "a unit that restores " + DebianRulesFile + " at boot",
			File:    &f,
			Apply:   []string{"systemctl daemon-reload"},
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
	// Kernel settings come before any address: a real server must ignore
	// ARP for the VIP before the VIP is on its lo (else the client may cache
	// its MAC).
	out := []Step{sysctlStep(st)}
	// Addresses, down NICs and VIPs follow each other: Apply changes them
	// together with one networkd restart.
	for _, nic := range st.NICs {
		if nic.Down {
			continue
		}
		f := networkFile(st, nic)
		out = append(out, Step{
			Name:      "address " + nic.Name,
			Comment:   addressComment(st, nic),
			File:      &f,
			Check:     addressCheck(st, nic),
			Apply:     []string{RestartNetworkd},
			Readdress: true,
			Address:   nic.Address.Addr().String(),
			Settle:    true,
		})
	}
	for _, nic := range st.NICs {
		if !nic.Down {
			continue
		}
		f := networkFile(st, nic)
		out = append(out, Step{
			Name:      "disable " + nic.Name,
			Comment:   nic.Name + " stays down with no address",
			File:      &f,
			Check:     downCheck(nic.Name),
			Apply:     []string{RestartNetworkd, "ip -4 addr flush dev " + nic.Name, "ip link set " + nic.Name + " down"},
			Readdress: true,
			Address:   st.PrimaryHost(),
			Settle:    true,
		})
	}
	for _, dev := range virtualDevices(st) {
		f := virtualNetworkFile(st, dev)
		out = append(out, Step{
			Name:    "vip " + dev,
			Comment: vipComment(st, dev),
			File:    &f,
			Check:   exactAddrCheck(dev, aliasPrefixes(st, dev), false),
			Apply:   []string{RestartNetworkd},
			Settle:  true,
		})
	}
	return out
}
