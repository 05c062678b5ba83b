package roles

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/lvslab/lvslab/roles/ipvs"
	"github.com/lvslab/lvslab/roles/shell"
)

// OS families Steps knows.
const (
	Debian = "debian" // systemd-networkd, apt-get, apache2
	RHEL   = "rhel"   // NetworkManager (nmcli), yum/dnf, httpd
)

// OSFamilies lists the OS families Steps knows.
var OSFamilies = []string{Debian, RHEL}

// Step is one idempotent change, as plain data. A step is already done when
// its File (if any) has the wanted content and its Check (if any) exits 0;
// otherwise the File is written and the Apply commands run, in order.
type Step struct {
	Name    string `json:"name"`
	Comment string `json:"comment,omitempty"`
	// Check is a shell command whose exit status 0 means "already as desired".
	Check string `json:"check,omitempty"`
	// File is written whole when its current content differs.
	File *File `json:"file,omitempty"`
	// Apply are the commands a student would type, run in order.
	Apply []string `json:"apply,omitempty"`
	// Handout replaces Apply in the text handout: the way a student builds
	// the same state by hand (the ipvsadm commands, for instance).
	Handout []string `json:"handout,omitempty"`
	// Readdress: the step changes an interface's addresses, which may carry
	// the SSH session; run it detached and reconnect on Address.
	Readdress bool   `json:"readdress,omitempty"`
	Address   string `json:"address,omitempty"`
	// Settle: the change takes effect asynchronously (networkd); the check
	// is retried for a while after applying.
	Settle bool `json:"settle,omitempty"`
	// IPVS is set on the step that loads the IPVS rules: Apply then loads
	// them whole into an empty table, or edits the table with the fewest
	// ipvsadm commands, and reads them back.
	IPVS []ipvs.Service `json:"ipvs,omitempty"`
	// RulesFile is the saved rules (ipvsadm-save form) the IPVS step
	// restores from when the table is empty.
	RulesFile string `json:"rules_file,omitempty"`
}

// Steps lists the steps that bring a node to its desired state on an OS
// family (Debian or RHEL), in the order a student would take them.
func Steps(st *NodeState, osFamily string) []Step {
	switch osFamily {
	case RHEL:
		return rhelSteps(st)
	default:
		return debianSteps(st)
	}
}

// ---- Debian (systemd-networkd) ----

// restartNetworkd makes systemd-networkd apply its files again. networkctl
// would be gentler but needs D-Bus, which lab images leave out (seen:
// "Failed to connect system bus"); systemctl reaches systemd without it.
const restartNetworkd = "systemctl restart systemd-networkd"

func debianSteps(st *NodeState) []Step {
	var out []Step
	out = append(out, hostnameStep(st))
	out = append(out, Step{
		Name:    "systemd-networkd",
		Comment: "enabled and running: it owns the guest's addresses",
		Check:   "systemctl is-enabled -q systemd-networkd && systemctl is-active -q systemd-networkd",
		Apply:   []string{"systemctl enable --now systemd-networkd"},
	})
	for _, nic := range st.NICs {
		f := linkFile(nic)
		out = append(out, Step{
			Name:    "name " + nic.Name,
			Comment: "the NIC with MAC " + nic.MAC + " is called " + nic.Name + " (from the next boot on)",
			File:    &f,
		})
	}
	// Kernel settings come before any address: a real server must ignore
	// ARP for the VIP before the VIP is on its lo (else the client may cache
	// its MAC), and TUN's tunl0 needs its module.
	out = append(out, packagesStep(st, Debian))
	if len(st.Modules) > 0 {
		out = append(out, modulesStep(st))
	}
	out = append(out, sysctlStep(st))
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
			Apply:     []string{restartNetworkd},
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
			Apply:     []string{restartNetworkd, "ip -4 addr flush dev " + nic.Name, "ip link set " + nic.Name + " down"},
			Readdress: true,
			Address:   addrString(st.PrimaryAddress()),
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
			Apply:   []string{restartNetworkd},
			Settle:  true,
		})
	}
	if st.Web != nil {
		out = append(out, webSteps(st, "apache2", apachePortsFile(st))...)
	}
	if st.IPVS != nil || st.Role == "director" {
		out = append(out, ipvsSteps(st, DebianRulesFile)...)
		f := ipvsUnitFile()
		out = append(out, Step{
			Name:    "ipvs boot unit",
			Comment: "a unit that restores " + DebianRulesFile + " at boot",
			File:    &f,
			Apply:   []string{"systemctl daemon-reload"},
		})
		out = append(out, Step{
			Name:    "ipvs at boot",
			Comment: "enable the rules at boot",
			Check:   "systemctl is-enabled -q " + IPVSUnit,
			Apply:   []string{"systemctl enable " + IPVSUnit},
		})
	}
	return out
}

