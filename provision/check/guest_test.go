package check

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/topology/ipvs"
	"github.com/lvslab/lvslab/topology/ipvs/ipvstest"
)

// simGuest is a simulated node: its kernel's addresses, routes, sysctls and
// IPVS table, its files and units. It answers the probe's commands in the
// formats the real tools print (iproute2, ss, systemctl, curl, ipvsadm).
type simGuest struct {
	hostname  string
	addrs     []Addr
	up        map[string]bool
	routes    []Route
	sysctl    map[string]string
	modules   []string
	files     map[string]string
	active    map[string]string
	enabled   map[string]string
	listening []uint16
	docroot   string // where the web server serves index.html from
	kernel    *ipvstest.Kernel
	// marks are the live firewall marks, by their catalog.MarkCheck.
	marks map[string]bool
	ran   []string
}

// configured is a guest as the handout leaves it: every step of st done.
func configured(st *roles.NodeState, osFamily string) *simGuest {
	g := &simGuest{hostname: st.Hostname, up: map[string]bool{"lo": true}, sysctl: map[string]string{}, files: map[string]string{},
		active: map[string]string{}, enabled: map[string]string{}, kernel: ipvstest.New(nil), docroot: catalog.IndexFile}
	g.files["/etc/os-release"] = map[string]string{catalog.Debian: "ID=debian\n", catalog.RHEL: "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n"}[osFamily]
	g.addrs = append(g.addrs, Addr{Device: "lo", Label: "lo", Prefix: netip.MustParsePrefix("127.0.0.1/8")})
	for _, nic := range st.NICs {
		if nic.Down {
			g.up[nic.Name] = false
			continue
		}
		g.up[nic.Name] = true
		g.addrs = append(g.addrs, Addr{Device: nic.Name, Label: nic.Name, Prefix: nic.Address})
	}
	for _, a := range st.Aliases {
		label := a.Label
		if label == "" {
			label = a.Device
		}
		g.up[a.Device] = true
		g.addrs = append(g.addrs, Addr{Device: a.Device, Label: label, Prefix: a.Address})
	}
	if st.Gateway.IsValid() {
		g.routes = []Route{{Via: st.Gateway, Device: st.GatewayNIC()}}
	}
	for _, s := range st.Sysctls {
		g.sysctl[s.Key] = s.Value
	}
	g.modules = st.Modules
	g.marks = map[string]bool{}
	for _, m := range st.Marks {
		g.marks[catalog.MarkCheck(m, osFamily)] = true
		g.enabled[catalog.MarksUnit] = "enabled"
	}
	steps := catalog.Steps(st, osFamily)
	for _, s := range steps {
		if s.File != nil {
			g.files[s.File.Path] = s.File.Content
			if s.Name == "index.html" {
				g.docroot = s.File.Path // the chosen web server's (nginx on RHEL serves another folder)
			}
		}
		if s.Kind == catalog.KindIPVS {
			g.kernel = ipvstest.New(s.IPVS)
		}
	}
	if st.Web != nil {
		unit := webUnit(steps)
		g.active[unit], g.enabled[unit] = "active", "enabled"
		g.listening = st.Web.Ports
		for _, u := range st.Web.UDP {
			g.active[catalog.UDPUnit(u.Port)], g.enabled[catalog.UDPUnit(u.Port)] = "active", "enabled"
		}
	}
	if st.IPVS != nil {
		g.enabled[map[string]string{catalog.Debian: catalog.IPVSUnit, catalog.RHEL: "ipvsadm.service"}[osFamily]] = "enabled"
	}
	for p := range g.files {
		if path.Dir(p) == "/etc/systemd/system" && strings.HasSuffix(p, ".service") {
			g.enabled[path.Base(p)] = "enabled" // the steps enable their units
		}
	}
	g.distribution(osFamily)
	return g
}

