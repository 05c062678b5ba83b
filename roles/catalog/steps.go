package catalog

import (
	"bufio"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/shell"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
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
	Kind    Kind   `json:"kind,omitempty"`
	// Check is a shell command whose exit status 0 means "already as desired".
	Check string `json:"check,omitempty"`
	// File is written whole when its current content differs.
	File *File `json:"file,omitempty"`
	// Apply are the commands a student would type, run in order.
	Apply []string `json:"apply"`
	// Handout replaces Apply in the text handout: the way a student builds
	// the same state by hand (the ipvsadm commands, for instance).
	Handout []string `json:"handout"`
	// Readdress: the step changes a lab NIC's addresses through the network
	// manager: a student's handout run over SSH on a lab address goes on
	// detached from the first one (lvslab itself rides on the management
	// NIC and needs no such care).
	Readdress bool `json:"readdress,omitempty"`
	// FirstBoot: the seed of lvslab's images writes File on the node's
	// first boot, before sshd and the web server start, and runs Boot after
	// it; the first configure then only compares it (under TCG every SSH
	// command costs about a second). Steps that need a running system
	// (services, networkd restarts) are left to configure.
	FirstBoot bool     `json:"first_boot,omitempty"`
	Boot      []string `json:"boot"`
	// IPVS are the services a KindIPVS step loads.
	IPVS []ipvs.Service `json:"ipvs"`
	// RulesFile is the saved rules (ipvsadm-save form) the IPVS step
	// restores from when the table is empty.
	RulesFile string `json:"rules_file,omitempty"`
}

// Kind tells how a step is applied:
//   - KindCommand: the File is written when it differs and the Apply
//     commands run when the Check fails; the check must then pass;
//   - KindService: the same, for a change that takes effect asynchronously
//     (a service starting): the check is retried for a while;
//   - KindNetwork: addresses through the network manager, asynchronous too;
//     consecutive network steps are applied together (one networkd
//     restart; lvslab's session rides on the management NIC, so nothing
//     needs a detached run);
//   - KindIPVS: the table is loaded whole when empty, else edited with the
//     fewest ipvsadm commands, and read back.
type Kind string

// Kinds of step.
const (
	KindCommand Kind = ""
	KindService Kind = "service"
	KindNetwork Kind = "network"
	KindIPVS    Kind = "ipvs"
)

// Steps lists the steps that bring a node to its desired state on an OS
// family (Debian or RHEL), in the order a student would take them.
func Steps(st *roles.NodeState, osFamily string) []Step { return StepsFor(st, osFamily, "") }

// familyOf is an OS family's (Debian's for any other).
func familyOf(osFamily string) family {
	if osFamily == RHEL {
		return rhel
	}
	return debian
}

// StepsFor is Steps on a guest whose network owner (Owner*, "" for the
// family's own) may be another family's: the lab NICs and VIPs are then
// configured in that owner's form (FormFor), the rest in the OS family's,
// so that one manager alone holds each NIC.
func StepsFor(st *roles.NodeState, osFamily, owner string) []Step {
	f := familyOf(osFamily)
	net := familyOf(FormFor(osFamily, owner))
	// One order for every family: the hostname, the network manager's own
	// set-up, the family's firewall and SELinux, packages and modules (TUN's
	// tunl0 needs its module before its sysctls), the kernel settings, the
	// addresses, then the web server and IPVS with its boot-time restore.
	// Kernel settings come before any VIP: a real server must ignore ARP for
	// the VIP before the VIP is on its lo or tunl0, else the client may
	// cache its MAC.
	out := []Step{hostnameStep(st)}
	if owner == OwnerIfupdown {
		out = append(out, ifupdownHandover(st))
	}
	out = append(out, net.early(st)...)
	if f.security != nil {
		out = append(out, f.security(st)...)
	}
	out = append(out, packagesStep(st, f.name))
	if off := keepalivedOffStep(st); off != nil && (st.Role == topology.RoleDirector || st.Role == topology.RoleWeb) {
		out = append(out, *off)
	}
	if len(st.Modules) > 0 {
		out = append(out, modulesStep(st))
	}
	sysctl := sysctlStep(st)
	if f.seeded {
		sysctl.FirstBoot, sysctl.Boot = true, []string{"sysctl -q -p " + SysctlFile}
	}
	out = append(out, sysctl)
	out = append(out, net.addresses(st)...)
	if stale := staleVIPStep(st, net.name); stale != nil {
		out = append(out, *stale)
	}
	out = append(out, f.marks(st)...)
	if st.Web != nil {
		out = append(out, webSteps(st, f)...)
	}
	if (st.IPVS != nil || st.Role == topology.RoleDirector) && !st.KeepalivedIPVS() {
		out = append(out, ipvsSteps(st, f.rulesFile, f.seeded)...)
		out = append(out, f.ipvsAtBoot()...)
	}
	if st.Keepalived != "" {
		out = append(out, keepalivedSteps(st, f)...)
	}
	return out
}

