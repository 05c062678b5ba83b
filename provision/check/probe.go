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
