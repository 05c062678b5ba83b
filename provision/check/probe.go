package check

import (
	"cmp"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/roles/shell"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// Observed is what one read of a node found: the live state a student's
// commands left, and the files that bring it back at boot.
type Observed struct {
	Hostname string
	// Addrs are the node's IPv4 addresses, in "ip -o -4 addr" order.
	Addrs []Addr
	// Up maps each link to whether it is administratively up.
	Up map[string]bool
	// Routes are the default routes.
	Routes []Route
	// Sysctl maps "net.ipv4.ip_forward" to its live value ("" unreadable).
	Sysctl map[string]string
	// Persistent maps each key to the value the sysctl files set at boot,
	// PersistentFrom to the file that sets it.
	Persistent, PersistentFrom map[string]string
	Modules                    map[string]bool
	// Active and Enabled map a unit to "systemctl is-active/is-enabled".
	Active, Enabled map[string]string
	// Listening are the TCP ports something listens on.
	Listening map[uint16]bool
	// Page is index.html; Served the body answered on each port (nil when
	// the request failed).
	Page   *string
	Served map[uint16]*string
	// IPVS is the kernel's table; IPVSErr says why the table could not be
	// read (no ipvsadm, no module).
	IPVS    []ipvs.Service
	IPVSErr string
	// Marks says, for each of the node's firewall marks, whether it is live.
	Marks []bool
	// Files are the files read for what comes back at boot (sysctl files,
	// network configuration, enabled units, the page, the rules files), by
	// path; OSRelease is /etc/os-release.
	Files     map[string]string
	OSRelease string
}

// Addr is one IPv4 address of a device, with its label (eth0:0, lo:0).
type Addr struct {
	Device string
	Label  string
	Prefix netip.Prefix
}

// Route is a default route.
type Route struct {
	Via    netip.Addr
	Device string
}

// probe is what one node is asked, in one command whatever its OS (every
// process costs ~0.1-0.2 s in a TCG guest): one grep reads the /proc and
// /sys files of the live state and every file that brings state back at
// boot; ip lists the addresses, one systemctl the units; a web server is
// asked for its page, a director for its IPVS table.
type probe struct {
	sysctls []string
	units   []string
	ports   []uint16
	pages   []string
	rules   []string
	ipvs    bool
	modules bool
	// marks are the commands that tell whether each firewall mark is live
	// (either OS family's form).
	marks []string
}

// The probe's sections (guest.Probe).
const (
	secFiles     = "files"
	secAddr      = "addr"
	secUnits     = "units"
	secServed    = "served"
	secIPVS      = "ipvs"
	secIPVSError = "ipvs-error"
	secMarks     = "marks"
	secRestored  = "restored"
)

// Live state read as files.
const (
	hostnameFile = "/proc/sys/kernel/hostname"
	routeFile    = "/proc/net/route"
	modulesFile  = "/proc/modules"
	flagsGlob    = "/sys/class/net/*/flags"
	osRelease    = "/etc/os-release"
	osReleaseLib = "/usr/lib/os-release"
)

var tcpFiles = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// newProbe asks what judging st needs on any OS family: the units, page
// and rules file of each family's steps.
func newProbe(st *roles.NodeState) probe {
	p := probe{modules: len(st.Modules) > 0}
	for _, s := range st.Sysctls {
		p.sysctls = append(p.sysctls, s.Key)
	}
	for _, osFamily := range catalog.OSFamilies {
		steps := catalog.Steps(st, osFamily)
		if unit := webUnit(steps); unit != "" {
			p.units = append(p.units, unit)
			p.ports = st.Web.Ports
		}
		for _, m := range st.Marks {
			p.marks = append(p.marks, catalog.MarkCheck(m, osFamily))
		}
		for _, s := range steps {
			if s.WritesPage() && !slices.Contains(p.pages, s.File.Path) {
				p.pages = append(p.pages, s.File.Path)
			}
			if s.Kind == catalog.KindIPVS {
				p.ipvs = true
				if s.RulesFile != "" && !slices.Contains(p.rules, s.RulesFile) {
					p.rules = append(p.rules, s.RulesFile)
				}
			}
		}
	}
	if st.Web != nil {
		for _, u := range st.Web.UDP {
			p.units = append(p.units, catalog.UDPUnit(u.Port))
		}
	}
	if len(st.Marks) > 0 {
		p.units = append(p.units, catalog.MarksUnit)
	}
	if len(st.Aliases) > 0 {
		p.units = append(p.units, stackUnits...)
	}
	for _, r := range []string{catalog.DebianRulesFile, catalog.RHELRulesFile} {
		if p.ipvs && !slices.Contains(p.rules, r) {
			p.rules = append(p.rules, r)
		}
	}
	slices.Sort(p.units)
	p.units = slices.Compact(p.units)
	return p
}

// files lists what the probe's grep reads: the live state first (a
// student's huge file cuts the section after it).
func (p probe) files() []string {
	out := []string{osRelease, osReleaseLib, hostnameFile, routeFile, flagsGlob}
	for _, k := range p.sysctls {
		out = append(out, "/proc/sys/"+strings.ReplaceAll(k, ".", "/"))
	}
	if p.modules {
		out = append(out, modulesFile)
	}
	if len(p.ports) > 0 {
		out = append(out, tcpFiles...)
	}
	for _, f := range p.pages {
		out = append(out, shell.Quote(f))
	}
	for _, f := range p.rules {
		out = append(out, shell.Quote(f))
	}
	if len(p.sysctls) > 0 {
		out = append(out, sysctlGlobs()...)
	}
	return append(out, bootGlobs...)
}

// restoredFilesScript reads the files the units of glob load with
// ipvsadm-restore (a student's own unit may save its rules anywhere): the
// shell's read finds "< FILE" in their Exec lines (no process), one grep
// reads them, only when there are some.
func restoredFilesScript(glob string) string {
	return `set --; for u in ` + glob + `; do [ -f "$u" ] || continue; while IFS= read -r l || [ -n "$l" ]; do case $l in Exec*ipvsadm*\<*) ` +
		`f=${l##*<}; f=${f#"${f%%[A-Za-z0-9/._-]*}"}; f=${f%%[!A-Za-z0-9/._-]*}; [ -f "$f" ] && set -- "$@" "$f";; esac; done <"$u"; done; ` +
		`[ $# -eq 0 ] || ` + grepFiles + ` "$@"`
}

// grepFiles reads every line of files as "PATH\0LINE" (-Z: a file name
// may hold a colon, ifcfg-lo:0; -a: a binary file is read as text; -s: a
// glob that matched nothing is quiet). A student is root in the guest: a
// link to a device (/dev/zero) is skipped, and a file gives at most 4000
// lines (the kernel lists listening sockets first in /proc/net/tcp).
const grepFiles = "grep -saHZ -D skip -m 4000 ''"

// build makes the probe one guest.Probe, one sh command that always exits 0.
func (p probe) build() *guest.Probe {
	gp := guest.NewProbe()
	var b strings.Builder
	sec := func(name string) {
		gp.Add(b.String())
		b.Reset()
		gp.Section(name, "")
	}
	markCommand := gp.Mark
	sec(secFiles)
	b.WriteString(grepFiles + " " + strings.Join(p.files(), " ") + "\n")
	sec(secAddr)
	b.WriteString("ip -o -4 addr show\n")
	if len(p.units) > 0 {
		sec(secUnits)
		fmt.Fprintf(&b, "systemctl show -p Id -p ActiveState -p UnitFileState %s\n", strings.Join(p.units, " "))
	}
	for _, port := range p.ports {
		sec(fmt.Sprintf("%s %d", secServed, port))
		fmt.Fprintf(&b, "curl -sf -m 5 http://127.0.0.1:%d/ || %s\n", port, markCommand(fmt.Sprintf("%s %d failed", secServed, port)))
	}
	if p.ipvs {
		sec(secRestored)
		b.WriteString(restoredFilesScript(wantsGlob) + "\n")
		sec(secIPVS)
		fmt.Fprintf(&b, "if out=$(%s 2>&1); then echo \"$out\"; %s 2>/dev/null; else %s; echo \"$out\"; fi\n", ipvs.SaveCommand, ipvs.ThresholdsCommand, markCommand(secIPVSError))
	}
	if len(p.marks) > 0 {
		sec(secMarks)
		for i := 0; i+1 < len(p.marks); i += 2 {
			fmt.Fprintf(&b, "if { %s; } || { %s; }; then echo '%d loaded'; else echo '%d missing'; fi\n", p.marks[i], p.marks[i+1], i/2, i/2)
		}
	}
	gp.Add(b.String())
	return gp
}

// parse reads the output of the probe gp.
func parse(gp *guest.Probe, out string) (*Observed, error) {
	o := &Observed{Up: map[string]bool{}, Sysctl: map[string]string{}, Persistent: map[string]string{}, PersistentFrom: map[string]string{}, Modules: map[string]bool{},
		Active: map[string]string{}, Enabled: map[string]string{}, Listening: map[uint16]bool{}, Served: map[uint16]*string{}, Files: map[string]string{}}
	a, err := gp.Parse(out)
	if err != nil {
		return nil, err
	}
	sections := map[string][]string{}
	for _, name := range a.Names() {
		sections[name] = a.Lines(name)
	}
	order := a.Names()
	files := readFiles(sections[secFiles])
	for p, c := range readFiles(sections[secRestored]) {
		files[p] = c
	}
	o.OSRelease = files[osRelease]
	if o.OSRelease == "" {
		o.OSRelease = files[osReleaseLib]
	}
	o.Hostname = strings.TrimSpace(files[hostnameFile])
	o.Addrs = parseAddrs(sections[secAddr])
	o.Routes = parseProcRoutes(files[routeFile])
	o.sortFiles(files)
	for k, v := range sysctlAtBoot(o.Files) {
		o.Persistent[k], o.PersistentFrom[k] = v.Value, v.File
	}
	for id, props := range parseShow(sections[secUnits]) {
		active, enabled := cmp.Or(props["ActiveState"], "unknown"), cmp.Or(props["UnitFileState"], "missing")
		// systemctl names a unit asked for as "apache2" apache2.service
		for _, name := range []string{id, strings.TrimSuffix(id, ".service")} {
			o.Active[name], o.Enabled[name] = active, enabled
		}
	}
	for _, port := range portsOf(order) {
		name := fmt.Sprintf("%s %d", secServed, port)
		if _, failed := sections[name+" failed"]; failed {
			o.Served[port] = nil
			continue
		}
		body := a.Text(name)
		o.Served[port] = &body
	}
	for _, line := range sections[secMarks] {
		var i int
		var state string
		if _, err := fmt.Sscanf(line, "%d %s", &i, &state); err == nil {
			o.Marks = append(o.Marks, state == "loaded")
		}
	}
	if lines, ok := sections[secIPVSError]; ok {
		o.IPVSErr = strings.TrimSpace(strings.Join(lines, " "))
		if o.IPVSErr == "" {
			o.IPVSErr = "ipvsadm failed"
		}
	} else if a.Has(secIPVS) {
		svcs, err := ipvs.ParseRules(a.Text(secIPVS))
		if err != nil {
			o.IPVSErr = err.Error()
		}
		o.IPVS = svcs
	}
	return o, nil
}

// sortFiles sorts the files the probe read: the kernel's (sysctls, NIC
// flags, sockets, modules) into their facts, the others kept whole.
func (o *Observed) sortFiles(files map[string]string) {
	for p, c := range files {
		switch {
		case strings.HasPrefix(p, "/proc/sys/") && p != hostnameFile:
			o.Sysctl[strings.ReplaceAll(strings.TrimPrefix(p, "/proc/sys/"), "/", ".")] = strings.TrimSpace(c)
		case match(flagsGlob, p):
			flags, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(c), "0x"), 16, 32)
			o.Up[path.Base(path.Dir(p))] = err == nil && flags&1 != 0 // IFF_UP
		case slices.Contains(tcpFiles, p):
			for port := range listeningPorts(c) {
				o.Listening[port] = true
			}
		case p == modulesFile:
			for _, line := range strings.Split(c, "\n") {
				if f := strings.Fields(line); len(f) > 0 {
					o.Modules[f[0]] = true
				}
			}
		case strings.HasPrefix(p, "/proc/") || strings.HasPrefix(p, "/sys/"):
		default:
			o.Files[p] = c
		}
	}
}

