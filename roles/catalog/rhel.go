package catalog

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/roles"
)

// rhel configures NetworkManager (nmcli), yum and httpd.
var rhel = family{
	name:        RHEL,
	early:       rhelEarly,
	security:    rhelSecurity,
	addresses:   rhelAddresses,
	marks:       rhelMarks,
	webServer:   "httpd",
	nginxRoot:   "/usr/share/nginx/html",
	webPorts:    httpdListenFile,
	rulesFile:   RHELRulesFile,
	ipvsBootOff: rhelIPVSBootOff,
	ipvsAtBoot: func() []Step {
		f := ipvsadmDropIn()
		return []Step{{
			Name:    "ipvsadm stop",
			Comment: "ipvsadm.service saves the table over " + RHELRulesFile + " when it stops: a drill's ipvsadm -d would come back at every boot; stopping only clears the table",
			File:    &f,
			Apply:   []string{"systemctl daemon-reload"},
		}, {
			Name:    "ipvs at boot",
			Comment: "the ipvsadm service restores " + RHELRulesFile + " at boot",
			Check:   "systemctl is-enabled -q ipvsadm",
			Apply:   []string{"systemctl enable ipvsadm"},
		}}
	},
}

// rhelEarly: NetworkManager holds the NICs' own addresses from the start
// (nmcli cannot label an address, so the VIPs come from a unit later).
func rhelEarly(st *roles.NodeState) []Step {
	steps := rhelNICs(st)
	// The handout keeps the classroom's own form: a profile per NIC named
	// after it, added when missing.
	for i := range steps {
		nic := strings.Fields(steps[i].Name)[1]
		steps[i].Handout = append([]string{"nmcli connection show " + nic + " >/dev/null 2>&1 || " + nmcliAdd(nic)}, steps[i].Apply[1:]...)
	}
	return steps
}

// rhelNICs are the NICs' steps through nmcli.
func rhelNICs(st *roles.NodeState) []Step {
	return nicSteps(st, false, func(nic roles.NICState) (*File, string, []string) {
		if nic.Down {
			return nil, `[ "$(nmcli -g connection.autoconnect connection show ` + nic.Name + `)" = no ] && ` + downCheck(nic.Name), []string{
				nmcliEnsure(nic.Name),
				"nmcli connection modify " + nic.Name + " connection.autoconnect no ipv4.method disabled ipv4.addresses '' ipv4.gateway '' ipv6.method ignore",
				"nmcli connection down " + nic.Name + " || true",
				"ip -4 addr flush dev " + nic.Name,
				"ip link set " + nic.Name + " down",
			}
		}
		gw := "''"
		if st.GatewayNIC() == nic.Name {
			gw = st.Gateway.String()
		}
		// The NIC's own label only: the VIP unit adds eth0:0 and its kin.
		own := roles.NodeState{NICs: []roles.NICState{nic}, Gateway: st.Gateway, Floating: st.Floating}
		check := `[ "$(nmcli -g ipv4.method connection show ` + nic.Name + `)" = manual ] && ` +
			`[ "$(nmcli -g ipv4.addresses connection show ` + nic.Name + `)" = ` + nic.Address.String() + ` ] && ` +
			addressCheck(&own, nic, nic.Name)
		return nil, check, append([]string{
			nmcliEnsure(nic.Name),
			"nmcli connection modify " + nic.Name + " connection.autoconnect yes ipv4.method manual ipv4.addresses " + nic.Address.String() + " ipv4.gateway " + gw + " ipv6.method ignore",
			"nmcli connection up " + nic.Name,
		}, afterNetwork(st)...)
	})
}

// rhelSecurity: firewalld and SELinux are relaxed as in the classroom VMs,
// for good.
func rhelSecurity(*roles.NodeState) []Step {
	return []Step{{
		Name:    "firewalld",
		Comment: "off now and at boot, as in the classroom VMs (or open the service port with firewall-cmd)",
		Check:   "! systemctl is-enabled -q firewalld 2>/dev/null && ! systemctl is-active -q firewalld",
		Apply:   []string{"systemctl disable --now firewalld"},
	}, {
		Name:    "selinux",
		Comment: "permissive now and at boot, as in the classroom VMs (httpd on a non-standard port needs semanage otherwise)",
		// What getenforce reads (no selinuxfs: disabled), and the boot
		// setting, by the shell.
		Check: `lvslab_enforce=; read -r lvslab_enforce </sys/fs/selinux/enforce; lvslab_boot=; while IFS= read -r lvslab_l || [ -n "$lvslab_l" ]; do case $lvslab_l in SELINUX=enforcing*) lvslab_boot=enforcing ;; esac; done </etc/selinux/config; [ "$lvslab_enforce" != 1 ] && [ -z "$lvslab_boot" ]`,
		Apply: []string{`[ "$(getenforce)" != Enforcing ] || setenforce 0`, "sed -i 's/^SELINUX=enforcing/SELINUX=permissive/' /etc/selinux/config"},
	}}
}

// rhelAddresses: every VIP (the director's eth0:0, a real server's lo:0 or
// tunl0) comes from a small unit, with its label.
func rhelAddresses(st *roles.NodeState) []Step {
	if len(st.Aliases) == 0 {
		return nil
	}
	f := vipUnitFile(st)
	var devs, checks []string
	for _, a := range st.Aliases {
		if !slices.Contains(devs, a.Device) {
			devs = append(devs, a.Device)
		}
		checks = append(checks, addrCheck(a.Device, a.Label, []netip.Prefix{a.Address}, false, netip.Addr{}))
	}
	return []Step{{
		Name:    "vip " + strings.Join(devs, " "),
		Comment: vipComment(st, devs) + "; a small unit puts it back at boot",
		File:    &f,
		Check:   "systemctl is-enabled -q " + VIPUnit + " && " + strings.Join(checks, " && "),
		Apply:   []string{"systemctl daemon-reload", "systemctl enable " + VIPUnit, "systemctl restart " + VIPUnit},
	}}
}

// nmcliEnsure makes the NIC's one profile, named after it: the profile
// already active on it (a cloud image's "System eth0" or "cloud-init
// eth0", NetworkManager's own "Wired connection 1") is renamed and bound
// to the NIC rather than a second one added beside it, which would take
// the NIC back at the next boot.
func nmcliEnsure(nic string) string {
	return "nmcli connection show " + nic + " >/dev/null 2>&1 || { lvslab_c=$(nmcli -g GENERAL.CONNECTION device show " + nic + " 2>/dev/null); " +
		`if [ -n "$lvslab_c" ]; then nmcli connection modify "$lvslab_c" connection.id ` + nic + " connection.interface-name " + nic +
		"; else " + nmcliAdd(nic) + "; fi; }"
}

func nmcliAdd(nic string) string {
	return "nmcli connection add type ethernet con-name " + nic + " ifname " + nic
}