// family is what an OS family puts into the one order of Steps.
type family struct {
	name string
	// seeded: lvslab's images of this family apply the FirstBoot steps.
	seeded bool
	// early follows the hostname: how the family's network manager comes
	// to own the NICs.
	early func(st *roles.NodeState) []Step
	// security follows it: the family's firewall and SELinux, nil for none.
	security func(st *roles.NodeState) []Step
	// addresses follows the kernel settings: addresses, down NICs and VIPs,
	// in the order the family needs them.
	addresses func(st *roles.NodeState) []Step
	webServer string
	webPorts  func(st *roles.NodeState) File
	// nginxRoot is where the family's nginx default server serves port 80 from.
	nginxRoot string
	rulesFile string
	// ipvsAtBoot makes the saved rules come back at boot.
	ipvsAtBoot func() []Step
	// ipvsBootOff undoes ipvsAtBoot where keepalived owns the table.
	ipvsBootOff func() Step
	// marks are the director's firewall marks, loaded now and at boot (or
	// another lab's removed).
	marks func(st *roles.NodeState) []Step
}

// nicSteps bring a node's NICs under its network manager: each address,
// then each NIC kept down. how gives a NIC's file (nil: none), check and
// commands. They may change the address that carries the SSH session.
// withAliases: the NIC's own configuration carries its VIP aliases.
func nicSteps(st *roles.NodeState, withAliases bool, how func(nic roles.NICState) (*File, string, []string)) []Step {
	var up, down []Step
	for _, nic := range st.NICs {
		f, check, apply := how(nic)
		s := Step{Kind: KindNetwork, File: f, Check: check, Apply: apply, Readdress: true}
		if nic.Down {
			s.Name, s.Comment = "disable "+nic.Name, nic.Name+" stays down with no address"
			down = append(down, s)
		} else {
			s.Name, s.Comment = "address "+nic.Name, addressComment(st, nic, withAliases)
			up = append(up, s)
		}
	}
	return append(up, down...)
}

func addressComment(st *roles.NodeState, nic roles.NICState, withAliases bool) string {
	s := nic.Name + " " + nic.Address.String()
	for _, a := range aliasesOn(st, nic.Name) {
		if withAliases {
			s += ", VIP " + a.Address.String() + " as " + a.Label
		}
	}
	if st.GatewayNIC() == nic.Name {
		s += ", gateway " + st.Gateway.String()
	}
	return s + "; DHCP off"
}

func vipComment(st *roles.NodeState, devs []string) string {
	var vips []string
	for _, dev := range devs {
		for _, a := range aliasesOn(st, dev) {
			v := a.Address.String() + " on " + dev
			if a.Label != "" {
				v += " as " + a.Label
			}
			vips = append(vips, v)
		}
	}
	if st.Role == topology.RoleDirector {
		return "the VIP " + strings.Join(vips, ", ") + ": the director answers ARP for it"
	}
	return "the VIP " + strings.Join(vips, ", ") + " (always /32) so this real server accepts packets for it"
}

func aliasPrefixes(st *roles.NodeState, dev string) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range aliasesOn(st, dev) {
		out = append(out, a.Address)
	}
	return out
}

// Checks start as few processes as they can: each costs 35-200 ms in a
// TCG guest, and the survey runs every check of a node. They are read by
// sh, which is dash on Debian: its read builtin reads a byte at a time, and
// an integer sysctl file answers a read at an offset with EOF, so sysctls
// are read by sysctl; strings of /proc/sys and the files of /sys read
// whole.