func addressComment(st *NodeState, nic NICState) string {
	s := nic.Name + " " + nic.Address.String()
	for _, a := range aliasesOn(st, nic.Name) {
		s += ", VIP " + a.Address.String() + " as " + a.Label
	}
	if st.gatewayNIC() == nic.Name {
		s += ", gateway " + st.Gateway.String()
	}
	return s + "; DHCP off"
}

func vipComment(st *NodeState, dev string) string {
	var vips []string
	for _, a := range aliasesOn(st, dev) {
		v := a.Address.String()
		if a.Label != "" {
			v += " as " + a.Label
		}
		vips = append(vips, v)
	}
	return "the VIP " + strings.Join(vips, ", ") + " on " + dev + " (always /32) so this real server accepts packets for it"
}

func aliasPrefixes(st *NodeState, dev string) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range aliasesOn(st, dev) {
		out = append(out, a.Address)
	}
	return out
}

// exactAddrCheck: dev carries exactly these IPv4 addresses (or, when
// exact is false, at least these).
func exactAddrCheck(dev string, addrs []netip.Prefix, exact bool) string {
	if !exact {
		var parts []string
		for _, a := range addrs {
			parts = append(parts, "ip -4 -o addr show dev "+dev+" | grep -q ' "+a.String()+" '")
		}
		return strings.Join(parts, " && ")
	}
	var want []string
	for _, a := range addrs {
		want = append(want, a.String())
	}
	sort.Strings(want)
	return fmt.Sprintf(`[ "$(ip -4 -o addr show dev %s | awk '{print $4}' | LC_ALL=C sort | tr '\n' ' ')" = "%s " ]`, dev, strings.Join(want, " "))
}

func addressCheck(st *NodeState, nic NICState) string {
	addrs := []netip.Prefix{nic.Address}
	addrs = append(addrs, aliasPrefixesNIC(st, nic.Name)...)
	check := exactAddrCheck(nic.Name, addrs, true)
	if st.gatewayNIC() == nic.Name {
		check += " && ip -4 route show default | grep -q '^default via " + st.Gateway.String() + " dev " + nic.Name + " '"
	}
	return check
}

func aliasPrefixesNIC(st *NodeState, nic string) []netip.Prefix { return aliasPrefixes(st, nic) }

