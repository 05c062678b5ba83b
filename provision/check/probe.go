package check

import (
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"
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
	// Persistent maps each key to the value the sysctl files set at boot.
	Persistent map[string]string
	Modules    map[string]bool
	// Active and Enabled map a unit to "systemctl is-active/is-enabled".
	Active, Enabled map[string]string
	// Listening are the TCP ports something listens on.
	Listening map[uint16]bool
	// Page is index.html; Served the body answered on each port (nil when
	// the request failed).
	Page   *string
	Served map[uint16]*string
	// IPVS is the kernel's table, Saved the rules file; IPVSErr says why the
	// table could not be read (no ipvsadm, no module).
	IPVS    []ipvs.Service
	IPVSErr string
	Saved   *string
	// Marks says, for each of the node's firewall marks, whether it is live.
	Marks []bool
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

// probe is what one node is asked, in one command (every process costs
// ~0.1-0.2 s in a TCG guest: builtins read /proc where they can).
type probe struct {
	sysctls []string
	units   []string
	ports   []uint16
	page    string
	rules   string
	ipvs    bool
	modules bool
	// marks are the commands that tell whether each firewall mark is live.
	marks    []string
	osFamily string
}

// The probe's sections (guest.Probe).
const (
	secHost      = "hostname"
	secAddr      = "addr"
	secLink      = "link"
	secRoute     = "route"
	secSysctl    = "sysctl"
	secFiles     = "sysctl-files"
	secModules   = "modules"
	secUnits     = "units"
	secListen    = "listen"
	secPage      = "page"
	secServed    = "served"
	secIPVS      = "ipvs"
	secIPVSError = "ipvs-error"
	secRules     = "rules"
	secMarks     = "marks"
)

// sysctlFiles are read in the order systemd-sysctl applies them (by file
// name, /etc over /run over /usr/lib), /etc/sysctl.conf last.
const sysctlFiles = "/usr/lib/sysctl.d/*.conf /run/sysctl.d/*.conf /etc/sysctl.d/*.conf /etc/sysctl.conf"

func newProbe(st *roles.NodeState, steps []catalog.Step, osFamily string) probe {
	p := probe{osFamily: osFamily, modules: len(st.Modules) > 0}
	for _, s := range st.Sysctls {
		p.sysctls = append(p.sysctls, s.Key)
	}
	if unit := webUnit(steps); unit != "" {
		p.units = append(p.units, unit)
		p.ports = st.Web.Ports
	}
	if st.Web != nil {
		for _, u := range st.Web.UDP {
			p.units = append(p.units, catalog.UDPUnit(u.Port))
		}
	}
	for _, m := range st.Marks {
		p.marks = append(p.marks, catalog.MarkCheck(m, osFamily))
		p.units = append(p.units, catalog.MarksUnit)
	}
	p.units = slices.Compact(p.units)
	for _, s := range steps {
		if s.File != nil && path.Base(s.File.Path) == "index.html" {
			p.page = s.File.Path
		}
		if s.Kind == catalog.KindIPVS {
			p.ipvs, p.rules = true, s.RulesFile
			p.units = append(p.units, bootUnits...)
		}
	}
	return p
}

// bootUnits restore saved IPVS rules at boot: lvslab's own, or the
// distribution's ipvsadm service.
var bootUnits = []string{catalog.IPVSUnit, "ipvsadm.service"}

// webUnit is the web server's unit: the service step of a real server.
func webUnit(steps []catalog.Step) string {
	for _, s := range steps {
		if s.Kind == catalog.KindService {
			return s.Name
		}
	}
	return ""
}

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
	sec(secHost)
	b.WriteString("cat /proc/sys/kernel/hostname\n")
	sec(secAddr)
	b.WriteString("ip -o -4 addr show\n")
	sec(secLink)
	b.WriteString("ip -o link show\n")
	sec(secRoute)
	b.WriteString("ip -4 route show default\n")
	if len(p.sysctls) > 0 {
		sec(secSysctl)
		var paths []string
		for _, k := range p.sysctls {
			paths = append(paths, strings.ReplaceAll(k, ".", "/"))
		}
		// grep, not the shell's read: dash reads a byte at a time, and an
		// integer sysctl answers a read past its start with EOF ("10" reads
		// as "1"). A key the kernel lacks prints nothing.
		b.WriteString("grep -sH . /proc/sys/" + strings.Join(paths, " /proc/sys/") + "\n")
		sec(secFiles)
		b.WriteString("grep -sH . " + sysctlFiles + "\n")
	}
	if p.modules {
		sec(secModules)
		b.WriteString("cat /proc/modules\n")
	}
	if len(p.units) > 0 {
		sec(secUnits)
		fmt.Fprintf(&b, "for u in %s; do a=$(systemctl is-active $u 2>/dev/null); e=$(systemctl is-enabled $u 2>/dev/null); echo \"$u ${a:-unknown} ${e:-missing}\"; done\n", strings.Join(p.units, " "))
	}
	if len(p.ports) > 0 {
		sec(secListen)
		b.WriteString("ss -Htln\n")
		for _, port := range p.ports {
			sec(fmt.Sprintf("%s %d", secServed, port))
			fmt.Fprintf(&b, "curl -sf -m 5 http://127.0.0.1:%d/ || %s\n", port, markCommand(fmt.Sprintf("%s %d failed", secServed, port)))
		}
	}
	if p.page != "" {
		sec(secPage)
		fmt.Fprintf(&b, "cat %s 2>/dev/null || %s\n", shell.Quote(p.page), markCommand(secPage+" missing"))
	}
	if p.ipvs {
		sec(secIPVS)
		fmt.Fprintf(&b, "if out=$(%s 2>&1); then echo \"$out\"; %s 2>/dev/null; else %s; echo \"$out\"; fi\n", ipvs.SaveCommand, ipvs.ThresholdsCommand, markCommand(secIPVSError))
		if p.rules != "" {
			sec(secRules)
			fmt.Fprintf(&b, "cat %s 2>/dev/null || %s\n", shell.Quote(p.rules), markCommand(secRules+" missing"))
		}
	}
	if len(p.marks) > 0 {
		sec(secMarks)
		for i, c := range p.marks {
			fmt.Fprintf(&b, "if %s; then echo '%d loaded'; else echo '%d missing'; fi\n", c, i, i)
		}
	}
	gp.Add(b.String())
	return gp
}