// addrCheck: dev (its addresses with label, when label is set) carries
// exactly these IPv4 addresses (or, when exact is false, at least these)
// and, when gw is valid, the default route goes via gw on dev. One ip
// reads them all (ip -batch when it is two commands), the shell matches
// its "ip -o" lines ("2: eth0    inet 192.168.4.5/24 brd ..."): one
// " inet " a line, so N of them is N addresses.
//
// floating are addresses that may be there too and do not count
// (keepalived's VIP on a VRRP router): each is cut out of the answer by
// the shell before the lines are counted.
func addrCheck(dev, label string, addrs []netip.Prefix, exact bool, gw netip.Addr, floating ...netip.Prefix) string {
	show := "addr show dev " + dev
	if label != "" {
		show += " label " + label
	}
	var parts []string
	if gw.IsValid() {
		// The route first: "default ..." starts the output when it exists.
		parts = append(parts, "lvslab_ip=$(printf '%s\\n' 'route show default via "+gw.String()+" dev "+dev+"' '"+show+"' | ip -4 -o -b -)",
			"case $lvslab_ip in default*) ;; *) false ;; esac")
	} else {
		parts = append(parts, "lvslab_ip=$(ip -4 -o "+show+")")
	}
	want := make([]string, 0, len(addrs))
	for _, a := range addrs {
		want = append(want, a.String())
	}
	sort.Strings(want)
	for _, fl := range floating {
		if slices.Contains(addrs, fl) {
			continue
		}
		m := `" inet ` + fl.String() + ` "`
		parts = append(parts, `lvslab_pre=${lvslab_ip%%`+m+`*}`, `{ [ "$lvslab_pre" = "$lvslab_ip" ] || lvslab_ip="$lvslab_pre ${lvslab_ip#*`+m+`}"; }`)
	}
	if exact {
		// More lines than wanted: no addresses repeat on a device.
		parts = append(parts, "case $lvslab_ip in "+strings.Repeat(`*" inet "`, len(want)+1)+"*) false ;; esac")
	}
	for _, a := range want {
		parts = append(parts, `case $lvslab_ip in *" inet `+a+` "*) ;; *) false ;; esac`)
	}
	return strings.Join(parts, " && ")
}

func addressCheck(st *roles.NodeState, nic roles.NICState, label string) string {
	addrs := []netip.Prefix{nic.Address}
	addrs = append(addrs, aliasPrefixes(st, nic.Name)...)
	var gw netip.Addr
	if st.GatewayNIC() == nic.Name {
		gw = st.Gateway
	}
	var floating []netip.Prefix
	for _, fl := range st.Floating {
		if nic.Address.Contains(fl.Addr()) {
			floating = append(floating, fl)
		}
	}
	return addrCheck(nic.Name, label, addrs, true, gw, floating...)
}

// downCheck: not up (IFF_UP, bit 0 of the flags that "ip link show ...
// up" tests; a NIC that is not there is not up either) and no IPv4
// address.
func downCheck(nic string) string {
	return `{ ! read -r lvslab_flags </sys/class/net/` + nic + `/flags || [ $(($lvslab_flags & 1)) = 0 ]; } && [ -z "$(ip -4 -o addr show dev ` + nic + `)" ]`
}

// moduleLoaded: a kernel module is loaded, as /proc/modules lists it (a
// built-in one has no initstate).
func moduleLoaded(m string) string { return "[ -e /sys/module/" + m + "/initstate ]" }

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
		parts = append(parts, listening("tcp", p))
	}
	return strings.Join(parts, " && ")
}

// listening: a socket of proto ("tcp" or "udp") listens on port.
func listening(proto string, port uint16) string {
	return fmt.Sprintf("lvslab_listening %s %d", proto, port)
}

func hostnameStep(st *roles.NodeState) Step {
	f := hostnameFile(st)
	return Step{
		Name:    "hostname",
		Comment: "the node is called " + st.Hostname,
		File:    &f,
		// The kernel's host name, as hostname prints it.
		Check: "read -r lvslab_hostname </proc/sys/kernel/hostname && [ \"$lvslab_hostname\" = " + shell.Quote(st.Hostname) + " ]",
		Apply: []string{"hostnamectl set-hostname " + shell.Quote(st.Hostname) + " 2>/dev/null || hostname " + shell.Quote(st.Hostname)},
	}
}