// distribution adds what the OS family's packages and image bring: the
// network stack's unit enabled and running, RHEL's ipvsadm.service.
func (g *simGuest) distribution(osFamily string) {
	stack := map[string]string{catalog.Debian: unitNetworkd, catalog.RHEL: unitNM}[osFamily]
	g.enabled[stack], g.active[stack] = "enabled", "active"
	if osFamily == catalog.RHEL {
		g.files["/usr/lib/systemd/system/ipvsadm.service"] = "[Unit]\nDescription=Initialise the Linux Virtual Server\n\n[Service]\nType=oneshot\n" +
			"ExecStart=/bin/bash -c \"exec /sbin/ipvsadm-restore < /etc/sysconfig/ipvsadm\"\nExecStop=/bin/bash -c \"exec /sbin/ipvsadm-save -n > /etc/sysconfig/ipvsadm\"\n" +
			"ExecStop=/sbin/ipvsadm -C\nRemainAfterExit=yes\n\n[Install]\nWantedBy=multi-user.target\n"
	}
}

// bare is a fresh clone: packages installed, nothing of the exercise.
func bare(osFamily string) *simGuest {
	g := &simGuest{hostname: "localhost", up: map[string]bool{"lo": true}, sysctl: map[string]string{}, files: map[string]string{},
		active: map[string]string{}, enabled: map[string]string{}, kernel: ipvstest.New(nil), docroot: catalog.IndexFile}
	g.files["/etc/os-release"] = "ID=debian\n"
	g.addrs = []Addr{{Device: "lo", Label: "lo", Prefix: netip.MustParsePrefix("127.0.0.1/8")}}
	g.files[catalog.IndexFile] = "<html>Apache2 Debian Default Page</html>\n<body>It works!</body>\n"
	for _, u := range []string{"apache2", "httpd"} {
		g.active[u], g.enabled[u] = "active", "enabled"
	}
	g.listening = []uint16{80}
	g.distribution(catalog.Debian)
	return g
}

// reboot keeps what is saved and loses what was only typed: live sysctls
// come back from the sysctl files, the IPVS table from the rules file when
// a unit restores it, units start when enabled.
func (g *simGuest) reboot() {
	g.sysctl = map[string]string{}
	for k, v := range sysctlAtBoot(g.observed().Files) {
		g.sysctl[k] = v.Value
	}
	rules := ""
	for _, r := range ipvsRestorers(g.observed()) {
		if r.Enabled {
			rules = g.files[r.File]
		}
	}
	g.kernel = ipvstest.New(nil)
	if rules != "" {
		if _, err := g.kernel.Run(ipvs.Restore + " <<'EOF'\n" + rules + "EOF"); err != nil {
			panic(err)
		}
	}
	for u := range g.active {
		g.active[u] = map[bool]string{true: "active", false: "inactive"}[g.enabled[u] == "enabled"]
	}
}

func (g *simGuest) setAddr(dev string, p netip.Prefix) {
	g.addrs = slices.DeleteFunc(g.addrs, func(a Addr) bool { return a.Prefix.Addr() == p.Addr() })
	g.addrs = append(g.addrs, Addr{Device: dev, Label: dev, Prefix: p})
}

func (g *simGuest) Run(_ context.Context, script string) (string, error) {
	g.ran = append(g.ran, script)
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(script), "\n") {
		out, err := g.answer(line)
		if err != nil {
			return b.String(), err
		}
		b.WriteString(out)
	}
	return b.String(), nil
}

// answer answers one line of the probe: a command, or "CMD || FALLBACK"
// where CMD fails (a missing file, curl refused).
func (g *simGuest) answer(line string) (string, error) {
	if strings.HasPrefix(line, "if ") || strings.HasPrefix(line, "systemctl ") {
		out, _, err := g.command(line)
		return out, err
	}
	cmd, fallback, _ := strings.Cut(line, " || ")
	out, ok, err := g.command(cmd)
	if !ok && fallback != "" {
		out, _, err = g.command(fallback)
	}
	return out, err
}

func (g *simGuest) command(line string) (string, bool, error) {
	out, err := g.command1(line)
	if errors.Is(err, errFailed) {
		return "", false, nil
	}
	return out, err == nil, err
}

