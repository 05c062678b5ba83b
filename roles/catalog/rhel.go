package catalog

import (
	"strings"

	"github.com/lvslab/lvslab/roles"
)

// rhel configures NetworkManager (nmcli), yum and httpd.
var rhel = family{
	name:      RHEL,
	early:     rhelEarly,
	addresses: rhelAddresses,
	webServer: "httpd",
	webPorts:  httpdListenFile,
	rulesFile: RHELRulesFile,
	ipvsAtBoot: func() []Step {
		return []Step{{
			Name:    "ipvs at boot",
			Comment: "the ipvsadm service restores " + RHELRulesFile + " at boot",
			Check:   "systemctl is-enabled -q ipvsadm",
			Apply:   []string{"systemctl enable ipvsadm"},
		}}
	},
}

// rhelEarly: NetworkManager holds the addresses from the start; firewalld
// and SELinux are relaxed as in the classroom VMs.
func rhelEarly(st *roles.NodeState) []Step {
	out := nicSteps(st, func(nic roles.NICState) (*File, string, []string) {
		if nic.Down {
			return nil, `[ "$(nmcli -g connection.autoconnect connection show ` + nic.Name + `)" = no ] && ` + downCheck(nic.Name), []string{
				nmcliEnsure(nic.Name),
				"nmcli connection modify " + nic.Name + " connection.autoconnect no ipv4.method disabled ipv4.addresses '' ipv4.gateway '' ipv6.method ignore",
				"nmcli connection down " + nic.Name + " || true",
				"ip -4 addr flush dev " + nic.Name,
				"ip link set " + nic.Name + " down",
			}
		}
		addrs := []string{nic.Address.String()}
		for _, a := range aliasesOn(st, nic.Name) {
			addrs = append(addrs, a.Address.String())
		}
		gw := "''"
		if st.GatewayNIC() == nic.Name {
			gw = st.Gateway.String()
		}
		return nil, `[ "$(nmcli -g ipv4.method connection show ` + nic.Name + `)" = manual ] && ` + addressCheck(st, nic), []string{
			nmcliEnsure(nic.Name),
			"nmcli connection modify " + nic.Name + " connection.autoconnect yes ipv4.method manual ipv4.addresses " + strings.Join(addrs, ",") + " ipv4.gateway " + gw + " ipv6.method ignore",
			"nmcli connection up " + nic.Name,
		}
	})
	out = append(out, Step{
		Name:    "firewalld",
		Comment: "off, as in the classroom VMs (or open the service port with firewall-cmd)",
		Check:   "! systemctl is-active -q firewalld",
		Apply:   []string{"systemctl disable --now firewalld"},
	})
	out = append(out, Step{
		Name:    "selinux",
		Comment: "permissive, as in the classroom VMs (httpd on a non-standard port needs semanage otherwise)",
		Check:   `[ "$(getenforce 2>/dev/null || echo Disabled)" != Enforcing ]`,
		Apply:   []string{"setenforce 0", "sed -i 's/^SELINUX=enforcing/SELINUX=permissive/' /etc/selinux/config"},
	})
	return out
}

// rhelAddresses: the VIPs of lo and tunl0 come from a small unit.
func rhelAddresses(st *roles.NodeState) []Step {
	var out []Step
	if devs := virtualDevices(st); len(devs) > 0 {
		f := vipUnitFile(st)
		var checks []string
		for _, dev := range devs {
			checks = append(checks, exactAddrCheck(dev, aliasPrefixes(st, dev), false))
		}
		out = append(out, Step{
			Name:    "vip " + strings.Join(devs, " "),
			Comment: vipComment(st, devs[0]) + "; a small unit puts it back at boot",
			File:    &f,
			Check:   "systemctl is-enabled -q " + VIPUnit + " && " + strings.Join(checks, " && "),
			Apply:   []string{"systemctl daemon-reload", "systemctl enable " + VIPUnit, "systemctl restart " + VIPUnit},
		})
	}
	return append(out, sysctlStep(st))
}

func nmcliEnsure(nic string) string {
	return "nmcli connection show " + nic + " >/dev/null 2>&1 || nmcli connection add type ethernet con-name " + nic + " ifname " + nic
}