func modulesStep(st *roles.NodeState) Step {
	f := modulesFile(st)
	var checks, apply []string
	for _, m := range st.Modules {
		checks = append(checks, moduleLoaded(m))
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

func sysctlStep(st *roles.NodeState) Step {
	f := sysctlFile(st)
	// One sysctl for every key: it prints their values in order.
	var keys, values []string
	for _, s := range append(slices.Clone(st.Sysctls), st.Resets...) {
		keys, values = append(keys, s.Key), append(values, s.Value)
	}
	// One sysctl reads every key, and first each key whose value another
	// one takes ("$(sysctl -n net.ipv4.conf.default.rp_filter)"). Its
	// values (integers) are joined by the shell, the ones taken picked off
	// the front: no other process.
	var refs []string
	vars := map[string]string{}
	for i, v := range values {
		k, ok := strings.CutPrefix(v, "$(sysctl -n ")
		if !ok || !strings.HasSuffix(k, ")") {
			continue
		}
		k = strings.TrimSuffix(k, ")")
		name, seen := vars[k]
		if !seen {
			name = "lvslab_" + strings.ReplaceAll(strings.TrimPrefix(k, "net.ipv4.conf."), ".", "_")
			vars[k] = name
			refs = append(refs, k)
		}
		values[i] = "$" + name
	}
	var check string
	if len(keys) > 0 {
		check = "lvslab_sysctl=; for lvslab_v in $(sysctl -n " + strings.Join(append(slices.Clone(refs), keys...), " ") + `); do lvslab_sysctl="$lvslab_sysctl $lvslab_v"; done`
		if len(refs) > 0 {
			check += "; lvslab_rest=${lvslab_sysctl# }"
			for i, k := range refs {
				if i > 0 {
					check += "; lvslab_rest=${lvslab_rest#* }"
				}
				check += "; " + vars[k] + "=${lvslab_rest%% *}"
			}
		}
		want := make([]string, 0, len(refs)+len(values))
		for _, k := range refs {
			want = append(want, "$"+vars[k])
		}
		check += `; [ "$lvslab_sysctl" = " ` + strings.Join(append(want, values...), " ") + `" ]`
	}
	comment := "kernel settings, persistent in " + SysctlFile
	if len(st.Sysctls) == 0 {
		comment = "no special kernel settings (the file stays, empty, so stale ones vanish)"
	}
	apply := []string{"sysctl -p " + SysctlFile}
	if len(st.Resets) > 0 {
		comment += "; what another lab may have set here goes back to the kernel's default"
		var w []string
		for _, r := range st.Resets {
			w = append(w, r.Key+"="+r.Value)
		}
		apply = append(apply, "sysctl -q -w "+strings.Join(w, " "))
	}
	return Step{
		Name:    "sysctl",
		Comment: comment,
		File:    &f,
		Check:   check,
		Apply:   apply,
	}
}

// staleVIPStep removes the VIPs an earlier lab of the same VM left where
// this lab wants none (NAT after DR: lo keeps the VIP, and with it the
// real server answers for an address it must not): DR's on lo, TUN's on
// tunl0 and the ipip module that makes tunl0, with the files that put them
// back; on RHEL also the VIP unit and a NIC's labelled aliases. nil when
// nothing could be stale.
func staleVIPStep(st *roles.NodeState, osFamily string) *Step {
	if st.Role != topology.RoleWeb && st.Role != topology.RoleDirector {
		return nil
	}
	wanted := map[string]bool{}
	for _, a := range st.Aliases {
		wanted[a.Device] = true
	}
	var checks, files, flush []string
	if st.Role == topology.RoleWeb {
		for _, dev := range []string{"lo", "tunl0"} {
			if wanted[dev] {
				continue
			}
			check, flushDev := `[ -z "$(ip -4 -o addr show dev `+dev+` scope global)" ]`, "ip -4 addr flush dev "+dev+" scope global"
			if dev == "tunl0" {
				// Only where ipip is loaded: root naming tunl0 makes the
				// kernel load ipip (tunl0 is its netdev alias).
				// The check is surveyed on every up: a test of the shell's,
				// no grep. The flush runs once and a student reads it in the
				// handout: /proc/modules, as lsmod shows it.
				check = "{ ! " + moduleLoaded("ipip") + " || " + check + "; }"
				flushDev = "! grep -qs '^ipip ' /proc/modules || " + flushDev
				if !slices.Contains(st.Modules, "ipip") {
					// ipip must be unloaded (below), which takes tunl0 with it.
					check = ""
				}
			}
			if check != "" {
				checks = append(checks, check)
			}
			flush = append(flush, flushDev)
			if osFamily == Debian {
				files = append(files, virtualNetworkFile(st, dev).Path)
			}
		}
	}
	if osFamily == RHEL {
		for _, nic := range st.NICs {
			if !nic.Down && !wanted[nic.Name] {
				checks = append(checks, `[ -z "$(ip -4 -o addr show dev `+nic.Name+" label '"+nic.Name+`:*')" ]`)
				flush = append(flush, "ip -4 addr flush dev "+nic.Name+" label '"+nic.Name+":*'")
			}
		}
	}
	var apply, unload []string
	if st.Role == topology.RoleWeb && !slices.Contains(st.Modules, "ipip") {
		// Leaving TUN: ipip unloaded takes tunl0 with it; nothing loads it at boot.
		checks = append(checks, "! "+moduleLoaded("ipip"))
		unload = append(unload, "modprobe -r ipip 2>/dev/null || :")
		if len(st.Modules) == 0 {
			files = append(files, ModulesFile)
		}
	}
	if osFamily == RHEL && len(st.Aliases) == 0 {
		files = append(files, VIPUnitFile)
		apply = append(apply, "systemctl disable --now "+VIPUnit+" 2>/dev/null || :")
	}
	if len(checks) == 0 && len(files) == 0 {
		return nil
	}
	for _, f := range files {
		checks = append(checks, "[ ! -e "+f+" ]")
	}
	if len(files) > 0 {
		apply = append(apply, "rm -f "+strings.Join(files, " "))
	}
	if osFamily == RHEL && len(st.Aliases) == 0 {
		apply = append(apply, "systemctl daemon-reload")
	}
	return &Step{
		Name:    "no stale vip",
		Comment: "nothing left of another lab's VIP where this one wants none (a VM re-used from a DR or TUN lab: lo's VIP, tunl0 with its ipip module)",
		Check:   strings.Join(checks, " && "),
		Apply:   append(append(apply, flush...), unload...),
	}
}

// webSteps make a real server serve its page: the other web server off
// (both may be installed; they would fight over port 80), the web server
// (apache2, httpd or nginx) listening on the real-server ports, restarted
// only when its ports file changes. The seed may write the ports file and
// the page: the web server starts after it.
func webSteps(st *roles.NodeState, f family) []Step {
	server, other, ports, page := f.webServer, "nginx", f.webPorts(st), indexFile(st)
	if st.Web.Server == topology.WebNginx {
		server, other, ports = "nginx", f.webServer, nginxConfFile(st, f.nginxRoot)
		page.Path = f.nginxRoot + "/index.html"
	}
	return append([]Step{
		{
			Name:    other + " off",
			Comment: "this node serves with " + server + "; " + other + " (if installed) would hold port 80",
			Check:   "! systemctl is-enabled -q " + other + " 2>/dev/null && ! systemctl is-active -q " + other,
			Apply:   []string{"systemctl disable --now " + other},
		},
		{
			Name:      server + " ports",
			Comment:   "listen on the real-server port(s) " + portList(st.Web.Ports) + "; " + server + " restarts only when this changes",
			File:      &ports,
			Apply:     []string{"systemctl restart " + server},
			FirstBoot: f.seeded,
		},
		{Name: "index.html", Comment: "the page that shows which real server answered", File: &page, FirstBoot: f.seeded},
		serviceStep(server, listenCheck(st.Web.Ports), "the web server: enabled, running, listening on "+portList(st.Web.Ports)),
	}, udpSteps(st, page.Path)...)
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
		Kind:    KindService,
	}
}

// osPackages maps logical package names to an OS family's.
func osPackages(st *roles.NodeState, osFamily string) []string {
	var out []string
	for _, p := range st.Packages {
		switch {
		case p == roles.PkgWebServer && st.Web != nil && st.Web.Server == topology.WebNginx:
			out = append(out, "nginx")
		case p == roles.PkgWebServer && osFamily == RHEL:
			out = append(out, "httpd")
		case p == roles.PkgWebServer:
			out = append(out, "apache2")
		default:
			out = append(out, p)
		}
	}
	return out
}

func packagesStep(st *roles.NodeState, osFamily string) Step {
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
		Check:   "lvslab_installed " + list,
		Apply:   []string{"apt-get update", "DEBIAN_FRONTEND=noninteractive apt-get install -y " + list},
	}
}