var errFailed = errors.New("the command failed")

func (g *simGuest) command1(line string) (string, error) {
	f := strings.Fields(line)
	switch {
	case strings.HasPrefix(line, `printf '\n`):
		return "\n" + strings.TrimSuffix(strings.TrimPrefix(line, `printf '\n`), `\n'`) + "\n", nil
	case line == "ip -o -4 addr show":
		var b strings.Builder
		for i, a := range g.addrs {
			brd := ""
			scope := "global"
			if a.Device == "lo" {
				scope = "host"
			} else if a.Prefix.Bits() < 31 {
				brd = "brd " + lastAddr(a.Prefix).String() + " "
			}
			sec := ""
			if slices.IndexFunc(g.addrs, func(o Addr) bool { return o.Device == a.Device }) < i {
				sec = "secondary "
			}
			fmt.Fprintf(&b, "%d: %s    inet %s %sscope %s %s%s\\       valid_lft forever preferred_lft forever\n", g.index(a.Device), a.Device, a.Prefix, brd, scope, sec, a.Label)
		}
		return b.String(), nil
	case strings.HasPrefix(line, "set --; for u in "+wantsGlob+";"):
		// the files the enabled units load with ipvsadm-restore
		var files []string
		for _, r := range ipvsRestorers(&Observed{Files: g.virtual()}) {
			if strings.HasPrefix(r.What, "the enabled unit ") {
				files = append(files, r.File)
			}
		}
		if len(files) == 0 {
			return "", nil
		}
		return g.grepZ(files), nil
	case strings.HasPrefix(line, grepFiles+" "):
		return g.grepZ(strings.Fields(strings.TrimPrefix(line, grepFiles+" "))), nil
	case strings.HasPrefix(line, "systemctl show -p Id -p ActiveState -p UnitFileState "):
		var b strings.Builder
		for i, u := range f[8:] {
			if i > 0 {
				b.WriteString("\n")
			}
			id := u // systemctl names the unit in full
			if !strings.Contains(u, ".") {
				id += ".service"
			}
			fmt.Fprintf(&b, "ActiveState=%s\nUnitFileState=%s\nId=%s\n", cmp.Or(g.active[u], "inactive"), g.enabled[u], id)
		}
		return b.String(), nil
	case strings.HasPrefix(line, "curl "):
		var port uint16
		fmt.Sscanf(f[4], "http://127.0.0.1:%d/", &port)
		page, ok := g.files[g.docroot]
		if g.active[g.webUnit()] != "active" || !slices.Contains(g.listening, port) || !ok {
			return "", errFailed
		}
		return page, nil
	case strings.HasPrefix(line, "cat '") || strings.HasPrefix(line, "cat /"):
		p := strings.Trim(f[1], "'")
		if c, ok := g.files[p]; ok {
			return c, nil
		}
		return "", errFailed
	case strings.HasPrefix(line, "if { ") && strings.Contains(line, "; then echo '"):
		checks, rest, _ := strings.Cut(strings.TrimPrefix(line, "if { "), "; }; then echo '")
		deb, rhel, _ := strings.Cut(checks, "; } || { ")
		loaded, _, _ := strings.Cut(rest, "'")
		if g.marks[deb] || g.marks[rhel] {
			return loaded + "\n", nil
		}
		missing, _, _ := strings.Cut(rest[strings.Index(rest, "else echo '")+len("else echo '"):], "'")
		return missing + "\n", nil
	case strings.HasPrefix(line, "if out=$("+ipvs.SaveCommand):
		out, err := g.kernel.Run(ipvs.SaveCommand)
		if err != nil {
			return "", err
		}
		th, err := g.kernel.Run(ipvs.ThresholdsCommand)
		return out + th, err
	}
	return "", fmt.Errorf("guest: unknown command %q", line)
}