// parse reads the output of the probe gp.
func parse(gp *guest.Probe, out string) (*Observed, error) {
	o := &Observed{Up: map[string]bool{}, Sysctl: map[string]string{}, Persistent: map[string]string{}, Modules: map[string]bool{},
		Active: map[string]string{}, Enabled: map[string]string{}, Listening: map[uint16]bool{}, Served: map[uint16]*string{}}
	a, err := gp.Parse(out)
	if err != nil {
		return nil, err
	}
	sections := map[string][]string{}
	for _, name := range a.Names() {
		sections[name] = a.Lines(name)
	}
	order := a.Names()
	o.Hostname = strings.TrimSpace(strings.Join(a.Lines(secHost), ""))
	o.Addrs = parseAddrs(sections[secAddr])
	o.Up = parseLinks(sections[secLink])
	o.Routes = parseRoutes(sections[secRoute])
	for _, line := range sections[secSysctl] {
		// "/proc/sys/net/ipv4/ip_forward:1"
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "/proc/sys/"), ":"); ok {
			o.Sysctl[strings.ReplaceAll(k, "/", ".")] = strings.TrimSpace(v)
		}
	}
	o.Persistent = parseSysctlFiles(sections[secFiles])
	for _, line := range sections[secModules] {
		if f := strings.Fields(line); len(f) > 0 {
			o.Modules[f[0]] = true
		}
	}
	for _, line := range sections[secUnits] {
		if f := strings.Fields(line); len(f) == 3 {
			o.Active[f[0]], o.Enabled[f[0]] = f[1], f[2]
		}
	}
	for _, line := range sections[secListen] {
		if port, ok := listenPort(line); ok {
			o.Listening[port] = true
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
	o.Page = fileSection(a, secPage)
	o.Saved = fileSection(a, secRules)
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

// fileSection is a file's content, nil when the probe found it missing.
func fileSection(a *guest.Answer, name string) *string {
	if !a.Has(name) || a.Has(name+" missing") {
		return nil
	}
	s := a.Text(name)
	return &s
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

// parseLinks reads "ip -o link show": "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu ...".
func parseLinks(lines []string) map[string]bool {
	out := map[string]bool{}
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		dev, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		flags := strings.Split(strings.Trim(f[2], "<>"), ",")
		out[dev] = slices.Contains(flags, "UP")
	}
	return out
}

// parseRoutes reads "ip -4 route show default": "default via 192.168.2.5 dev eth1 proto static".
func parseRoutes(lines []string) []Route {
	var out []Route
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "default" {
			continue
		}
		var r Route
		for i := 1; i+1 < len(f); i++ {
			switch f[i] {
			case "via":
				r.Via, _ = netip.ParseAddr(f[i+1])
			case "dev":
				r.Device = f[i+1]
			}
		}
		out = append(out, r)
	}
	return out
}

// parseSysctlFiles reads "grep -H ." of the sysctl files: what each key is
// set to at boot. A file of the same name in /etc hides the one in /run or
// /usr/lib; files apply in name order, /etc/sysctl.conf last.
func parseSysctlFiles(lines []string) map[string]string {
	type file struct {
		path  string
		lines []string
	}
	byName := map[string]*file{}
	for _, line := range lines {
		p, text, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name := path.Base(p)
		if p == "/etc/sysctl.conf" {
			name = "\xff" // after every .conf of sysctl.d
		}
		// the globs list /etc last: its file replaces one of the same name
		if f := byName[name]; f == nil || f.path != p {
			byName[name] = &file{path: p}
		}
		byName[name].lines = append(byName[name].lines, text)
	}
	names := slices.Sorted(maps.Keys(byName))
	out := map[string]string{}
	for _, n := range names {
		for _, text := range byName[n].lines {
			text = strings.TrimSpace(text)
			if text == "" || text[0] == '#' || text[0] == ';' {
				continue
			}
			k, v, ok := strings.Cut(strings.TrimPrefix(text, "-"), "=")
			if !ok {
				continue
			}
			out[strings.ReplaceAll(strings.TrimSpace(k), "/", ".")] = strings.TrimSpace(v)
		}
	}
	return out
}

// listenPort reads a line of "ss -Htln": "LISTEN 0 511 *:80 *:*" or
// "LISTEN 0 511 0.0.0.0:8080 0.0.0.0:*".
func listenPort(line string) (uint16, bool) {
	f := strings.Fields(line)
	if len(f) < 4 {
		return 0, false
	}
	i := strings.LastIndex(f[3], ":")
	if i < 0 {
		return 0, false
	}
	var port uint16
	if _, err := fmt.Sscanf(f[3][i+1:], "%d", &port); err != nil {
		return 0, false
	}
	return port, true
}