// readFiles reads grepFiles' lines back into each file's text.
func readFiles(lines []string) map[string]string {
	out := map[string]string{}
	for _, line := range lines {
		p, text, ok := strings.Cut(line, "\x00")
		if !ok {
			continue // a file name with a newline in it
		}
		out[p] += text + "\n"
	}
	return out
}

// parseShow reads "systemctl show -p Id -p ...": a block of KEY=VALUE per
// unit, blank lines between.
func parseShow(lines []string) map[string]map[string]string {
	out := map[string]map[string]string{}
	cur := map[string]string{}
	flush := func() {
		if id := cur["Id"]; id != "" {
			out[id] = cur
		}
		cur = map[string]string{}
	}
	for _, line := range lines {
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			cur[k] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

// parseProcRoutes reads the default routes of /proc/net/route: "eth1
// 00000000 0502A8C0 0003 0 0 0 00000000 ..." (addresses in the kernel's
// byte order, little-endian).
func parseProcRoutes(c string) []Route {
	var out []Route
	for _, line := range strings.Split(c, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		gw, err := strconv.ParseUint(f[2], 16, 32)
		if err != nil {
			continue
		}
		r := Route{Device: f[0]}
		if gw != 0 {
			r.Via = netip.AddrFrom4([4]byte{byte(gw), byte(gw >> 8), byte(gw >> 16), byte(gw >> 24)})
		}
		out = append(out, r)
	}
	return out
}

// listeningPorts reads the TCP ports in state LISTEN (0A) of
// /proc/net/tcp: "0: 00000000:0050 00000000:0000 0A ...".
func listeningPorts(c string) map[uint16]bool {
	out := map[uint16]bool{}
	for _, line := range strings.Split(c, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "0A" {
			continue
		}
		i := strings.LastIndex(f[1], ":")
		if port, err := strconv.ParseUint(f[1][i+1:], 16, 16); i > 0 && err == nil {
			out[uint16(port)] = true
		}
	}
	return out
}

// portsOf lists the ports of the served sections.
func portsOf(order []string) []uint16 {
	var out []uint16
	for _, name := range order {
		var port uint16
		if _, err := fmt.Sscanf(name, secServed+" %d", &port); err == nil && !slices.Contains(out, port) {
			out = append(out, port)
		}
	}
	return out
}

// parseAddrs reads "ip -o -4 addr show": "2: eth0    inet 192.168.4.15/24
// brd 192.168.4.255 scope global secondary eth0:0\       valid_lft ...".
// The label is the last word before the backslash.
func parseAddrs(lines []string) []Addr {
	var out []Addr
	for _, line := range lines {
		head, _, _ := strings.Cut(line, `\`)
		f := strings.Fields(head)
		i := slices.Index(f, "inet")
		if i < 2 || i+1 >= len(f) {
			continue
		}
		p, err := netip.ParsePrefix(f[i+1])
		if err != nil {
			continue
		}
		out = append(out, Addr{Device: f[1], Label: f[len(f)-1], Prefix: p})
	}
	return out
}

// webUnit is the web server's unit: the service step of a real server.
func webUnit(steps []catalog.Step) string {
	for _, s := range steps {
		if s.Kind == catalog.KindService {
			return s.Name
		}
	}
	return ""
}

// What comes back after a reboot is read from the files that bring it
// back, in every form a student may have used: the references' (ifcfg
// files, /etc/sysctl.conf, ipvsadm-save into the distribution's file and
// its ipvsadm service), the other network stacks of the two families
// (NetworkManager keyfiles, systemd-networkd, ifupdown, netplan), and any
// enabled unit of the student's own (or lvslab's: a PASS never depends on
// lvslab's file names). All of it is read by the probe's one grep.

// The files and globs the probe reads for the boot facts.
const (
	ifcfgGlob       = "/etc/sysconfig/network-scripts/ifcfg-*"
	keyfileGlob     = "/etc/NetworkManager/system-connections/*"
	networkdGlob    = "/etc/systemd/network/*.network"
	interfacesFile  = "/etc/network/interfaces"
	interfacesGlob  = "/etc/network/interfaces.d/*"
	netplanGlob     = "/etc/netplan/*.yaml"
	wantsGlob       = "/etc/systemd/system/*.wants/*"
	debianIPVSConf  = "/etc/default/ipvsadm"
	debianIPVSLinks = "/etc/rc[2345].d/S*ipvsadm"
	etcSysctlConf   = "/etc/sysctl.conf"
)

// sysctlDirs are systemd-sysctl's directories, most important first: a
// file of the same name in an earlier one hides the later ones'.
var sysctlDirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

// bootGlobs are what the probe reads for the boot facts, besides the
// sysctl files.
var bootGlobs = []string{ifcfgGlob, keyfileGlob, networkdGlob, interfacesFile, interfacesGlob, netplanGlob, wantsGlob, debianIPVSConf, debianIPVSLinks}

// sysctlGlobs are the sysctl files, as the probe reads them.
func sysctlGlobs() []string {
	var out []string
	for _, d := range sysctlDirs {
		out = append(out, d+"/*.conf")
	}
	return append(out, etcSysctlConf)
}

// bootSysctl is the value a key gets at boot, and the file that sets it.
type bootSysctl struct{ Value, File string }

// sysctlAtBoot is what the sysctl files set at boot, as systemd-sysctl
// applies them: every *.conf of sysctlDirs by file name (a name in /etc
// hides the same name elsewhere), a later file overriding an earlier one.
// /etc/sysctl.conf is applied as /etc/sysctl.d/99-sysctl.conf, the link
// Debian and RHEL ship to it (and sysctl -p loads it live).
func sysctlAtBoot(files map[string]string) map[string]bootSysctl {
	type src struct {
		path string
		rank int
	}
	byName := map[string]src{}
	for p := range files {
		dir, name := path.Dir(p), path.Base(p)
		rank := slices.Index(sysctlDirs, dir)
		switch {
		case p == etcSysctlConf:
			name, rank = "99-sysctl.conf", 0
		case rank < 0 || !strings.HasSuffix(name, ".conf"):
			continue
		}
		if s, ok := byName[name]; ok && (s.rank < rank || s.rank == rank && s.path == path.Join(sysctlDirs[0], name)) {
			continue // the link /etc/sysctl.d/99-sysctl.conf is sysctl.conf
		}
		byName[name] = src{p, rank}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	out := map[string]bootSysctl{}
	for _, n := range names {
		p := byName[n].path
		for _, text := range strings.Split(files[p], "\n") {
			text = strings.TrimSpace(text)
			if text == "" || text[0] == '#' || text[0] == ';' {
				continue
			}
			k, v, ok := strings.Cut(strings.TrimPrefix(text, "-"), "=")
			if !ok {
				continue
			}
			out[strings.ReplaceAll(strings.TrimSpace(k), "/", ".")] = bootSysctl{strings.TrimSpace(v), p}
		}
	}
	return out
}

// bootAddr is an address some file or enabled unit puts on a device at
// boot.
type bootAddr struct {
	Device string
	Prefix netip.Prefix
	From   string // the file or unit, as a student knows it
}

// netStack is what brings a node's network up at boot.
type netStack struct {
	networkManager, networkd, ifupdown, networkScripts, netplan bool
}

// The network stacks' units, asked for with the others.
const (
	unitNM       = "NetworkManager.service"
	unitNetworkd = "systemd-networkd.service"
	unitIfupdown = "networking.service"
	unitNetwork  = "network.service"
)

var stackUnits = []string{unitNM, unitNetworkd, unitIfupdown, unitNetwork}

func stackOf(o *Observed) netStack {
	on := func(u string) bool { return o.Enabled[u] == "enabled" || o.Active[u] == "active" }
	s := netStack{networkManager: on(unitNM), networkd: on(unitNetworkd), ifupdown: on(unitIfupdown), networkScripts: on(unitNetwork)}
	for p := range o.Files {
		if ok, _ := path.Match(netplanGlob, p); ok {
			s.netplan = true
		}
	}
	return s
}

// addrsAtBoot lists the addresses the node's files and enabled units give
// its devices at boot. macs maps a NIC's MAC to its name (networkd matches
// by MAC).
func addrsAtBoot(o *Observed, macs map[string]string) []bootAddr {
	stack := stackOf(o)
	var out []bootAddr
	for _, p := range sortedKeys(o.Files) {
		c := o.Files[p]
		switch {
		case match(ifcfgGlob, p) && (stack.networkManager || stack.networkScripts):
			out = append(out, ifcfgAddrs(p, c)...)
		case match(keyfileGlob, p) && stack.networkManager:
			out = append(out, keyfileAddrs(p, c)...)
		case match(networkdGlob, p) && stack.networkd:
			out = append(out, networkdAddrs(p, c, macs)...)
		case (p == interfacesFile || match(interfacesGlob, p)) && stack.ifupdown:
			out = append(out, interfacesAddrs(p, c)...)
		case match(netplanGlob, p) && (stack.networkd || stack.networkManager):
			out = append(out, netplanAddrs(p, c)...)
		case match(wantsGlob, p):
			out = append(out, commandAddrs("the enabled unit "+path.Base(p), execLines(c))...)
		}
	}
	return out
}

func match(glob, p string) bool { ok, _ := path.Match(glob, p); return ok }

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// shellVars reads KEY=value lines (ifcfg, /etc/default).
func shellVars(c string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(c, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export "))
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return out
}

// baseDevice is "lo" of "lo:0".
func baseDevice(label string) string { d, _, _ := strings.Cut(label, ":"); return d }

// prefixOf reads "A/P", or A with a dotted netmask (none: /32).
func prefixOf(addr, mask string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(addr); err == nil {
		return p, true
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, false
	}
	bits := 32
	if m, err := netip.ParseAddr(mask); err == nil && m.Is4() {
		bits = 0
		for _, b := range m.As4() {
			for ; b&0x80 != 0; b <<= 1 {
				bits++
			}
		}
	} else if n, err := strconv.Atoi(mask); err == nil && n >= 0 && n <= 32 {
		bits = n
	}
	return netip.PrefixFrom(a, bits), true
}

// ifcfgAddrs: DEVICE (or the file's suffix), IPADDR/IPADDRn with NETMASK
// or PREFIX, unless ONBOOT=no.
func ifcfgAddrs(p, c string) []bootAddr {
	v := shellVars(c)
	dev := v["DEVICE"]
	if dev == "" {
		dev = strings.TrimPrefix(path.Base(p), "ifcfg-")
	}
	if strings.EqualFold(v["ONBOOT"], "no") {
		return nil
	}
	var out []bootAddr
	for _, n := range append([]string{""}, "0", "1", "2", "3", "4", "5", "6", "7", "8", "9") {
		a := v["IPADDR"+n]
		if a == "" {
			continue
		}
		mask := v["NETMASK"+n]
		if mask == "" {
			mask = v["PREFIX"+n]
		}
		if pr, ok := prefixOf(a, mask); ok {
			out = append(out, bootAddr{baseDevice(dev), pr, p})
		}
	}
	return out
}

// iniSections reads an ini file (keyfiles, .network): section -> lines.
func iniSections(c string) []struct{ name, key, value string } {
	var out []struct{ name, key, value string }
	sec := ""
	for _, line := range strings.Split(c, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			sec = strings.Trim(line, "[]")
		default:
			if k, v, ok := strings.Cut(line, "="); ok {
				out = append(out, struct{ name, key, value string }{sec, strings.TrimSpace(k), strings.TrimSpace(v)})
			}
		}
	}
	return out
}

// keyfileAddrs: a NetworkManager connection's [ipv4] addressN= (or
// addresses=) on its interface-name, unless autoconnect=false.
func keyfileAddrs(p, c string) []bootAddr {
	dev := ""
	var addrs []string
	for _, kv := range iniSections(c) {
		switch {
		case kv.name == "connection" && kv.key == "interface-name":
			dev = kv.value
		case kv.name == "connection" && kv.key == "autoconnect" && kv.value == "false":
			return nil
		case kv.name == "ipv4" && (strings.HasPrefix(kv.key, "address") || kv.key == "addresses"):
			for _, a := range strings.FieldsFunc(kv.value, func(r rune) bool { return r == ';' }) {
				a, _, _ = strings.Cut(a, ",") // "A/P,GW"
				addrs = append(addrs, strings.TrimSpace(a))
			}
		}
	}
	var out []bootAddr
	for _, a := range addrs {
		if pr, ok := prefixOf(a, ""); ok && dev != "" {
			out = append(out, bootAddr{dev, pr, p})
		}
	}
	return out
}

// networkdAddrs: a .network file's Address= ([Network] or [Address]) on
// the links its [Match] names (Name= globs, or MACAddress=).
func networkdAddrs(p, c string, macs map[string]string) []bootAddr {
	var devs, addrs []string
	for _, kv := range iniSections(c) {
		switch {
		case kv.name == "Match" && kv.key == "Name":
			devs = append(devs, strings.Fields(kv.value)...)
		case kv.name == "Match" && kv.key == "MACAddress":
			for _, m := range strings.Fields(kv.value) {
				if d, ok := macs[strings.ToLower(m)]; ok {
					devs = append(devs, d)
				}
			}
		case (kv.name == "Network" || kv.name == "Address") && kv.key == "Address":
			addrs = append(addrs, kv.value)
		}
	}
	var out []bootAddr
	for _, d := range devs {
		for _, a := range addrs {
			if pr, ok := prefixOf(a, ""); ok {
				out = append(out, bootAddr{d, pr, p})
			}
		}
	}
	return out
}

// interfacesAddrs: ifupdown's stanzas "iface DEV inet static" with
// address (and netmask) of a DEV brought up at boot (auto or
// allow-hotplug), and their "up ip addr add ..." lines.
func interfacesAddrs(p, c string) []bootAddr {
	auto := map[string]bool{}
	type stanza struct {
		dev, addr, mask string
		cmds            []string
	}
	var st []*stanza
	var cur *stanza
	for _, line := range strings.Split(c, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "auto", "allow-hotplug":
			for _, d := range f[1:] {
				auto[d] = true
			}
			cur = nil
		case "iface":
			cur = nil
			if len(f) >= 2 {
				cur = &stanza{dev: f[1]}
				st = append(st, cur)
			}
		case "address", "netmask", "up", "post-up":
			if cur == nil || len(f) < 2 {
				continue
			}
			switch f[0] {
			case "address":
				cur.addr = f[1]
			case "netmask":
				cur.mask = f[1]
			default:
				cur.cmds = append(cur.cmds, strings.Join(f[1:], " "))
			}
		}
	}
	var out []bootAddr
	for _, s := range st {
		if !auto[s.dev] {
			continue
		}
		if s.addr != "" {
			if pr, ok := prefixOf(s.addr, s.mask); ok {
				out = append(out, bootAddr{baseDevice(s.dev), pr, p})
			}
		}
		out = append(out, commandAddrs(p, s.cmds)...)
	}
	return out
}

// netplanAddrs: "addresses:" of a device's block in a netplan file, as a
// list or in brackets.
func netplanAddrs(p, c string) []bootAddr {
	var out []bootAddr
	dev, devIndent := "", -1
	inAddrs := false
	for _, raw := range strings.Split(c, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		text := strings.TrimSpace(line)
		if text == "" || text[0] == '#' {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		key, val, isKey := strings.Cut(text, ":")
		switch {
		case strings.HasPrefix(text, "- ") && inAddrs:
			if pr, ok := prefixOf(strings.Trim(strings.TrimSpace(text[2:]), `"'`), ""); ok && dev != "" {
				out = append(out, bootAddr{dev, pr, p})
			}
			continue
		case isKey && key == "addresses":
			inAddrs = true
			for _, a := range strings.FieldsFunc(strings.Trim(strings.TrimSpace(val), "[]"), func(r rune) bool { return r == ',' }) {
				if pr, ok := prefixOf(strings.Trim(strings.TrimSpace(a), `"'`), ""); ok && dev != "" {
					out = append(out, bootAddr{dev, pr, p})
				}
			}
			continue
		}
		inAddrs = false
		if isKey && strings.TrimSpace(val) == "" && !slices.Contains([]string{"network", "ethernets", "bridges", "bonds", "vlans", "dummy-devices", "virtual-ethernets", "match", "routes", "nameservers"}, key) && (devIndent < 0 || indent <= devIndent) {
			dev, devIndent = key, indent
		}
	}
	return out
}

// execLines are a unit's Exec lines' commands.
func execLines(c string) []string {
	var out []string
	for _, kv := range iniSections(c) {
		if kv.name == "Service" && strings.HasPrefix(kv.key, "Exec") {
			out = append(out, strings.TrimLeft(kv.value, "-@:+!"))
		}
	}
	return out
}

// commandAddrs reads "ip addr add|replace A/P dev D [label L]" and
// "ifconfig D A [netmask M]" in commands (a unit's ExecStart=, ifupdown's
// up lines).
func commandAddrs(from string, cmds []string) []bootAddr {
	var out []bootAddr
	for _, cmd := range cmds {
		for _, part := range strings.FieldsFunc(cmd, func(r rune) bool { return r == ';' || r == '&' || r == '|' || r == '\'' || r == '"' }) {
			f := strings.Fields(part)
			for i := 0; i < len(f); i++ {
				switch path.Base(f[i]) {
				case "ip":
					out = append(out, ipAddrAdd(from, f[i+1:])...)
				case "ifconfig":
					if i+2 < len(f) {
						mask := ""
						if j := slices.Index(f, "netmask"); j > 0 && j+1 < len(f) {
							mask = f[j+1]
						}
						if pr, ok := prefixOf(f[i+2], mask); ok {
							out = append(out, bootAddr{baseDevice(f[i+1]), pr, from})
						}
					}
				}
			}
		}
	}
	return out
}

// ipAddrAdd reads the words after "ip": [-4] a|addr|address add|replace A/P dev D.
func ipAddrAdd(from string, f []string) []bootAddr {
	for len(f) > 0 && strings.HasPrefix(f[0], "-") {
		f = f[1:]
	}
	if len(f) < 3 || !strings.HasPrefix("address", f[0]) || f[1] != "add" && f[1] != "replace" {
		return nil
	}
	pr, ok := prefixOf(f[2], "")
	if !ok {
		return nil
	}
	if i := slices.Index(f, "dev"); i > 0 && i+1 < len(f) {
		return []bootAddr{{baseDevice(f[i+1]), pr, from}}
	}
	return nil
}

// restorer is what loads saved IPVS rules at boot.
type restorer struct {
	What    string // "the enabled unit ipvsadm.service", "Debian's ipvsadm init"
	File    string // the rules file it loads
	Enabled bool
}

// ipvsRestorers lists what loads IPVS rules at boot: each enabled unit
// whose Exec lines run ipvsadm-restore (or ipvsadm -R) from a file, and
// Debian's ipvsadm init script, which loads /etc/ipvsadm.rules when
// /etc/default/ipvsadm says AUTO="true" (and its rc links are there).
func ipvsRestorers(o *Observed) []restorer {
	var out []restorer
	for _, p := range sortedKeys(o.Files) {
		if !match(wantsGlob, p) {
			continue
		}
		for _, cmd := range execLines(o.Files[p]) {
			if !strings.Contains(cmd, ipvs.Restore) && !strings.Contains(cmd, ipvs.RestoreShort) {
				continue
			}
			if f := restoredFile(cmd); f != "" {
				out = append(out, restorer{"the enabled unit " + path.Base(p), f, true})
			}
		}
	}
	if conf, ok := o.Files[debianIPVSConf]; ok {
		auto := strings.EqualFold(shellVars(conf)["AUTO"], "true")
		links := false
		for p := range o.Files {
			links = links || match(debianIPVSLinks, p)
		}
		out = append(out, restorer{"Debian's ipvsadm init", catalog.DebianRulesFile, auto && links})
	}
	return out
}

// restoredFile is the file after the last "<" of an Exec line, as the
// probe's restoredFilesScript reads it: quotes and spaces before it, the
// first character that is not a path's after it.
func restoredFile(cmd string) string {
	i := strings.LastIndex(cmd, "<")
	if i < 0 {
		return ""
	}
	inPath := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-", r)
	}
	f := strings.TrimLeftFunc(cmd[i+1:], func(r rune) bool { return !inPath(r) })
	if j := strings.IndexFunc(f, func(r rune) bool { return !inPath(r) }); j >= 0 {
		f = f[:j]
	}
	return f
}