func ipvsSteps(st *roles.NodeState, rulesPath string, seeded bool) []Step {
	f := rulesFile(st, rulesPath)
	var boot []string
	if seeded {
		boot = []string{ipvs.RestoreFrom(rulesPath)}
	}
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
			Name:      "ipvs rules file",
			Comment:   "the virtual services, saved in ipvsadm-save form",
			File:      &f,
			FirstBoot: seeded,
			Boot:      boot,
		},
		{
			Name:      "ipvs",
			Kind:      KindIPVS,
			Comment:   "load the virtual services into the kernel",
			Check:     check,
			Apply:     []string{ipvs.ClearCommand, ipvs.RestoreFrom(rulesPath)},
			Handout:   handout,
			IPVS:      services,
			RulesFile: rulesPath,
		},
	}
}

// OSFamily maps os-release content (ID, ID_LIKE) to Debian or RHEL.
func OSFamily(osRelease string) (string, error) {
	var ids []string
	var id string
	sc := bufio.NewScanner(strings.NewReader(osRelease))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			id = v
			ids = append([]string{v}, ids...)
		case "ID_LIKE":
			ids = append(ids, strings.Fields(v)...)
		}
	}
	for _, v := range ids {
		switch strings.ToLower(v) {
		case "debian", "ubuntu", "raspbian", "linuxmint", "devuan":
			return Debian, nil
		case "rhel", "centos", "fedora", "rocky", "almalinux", "ol", "anolis", "openeuler", "kylin":
			return RHEL, nil
		}
	}
	return "", fmt.Errorf("unsupported guest OS %q (ID_LIKE %v): lvslab configures Debian-like and RHEL-like guests", id, ids)
}