func downCheck(nic string) string {
	return "! ip -4 -o addr show dev " + nic + " | grep -q inet && ! ip -o link show dev " + nic + " | grep -q '[<,]UP[,>]'"
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func portList(ports []uint16) string {
	var s []string
	for _, p := range ports {
		s = append(s, fmt.Sprint(p))
	}
	return strings.Join(s, ", ")
}

func listenCheck(ports []uint16) string {
	var parts []string
	for _, p := range ports {
		parts = append(parts, fmt.Sprintf("ss -Htln 'sport = :%d' | grep -q .", p))
	}
	return strings.Join(parts, " && ")
}

func hostnameStep(st *NodeState) Step {
	f := hostnameFile(st)
	return Step{
		Name:    "hostname",
		Comment: "the node is called " + st.Hostname,
		File:    &f,
		Check:   `[ "$(hostname)" = ` + shell.Quote(st.Hostname) + ` ]`,
		Apply:   []string{"hostnamectl set-hostname " + shell.Quote(st.Hostname) + " 2>/dev/null || hostname " + shell.Quote(st.Hostname)},
	}
}

func modulesStep(st *NodeState) Step {
	f := modulesFile(st)
	var checks, apply []string
	for _, m := range st.Modules {
		checks = append(checks, "grep -q '^"+m+" ' /proc/modules")
		apply = append(apply, "modprobe "+m)
	}
	return Step{
		Name:    "kernel modules",
		Comment: "load " + strings.Join(st.Modules, ", ") + " now and at boot (ipip creates tunl0)",
		File:    &f,
		Check:   strings.Join(checks, " && "),
		Apply:   apply,
	}
}

func sysctlStep(st *NodeState) Step {
	f := sysctlFile(st)
	var checks []string
	for _, s := range st.Sysctls {
		checks = append(checks, fmt.Sprintf(`[ "$(sysctl -n %s)" = %s ]`, s.Key, s.Value))
	}
	comment := "kernel settings, persistent in " + SysctlFile
	if len(st.Sysctls) == 0 {
		comment = "no special kernel settings (the file stays, empty, so stale ones vanish)"
	}
	return Step{
		Name:    "sysctl",
		Comment: comment,
		File:    &f,
		Check:   strings.Join(checks, " && "),
		Apply:   []string{"sysctl -p " + SysctlFile},
	}
}

// webSteps make a real server serve its page: the web server (apache2 or
// httpd) listening on the real-server ports, restarted only when its ports
// file changes.
func webSteps(st *NodeState, server string, ports File) []Step {
	return []Step{
		{
			Name:    server + " ports",
			Comment: "listen on the real-server port(s) " + portList(st.Web.Ports) + "; " + server + " restarts only when this changes",
			File:    &ports,
			Apply:   []string{"systemctl restart " + server},
		},
		indexStep(st),
		serviceStep(server, listenCheck(st.Web.Ports), "the web server: enabled, running, listening on "+portList(st.Web.Ports)),
	}
}

func indexStep(st *NodeState) Step {
	f := indexFile(st)
	return Step{Name: "index.html", Comment: "the page that shows which real server answered", File: &f}
}

func serviceStep(unit, extraCheck, comment string) Step {
	check := "systemctl is-enabled -q " + unit + " && systemctl is-active -q " + unit
	if extraCheck != "" {
		check += " && " + extraCheck
	}
	return Step{
		Name:    unit,
		Comment: comment,
		Check:   check,
		Apply:   []string{"systemctl enable --now " + unit},
		Settle:  true,
	}
}

// osPackages maps logical package names to an OS family's.
func osPackages(st *NodeState, osFamily string) []string {
	var out []string
	for _, p := range st.Packages {
		switch {
		case p == PkgWebServer && osFamily == RHEL:
			out = append(out, "httpd")
		case p == PkgWebServer:
			out = append(out, "apache2")
		default:
			out = append(out, p)
		}
	}
	return out
}

func packagesStep(st *NodeState, osFamily string) Step {
	pkgs := osPackages(st, osFamily)
	list := strings.Join(pkgs, " ")
	if osFamily == RHEL {
		return Step{
			Name:    "packages",
			Comment: "install " + list + " when missing",
			Check:   "rpm -q " + list + " >/dev/null",
			Apply:   []string{"yum install -y " + list},
		}
	}
	return Step{
		Name:    "packages",
		Comment: "install " + list + " when missing",
		Check:   fmt.Sprintf(`[ "$(dpkg-query -W -f='${Status}\n' %s 2>/dev/null | grep -c ' installed$')" = %d ]`, list, len(pkgs)),
		Apply:   []string{"apt-get update", "DEBIAN_FRONTEND=noninteractive apt-get install -y " + list},
	}
}

func ipvsSteps(st *NodeState, rulesPath string) []Step {
	f := rulesFile(st, rulesPath)
	var quoted []string
	for _, op := range ipvs.Build(ipvs.SaveView(st.IPVS)) {
		quoted = append(quoted, shell.Quote(op.Rule()))
	}
	check := `[ -z "$(` + ipvs.SaveCommand + `)" ]`
	if len(quoted) > 0 {
		check = fmt.Sprintf(`[ "$(%s | LC_ALL=C sort)" = "$(printf '%%s\n' %s | LC_ALL=C sort)" ]`, ipvs.SaveCommand, strings.Join(quoted, " "))
	}
	handout := append([]string{ipvs.ClearCommand}, ipvs.Commands(ipvs.Build(st.IPVS))...)
	handout = append(handout, ipvs.ListCommand)
	services := st.IPVS
	if services == nil {
		services = []ipvs.Service{}
	}
	return []Step{
		{
			Name:    "ipvs rules file",
			Comment: "the virtual services, saved in ipvsadm-save form",
			File:    &f,
		},
		{
			Name:      "ipvs",
			Comment:   "load the virtual services into the kernel",
			Check:     check,
			Apply:     []string{ipvs.ClearCommand, ipvs.RestoreFrom(rulesPath)},
			Handout:   handout,
			IPVS:      services,
			RulesFile: rulesPath,
		},
	}
}

// ---- RHEL (NetworkManager) ----

func rhelSteps(st *NodeState) []Step {
	var out []Step
	out = append(out, hostnameStep(st))
	for _, nic := range st.NICs {
		if nic.Down {
			continue
		}
		addrs := []string{nic.Address.String()}
		for _, a := range aliasesOn(st, nic.Name) {
			addrs = append(addrs, a.Address.String())
		}
		gw := "''"
		if st.gatewayNIC() == nic.Name {
			gw = st.Gateway.String()
		}
		out = append(out, Step{
			Name:    "address " + nic.Name,
			Comment: addressComment(st, nic),
			Check:   `[ "$(nmcli -g ipv4.method connection show ` + nic.Name + `)" = manual ] && ` + addressCheck(st, nic),
			Apply: []string{
				nmcliEnsure(nic.Name),
				"nmcli connection modify " + nic.Name + " connection.autoconnect yes ipv4.method manual ipv4.addresses " + strings.Join(addrs, ",") + " ipv4.gateway " + gw + " ipv6.method ignore",
				"nmcli connection up " + nic.Name,
			},
			Readdress: true,
			Address:   nic.Address.Addr().String(),
			Settle:    true,
		})
	}
	for _, nic := range st.NICs {
		if !nic.Down {
			continue
		}
		out = append(out, Step{
			Name:    "disable " + nic.Name,
			Comment: nic.Name + " stays down with no address",
			Check:   `[ "$(nmcli -g connection.autoconnect connection show ` + nic.Name + `)" = no ] && ` + downCheck(nic.Name),
			Apply: []string{
				nmcliEnsure(nic.Name),
				"nmcli connection modify " + nic.Name + " connection.autoconnect no ipv4.method disabled ipv4.addresses '' ipv4.gateway '' ipv6.method ignore",
				"nmcli connection down " + nic.Name + " || true",
				"ip -4 addr flush dev " + nic.Name,
				"ip link set " + nic.Name + " down",
			},
			Readdress: true,
			Address:   addrString(st.PrimaryAddress()),
			Settle:    true,
		})
	}
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
	out = append(out, packagesStep(st, RHEL))
	if len(st.Modules) > 0 {
		out = append(out, modulesStep(st))
	}
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
	out = append(out, sysctlStep(st))
	if st.Web != nil {
		out = append(out, webSteps(st, "httpd", httpdListenFile(st))...)
	}
	if st.IPVS != nil || st.Role == "director" {
		out = append(out, ipvsSteps(st, RHELRulesFile)...)
		out = append(out, Step{
			Name:    "ipvs at boot",
			Comment: "the ipvsadm service restores " + RHELRulesFile + " at boot",
			Check:   "systemctl is-enabled -q ipvsadm",
			Apply:   []string{"systemctl enable ipvsadm"},
		})
	}
	return out
}

func nmcliEnsure(nic string) string {
	return "nmcli connection show " + nic + " >/dev/null 2>&1 || nmcli connection add type ethernet con-name " + nic + " ifname " + nic
}