// macsOf maps each NIC's MAC to its name.
func macsOf(st *roles.NodeState) map[string]string {
	out := map[string]string{}
	for _, n := range st.NICs {
		if n.MAC != "" {
			out[strings.ToLower(n.MAC)] = n.Name
		}
	}
	return out
}

// vipHowTo says how a student makes alias a come back at boot, in the
// form of the node's OS family and network stack.
func vipHowTo(osFamily string, stack netStack, a roles.Alias) string {
	label := a.Device
	if a.Label != "" {
		label = a.Label
	}
	ip, bits := a.Address.Addr(), a.Address.Bits()
	mask := net4Mask(bits)
	switch {
	case osFamily == catalog.RHEL && (stack.networkScripts || !stack.networkManager || a.Device == "lo"):
		return fmt.Sprintf("write /etc/sysconfig/network-scripts/ifcfg-%s (DEVICE=%s, IPADDR=%s, NETMASK=%s, ONBOOT=yes) and bring it up with ifup %s", label, label, ip, mask, label)
	case stack.networkManager && a.Device != "lo":
		return fmt.Sprintf("add it to %s's NetworkManager connection: nmcli connection modify %s +ipv4.addresses %s, then nmcli connection up %s", a.Device, a.Device, a.Address, a.Device)
	case stack.netplan:
		return fmt.Sprintf("list %s under addresses: of %s in a file of /etc/netplan, then netplan apply", a.Address, a.Device)
	case stack.ifupdown:
		return fmt.Sprintf("add to /etc/network/interfaces: \"auto %s\", \"iface %s inet static\", \"address %s/%d\", then ifup %s", label, label, ip, bits, label)
	case stack.networkd:
		return fmt.Sprintf("add \"[Address]\" \"Address=%s\" (Label=%s) to a .network file of /etc/systemd/network whose [Match] is Name=%s, then systemctl restart systemd-networkd", a.Address, label, a.Device)
	}
	return fmt.Sprintf("enable a unit whose ExecStart=/sbin/ip addr add %s dev %s label %s (WantedBy=multi-user.target; systemctl enable it)", a.Address, a.Device, label)
}

func net4Mask(bits int) string {
	var m [4]byte
	for i := 0; i < bits; i++ {
		m[i/8] |= 1 << (7 - i%8)
	}
	return netip.AddrFrom4(m).String()
}

// ipvsHowTo says how rules come back at boot, in the OS family's form.
func ipvsHowTo(osFamily string, o *Observed) string {
	if osFamily == catalog.RHEL {
		return "systemctl enable ipvsadm (at boot it loads " + catalog.RHELRulesFile + ")"
	}
	if _, ok := o.Files[debianIPVSConf]; ok {
		return "set AUTO=\"true\" in " + debianIPVSConf + " (Debian's ipvsadm init loads " + catalog.DebianRulesFile + " at boot; systemctl enable ipvsadm if it was disabled)"
	}
	return "enable a unit whose ExecStart=/bin/sh -c 'ipvsadm-restore < " + catalog.DebianRulesFile + "' (WantedBy=multi-user.target)"
}

// distRulesFile is where the OS family's ipvsadm service reads its rules.
func distRulesFile(osFamily string) string {
	if osFamily == catalog.RHEL {
		return catalog.RHELRulesFile
	}
	return catalog.DebianRulesFile
}