func (g *simGuest) webUnit() string {
	for u := range g.active {
		if u == "apache2" || u == "httpd" || u == "nginx" {
			return u
		}
	}
	return ""
}

// virtual are the files the guest's kernel and systemd show: /proc,
// /sys, and the wants links of the enabled units (to their unit files).
func (g *simGuest) virtual() map[string]string {
	out := maps.Clone(g.files)
	out[hostnameFile] = g.hostname + "\n"
	for k, v := range g.sysctl {
		out["/proc/sys/"+strings.ReplaceAll(k, ".", "/")] = v + "\n"
	}
	route := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	for _, r := range g.routes {
		a := r.Via.As4()
		route += fmt.Sprintf("%s\t00000000\t%02X%02X%02X%02X\t0003\t0\t0\t0\t00000000\t0\t0\t0\n", r.Device, a[3], a[2], a[1], a[0])
	}
	out[routeFile] = route
	for dev, up := range g.up {
		out["/sys/class/net/"+dev+"/flags"] = map[bool]string{true: "0x1003\n", false: "0x1002\n"}[up]
	}
	var mods strings.Builder
	for _, m := range g.modules {
		fmt.Fprintf(&mods, "%s 32768 0 - Live 0x0000000000000000\n", m)
	}
	out[modulesFile] = mods.String()
	tcp := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
	if g.active[g.webUnit()] == "active" {
		for i, p := range g.listening {
			tcp += fmt.Sprintf("   %d: 00000000:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 %d\n", i+1, p, i+2)
		}
	}
	out["/proc/net/tcp"] = tcp
	for u, e := range g.enabled {
		if e != "enabled" {
			continue
		}
		for _, dir := range []string{"/etc/systemd/system/", "/usr/lib/systemd/system/"} {
			if c, ok := g.files[dir+u]; ok {
				out["/etc/systemd/system/multi-user.target.wants/"+u] = c
				break
			}
		}
	}
	return out
}

// grepZ is grepFiles over the files the globs match, in glob order.
func (g *simGuest) grepZ(globs []string) string {
	files := g.virtual()
	var b strings.Builder
	for _, glob := range globs {
		glob = strings.Trim(glob, "'")
		var paths []string
		for p := range files {
			if ok, _ := path.Match(glob, p); ok {
				paths = append(paths, p)
			}
		}
		sort.Strings(paths)
		for _, p := range paths {
			c := files[p]
			if c == "" {
				continue
			}
			for _, l := range strings.Split(strings.TrimSuffix(c, "\n"), "\n") {
				b.WriteString(p + "\x00" + l + "\n")
			}
		}
	}
	return b.String()
}

// observed is the guest's files as a probe reads them.
func (g *simGuest) observed() *Observed {
	o := &Observed{Files: map[string]string{}}
	for p, c := range readFiles(strings.Split(strings.TrimSuffix(g.grepZ(strings.Fields(strings.Join(append(sysctlGlobs(), bootGlobs...), " "))), "\n"), "\n")) {
		o.Files[p] = c
	}
	for _, r := range []string{catalog.DebianRulesFile, catalog.RHELRulesFile} {
		if c, ok := g.files[r]; ok {
			o.Files[r] = c
		}
	}
	return o
}

func (g *simGuest) devices() []string {
	var out []string
	for d := range g.up {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return g.index(out[i]) < g.index(out[j]) })
	return out
}

func (g *simGuest) index(dev string) int {
	switch dev {
	case "lo":
		return 1
	case "tunl0":
		return 9
	}
	var n int
	fmt.Sscanf(dev, "eth%d", &n)
	return n + 2
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 1 << (7 - i%8)
	}
	return netip.AddrFrom4(a)
}

func (g *simGuest) ReadFile(_ context.Context, p string) ([]byte, bool, error) {
	c, ok := g.files[p]
	if !ok {
		return nil, false, nil
	}
	return []byte(c), true, nil
}

func (g *simGuest) WriteFile(context.Context, string, []byte, fs.FileMode) error {
	return fmt.Errorf("guest: check must not write")
}