// Precondition is what a node must already be for its steps to work, said
// in the handout and checked first by the script.
type Precondition struct {
	Text  string `json:"text"`
	Check string `json:"check"`
	Fail  string `json:"fail"` // what the script says when Check fails, with the way out
}

// Preconditions: the steps address NICs by the lab's names (and, on
// Debian, systemd-networkd matches them by the lab's MACs), which lvslab's
// own VMs have from their first boot; a stock VM does not.
func Preconditions(st *roles.NodeState, osFamily string) []Precondition {
	var out []Precondition
	for _, nic := range st.NICs {
		if osFamily == RHEL {
			out = append(out, Precondition{
				Text:  "a NIC called " + nic.Name + " (lab network " + nic.Network + ")",
				Check: "[ -e /sys/class/net/" + nic.Name + " ]",
				Fail:  "no NIC " + nic.Name + ": boot with net.ifnames=0 biosdevname=0 (or rename the NIC) and run again",
			})
			continue
		}
		out = append(out, Precondition{
			Text:  "a NIC called " + nic.Name + " with MAC " + nic.MAC + " (lab network " + nic.Network + ")",
			Check: `[ "$(cat /sys/class/net/` + nic.Name + `/address 2>/dev/null)" = ` + nic.MAC + ` ]`,
			Fail:  "no NIC " + nic.Name + " with MAC " + nic.MAC + ": systemd-networkd's files match that MAC; give the VM's NIC that MAC and boot with net.ifnames=0, or let lvslab up build the VM",
		})
	}
	if osFamily == Debian {
		out = append(out, Precondition{
			Text:  "ifupdown not in charge (systemd-networkd owns the addresses)",
			Check: "! systemctl is-enabled -q networking 2>/dev/null",
			Fail:  "ifupdown (networking.service) manages the NICs and would add DHCP addresses back: systemctl disable networking, move /etc/network/interfaces aside, reboot, run again",
		})
	}
	return out
}
