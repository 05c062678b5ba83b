package engine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing/fstest"
	"time"

	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/topology/ipvs"
	"github.com/lvslab/lvslab/topology/ipvs/ipvstest"
)

// simGuest is a simulated Debian node of lvslab's image: the steps' shell
// commands run in a real shell interpreter, and the system commands they
// call (ip, sysctl, systemctl, ipvsadm, ...) act on a model of the kernel
// and systemd: files, runtime sysctls, addresses, links, units, the IPVS
// table. systemd-networkd applies its .network files on restart, dropping
// foreign addresses of the links it manages, as the real one does. Pure
// text filters (grep, awk, sort, tr) are the host's.
type simGuest struct {
	files    map[string]string
	sysctl   map[string]string // runtime values that differ from the kernel's defaults
	addrs    map[string][]gaddr
	up       map[string]bool
	macs     map[string]string // NIC name -> MAC
	gateway  string            // "via GW dev NIC", or ""
	enabled  map[string]bool
	active   map[string]bool
	listen   []string // ports the web server listens on
	hostname string
	kernel   *ipvstest.Kernel
	reads    int // files read whole, not by the survey's checksums
	// starting are the units whose start job the boot has not finished
	// (activating: not active yet).
	starting map[string]bool
	// keepalivedTable is what keepalived programs when it starts (the
	// lab's table of the node); keepalived, while active, holds it and,
	// as MASTER, its VIP (added with ip, not by networkd: foreign).
	keepalivedTable []ipvs.Service
	keepalivedVIPs  map[string][]string // dev -> the VIPs keepalived added
	// systemctls counts the systemctl processes the node started, procs
	// every process (external command): each costs ~35-200 ms under TCG.
	systemctls, procs int
}

type gaddr struct{ Prefix, Label, Scope string }

// kernelDefault is a setting's value on a freshly booted node: the
// kernel's, but rp_filter 2 as the sysctl.d of Ubuntu and RHEL set it (so
// that TUN's 0 shows; Debian leaves the kernel's 0).
func kernelDefault(key string) string {
	switch {
	case strings.HasSuffix(key, ".send_redirects"):
		return "1"
	case strings.HasSuffix(key, ".rp_filter"):
		return "2"
	}
	return "0"
}

// newGuest is a freshly booted lvslab VM of a node: NICs named and up,
// without addresses yet, networkd and apache2 enabled and running.
func newGuest(st *roles.NodeState) *simGuest {
	g := &simGuest{
		files: map[string]string{}, sysctl: map[string]string{}, addrs: map[string][]gaddr{},
		up: map[string]bool{"lo": true}, macs: map[string]string{},
		enabled: map[string]bool{"systemd-networkd": true}, active: map[string]bool{"systemd-networkd": true},
		hostname: "localhost", kernel: ipvstest.New(nil), starting: map[string]bool{},
	}
	g.addrs["lo"] = []gaddr{{"127.0.0.1/8", "lo", "host"}}
	g.files[catalog.DpkgStatus] = dpkgStatus(image.Packages)
	for _, nic := range st.NICs {
		g.macs[nic.Name] = nic.MAC
		g.up[nic.Name] = true
	}
	if st.Web != nil {
		g.enabled["apache2"], g.active["apache2"], g.listen = true, true, []string{"80"}
	}
	g.kernel.ReadFile = func(p string) ([]byte, bool) {
		c, ok := g.files[p]
		return []byte(c), ok
	}
	return g
}

// dpkgStatus is dpkg's status file of an image with pkgs installed, as
// dpkg writes it: a paragraph per package, Package first, some with fields
// before Status; a package whose name starts like another's; one removed
// with its configuration files kept.
func dpkgStatus(pkgs []string) string {
	var b strings.Builder
	for _, p := range append(slices.Clone(pkgs), "apache2-bin", "libcurl4") {
		fmt.Fprintf(&b, "Package: %s\n", p)
		if p == "systemd-sysv" {
			b.WriteString("Essential: yes\nProtected: yes\n")
		}
		fmt.Fprintf(&b, "Status: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: 1.0\nDescription: %s\n the package %s\n\n", p, p)
	}
	b.WriteString("Package: ipvsadm-legacy\nStatus: deinstall ok config-files\nArchitecture: amd64\n\n")
	return b.String()
}

// moduleLine is a module's line of /proc/modules.
func moduleLine(m string) string { return m + " 32768 0 - Live 0x0000000000000000\n" }

var ipipModule = moduleLine("ipip")

// state is everything a lab decides about the node, for comparison.
func (g *simGuest) state() string {
	var b strings.Builder
	for _, p := range slices.Sorted(maps.Keys(g.files)) {
		if p == "/proc/modules" && g.files[p] == "" || p == catalog.DpkgStatus {
			continue // no module loaded, as on a fresh node; the image's packages
		}
		fmt.Fprintf(&b, "file %s:\n%s\n", p, g.files[p])
	}
	for _, k := range slices.Sorted(maps.Keys(g.sysctl)) {
		if g.sysctl[k] != kernelDefault(k) {
			fmt.Fprintf(&b, "sysctl %s = %s\n", k, g.sysctl[k])
		}
	}
	for _, dev := range slices.Sorted(maps.Keys(g.addrs)) {
		for _, a := range g.addrs[dev] {
			fmt.Fprintf(&b, "addr %s %+v\n", dev, a)
		}
	}
	for _, dev := range slices.Sorted(maps.Keys(g.up)) {
		fmt.Fprintf(&b, "link %s up=%v\n", dev, g.up[dev])
	}
	for _, u := range slices.Sorted(maps.Keys(g.enabled)) {
		if !g.enabled[u] && !g.active[u] {
			continue // disabled and stopped: as if never there
		}
		fmt.Fprintf(&b, "unit %s enabled=%v active=%v\n", u, g.enabled[u], g.active[u])
	}
	fmt.Fprintf(&b, "route default %s\nlisten %v\nhostname %s\nipvs:\n%s", g.gateway, g.listen, g.hostname, ipvs.Rules(g.kernel.Services))
	return b.String()
}

func (g *simGuest) Run(ctx context.Context, cmd string) (string, error) {
	return g.runWith(ctx, cmd, g.exec)
}

// runWith runs cmd in the interpreter over the model, its commands run by
// exec.
func (g *simGuest) runWith(ctx context.Context, cmd string, exec interp.ExecHandlerFunc) (string, error) {
	file, err := syntax.NewParser().Parse(strings.NewReader(cmd), "")
	if err != nil {
		return "", fmt.Errorf("guest: %q: %w", cmd, err)
	}
	var out, errOut bytes.Buffer
	r, err := interp.New(interp.StdIO(nil, &out, &errOut), interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc { return exec }), interp.OpenHandler(g.open), interp.StatHandler(g.stat), interp.ReadDirHandler2(g.readDir))
	if err != nil {
		return "", err
	}
	if err := r.Run(ctx, file); err != nil {
		var st interp.ExitStatus
		if errors.As(err, &st) {
			return out.String(), fmt.Errorf("%q: exit status %d: %s", cmd, st, errOut.String())
		}
		return out.String(), fmt.Errorf("guest: %q: %w", cmd, err)
	}
	return out.String(), nil
}

func (g *simGuest) ReadFile(_ context.Context, p string) ([]byte, bool, error) {
	g.reads++
	c, ok := g.files[p]
	if !ok {
		return nil, false, nil
	}
	return []byte(c), true, nil
}

func (g *simGuest) WriteFile(_ context.Context, p string, data []byte, _ fs.FileMode) error {
	g.files[p] = string(data)
	return nil
}

// stat serves the shell's file tests ([ -f ], [ -e ]) from the model: its
// files, and what /proc and /sys show of its kernel.
func (g *simGuest) stat(_ context.Context, p string, _ bool) (fs.FileInfo, error) {
	if c, ok := g.kernelFile(p); ok {
		return fstest.MapFS{"f": &fstest.MapFile{Data: []byte(c)}}.Stat("f")
	}
	if g.kernelDir(p) {
		return fstest.MapFS{"d/f": &fstest.MapFile{}}.Stat("d")
	}
	c, ok := g.files[p]
	if !ok {
		return nil, &os.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	return fstest.MapFS{"f": &fstest.MapFile{Data: []byte(c)}}.Stat("f")
}

// readDir serves the shell's globs from the model's files.
func (g *simGuest) readDir(_ context.Context, dir string) ([]fs.DirEntry, error) {
	tree := fstest.MapFS{}
	for p, c := range g.files {
		if rel, ok := strings.CutPrefix(p, strings.TrimSuffix(dir, "/")+"/"); ok {
			tree[rel] = &fstest.MapFile{Data: []byte(c)}
		}
	}
	return fs.ReadDir(tree, ".")
}

// kernelFile is what a file of /proc or /sys the checks read holds, from
// the same model the commands change: a sysctl (an integer one answers a
// read at an offset with EOF, so dash's byte-wise read sees no newline; a
// string one, the host name, reads whole), a link's flags (IFF_UP is bit
// 0), a loaded module's initstate.
func (g *simGuest) kernelFile(p string) (string, bool) {
	if key, ok := strings.CutPrefix(p, "/proc/sys/"); ok {
		if key == "kernel/hostname" {
			return g.hostname + "\n", true
		}
		return g.get(strings.ReplaceAll(key, "/", ".")), true
	}
	if proto, ok := strings.CutPrefix(p, "/proc/net/"); ok && sockets[proto] != "" {
		return g.sockets(proto), true
	}
	if rest, ok := strings.CutPrefix(p, "/sys/class/net/"); ok {
		dev, file, _ := strings.Cut(rest, "/")
		up, exists := g.up[dev]
		if !exists || file != "flags" {
			return "", false
		}
		flags := 0x1002 // BROADCAST, MULTICAST
		if up {
			flags |= 0x1
		}
		return fmt.Sprintf("%#x\n", flags), true
	}
	if rest, ok := strings.CutPrefix(p, "/sys/module/"); ok {
		m, file, _ := strings.Cut(rest, "/")
		if file == "initstate" && g.loaded(m) {
			return "live\n", true
		}
	}
	return "", false
}

// sockets: the header of each /proc/net table of sockets.
var sockets = map[string]string{
	"tcp":  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n",
	"tcp6": "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n",
	"udp":  "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n",
	"udp6": "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n",
}

// sockets is a /proc/net table as the kernel writes it: apache2's
// listeners on [::] (tcp6, as Debian's apache2 binds), an sshd on 0.0.0.0:22
// with a connection to it (tcp), each running UDP responder's socket
// (udp, unconnected: state 07).
func (g *simGuest) sockets(proto string) string {
	var b strings.Builder
	b.WriteString(sockets[proto])
	row := func(local, remote, state string) {
		fmt.Fprintf(&b, "%4d: %s %s %s 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n", strings.Count(b.String(), "\n")-1, local, remote, state)
	}
	any6 := strings.Repeat("0", 32)
	switch proto {
	case "tcp":
		row("00000000:0016", "00000000:0000", "0A")
		row("0B00FA0A:0016", "0100FA0A:D431", "01")
	case "tcp6":
		if g.active["apache2"] {
			for _, p := range g.listen {
				port, _ := strconv.Atoi(p)
				row(fmt.Sprintf("%s:%04X", any6, port), any6+":0000", "0A")
			}
		}
	case "udp":
		for u, on := range g.active {
			if p, ok := strings.CutPrefix(u, "lvslab-udp-"); ok && on {
				port, _ := strconv.Atoi(p)
				row(fmt.Sprintf("6F2A10AC:%04X", port), "00000000:0000", "07")
			}
		}
	}
	return b.String()
}

// kernelDir: /sys/module/M of a loaded module M.
func (g *simGuest) kernelDir(p string) bool {
	m, ok := strings.CutPrefix(p, "/sys/module/")
	return ok && !strings.Contains(m, "/") && g.loaded(m)
}

// loaded tells whether /proc/modules lists module m.
func (g *simGuest) loaded(m string) bool {
	return slices.ContainsFunc(strings.Split(g.files["/proc/modules"], "\n"), func(l string) bool { return strings.HasPrefix(l, m+" ") })
}

type rwc struct {
	io.Reader
	io.Writer
}

func (rwc) Close() error { return nil }

// open serves redirections: the model's files to read, /dev/null to write.
func (g *simGuest) open(_ context.Context, p string, flag int, _ os.FileMode) (io.ReadWriteCloser, error) {
	if p == "/dev/null" {
		return rwc{strings.NewReader(""), io.Discard}, nil
	}
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		return nil, fmt.Errorf("guest: a step writes %s through the shell", p)
	}
	if c, ok := g.kernelFile(p); ok {
		return rwc{strings.NewReader(c), io.Discard}, nil
	}
	c, ok := g.files[p]
	if !ok {
		return nil, &os.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	return rwc{strings.NewReader(c), io.Discard}, nil
}

var hostFilters = map[string]bool{"grep": true, "awk": true, "sort": true, "tr": true, "wc": true}

func (g *simGuest) exec(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	g.procs++
	if hostFilters[args[0]] {
		// A file the model holds (/proc/modules) is read from the model.
		if last := args[len(args)-1]; strings.HasPrefix(last, "/") && len(args) > 2 {
			c, ok := g.files[last]
			if !ok {
				return interp.ExitStatus(2)
			}
			cmd := exec.CommandContext(ctx, args[0], args[1:len(args)-1]...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(c), hc.Stdout, hc.Stderr
			if err := cmd.Run(); err != nil {
				return interp.ExitStatus(1)
			}
			return nil
		}
		return interp.DefaultExecHandler(time.Second)(ctx, args)
	}
	out, err := g.command(args, hc.Stdin)
	io.WriteString(hc.Stdout, out)
	if err != nil {
		fmt.Fprintln(hc.Stderr, err)
		return interp.ExitStatus(1)
	}
	return nil
}

var errFalse = errors.New("")

func (g *simGuest) command(args []string, stdin io.Reader) (string, error) {
	switch args[0] {
	case "hostname":
		if len(args) == 1 {
			return g.hostname + "\n", nil
		}
		g.hostname = args[1]
	case "hostnamectl":
		g.hostname = args[2]
	case "dpkg-query": // dpkg-query -W -f=FORMAT PKG...: the image has every package
		format := strings.TrimPrefix(args[2], "-f=")
		format = strings.NewReplacer("${Status}", "install ok installed", "${db:Status-Status}", "installed", `\n`, "\n").Replace(format)
		return strings.Repeat(format, len(args[3:])), nil
	case "modprobe":
		if args[1] == "-r" { // unloading ipip removes tunl0, its addresses and settings
			if slices.Contains(args, "ipip") {
				delete(g.addrs, "tunl0")
				delete(g.up, "tunl0")
				maps.DeleteFunc(g.sysctl, func(k, _ string) bool { return strings.HasPrefix(k, "net.ipv4.conf.tunl0.") })
				g.files["/proc/modules"] = strings.ReplaceAll(g.files["/proc/modules"], ipipModule, "")
			}
			return "", nil
		}
		for _, m := range args[1:] {
			if m == "ipip" && g.addrs["tunl0"] == nil {
				g.addrs["tunl0"], g.up["tunl0"] = []gaddr{}, false
				g.files["/proc/modules"] += ipipModule
			}
		}
	case "sha256sum":
		var out strings.Builder
		for _, p := range args[1:] {
			if c, ok := g.files[p]; ok {
				fmt.Fprintf(&out, "%x  %s\n", sha256.Sum256([]byte(c)), p)
			}
		}
		return out.String(), nil
	case "cat":
		var out strings.Builder
		for _, p := range args[1:] {
			c, ok := g.files[p]
			if !ok {
				return out.String(), fmt.Errorf("cat: %s: No such file or directory", p)
			}
			out.WriteString(c)
		}
		return out.String(), nil
	case "keepalived": // keepalived -t -f FILE: lvslab's files parse
	case "mkdir", "ln", "chmod":
	case "rm":
		for _, p := range args[1:] {
			if !strings.HasPrefix(p, "-") {
				delete(g.files, p)
			}
		}
	case "sysctl":
		return g.sysctlCmd(args[1:])
	case "ip":
		if n := len(args); n > 2 && args[n-2] == "-b" && args[n-1] == "-" {
			return g.ipBatch(args[1:n-2], stdin)
		}
		return g.ip(args[1:])
	case "nft": // no table of lvslab's: naming one loads nf_tables
		if !g.loaded("nf_tables") {
			g.files["/proc/modules"] += moduleLine("nf_tables")
		}
		return "", fmt.Errorf("Error: No such file or directory")
	case "timeout": // timeout SECONDS COMMAND...
		return g.command(args[2:], stdin)
	case "systemctl":
		g.systemctls++
		if args[1] == "is-system-running" { // --wait: the boot's start jobs end
			for u := range g.starting {
				g.start(u)
			}
			clear(g.starting)
			return "running\n", nil
		}
		if args[1] == "show" { // show -p Id -p UnitFileState -p ActiveState -- UNIT...
			var out strings.Builder
			for _, u := range args[slices.Index(args, "--")+1:] {
				en, ac := "disabled", "inactive"
				if g.enabled[strings.TrimSuffix(u, ".service")] {
					en = "enabled"
				}
				if g.active[strings.TrimSuffix(u, ".service")] {
					ac = "active"
				} else if g.starting[strings.TrimSuffix(u, ".service")] {
					ac = "activating"
				}
				fmt.Fprintf(&out, "Id=%s\nUnitFileState=%s\nActiveState=%s\n\n", u, en, ac)
			}
			return out.String(), nil
		}
		return "", g.systemctl(args[1:])
	case "ss": // ss -Htln 'sport = :PORT'
		port := strings.TrimPrefix(args[2], "sport = :")
		if g.active["apache2"] && slices.Contains(g.listen, port) {
			return "LISTEN 0 511 *:" + port + " *:*\n", nil
		}
	case "ipvsadm", ipvs.Restore:
		if args[0] == ipvs.Restore {
			rules, _ := io.ReadAll(stdin)
			return g.kernel.Run(ipvs.Restore + " <<'E'\n" + string(rules) + "E")
		}
		return g.kernel.Run(strings.Join(args, " "))
	default:
		return "", fmt.Errorf("guest: unknown command %q", strings.Join(args, " "))
	}
	return "", nil
}

func (g *simGuest) get(key string) string {
	if v, ok := g.sysctl[key]; ok {
		return v
	}
	return kernelDefault(key)
}

func (g *simGuest) sysctlCmd(args []string) (string, error) {
	args = slices.DeleteFunc(args, func(a string) bool { return a == "-q" })
	switch args[0] {
	case "-n":
		var out strings.Builder
		for _, k := range args[1:] {
			out.WriteString(g.get(k) + "\n")
		}
		return out.String(), nil
	case "-w":
		for _, kv := range args[1:] {
			k, v, _ := strings.Cut(kv, "=")
			g.sysctl[k] = v
		}
	case "-p":
		sc := bufio.NewScanner(strings.NewReader(g.files[args[1]]))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), " = "); ok && !strings.HasPrefix(k, "#") {
				g.sysctl[k] = v
			}
		}
	default:
		return "", fmt.Errorf("guest: sysctl %v", args)
	}
	return "", nil
}

func (g *simGuest) systemctl(args []string) error {
	args = slices.DeleteFunc(args, func(a string) bool { return a == "-q" })
	verb, now := args[0], slices.Contains(args, "--now")
	units := slices.DeleteFunc(slices.Clone(args[1:]), func(a string) bool { return a == "--now" })
	for _, u := range units {
		u = strings.TrimSuffix(u, ".service")
		switch verb {
		case "is-enabled", "is-active":
			if m := map[string]map[string]bool{"is-enabled": g.enabled, "is-active": g.active}[verb]; !m[u] {
				return errFalse
			}
		case "enable":
			g.enabled[u] = true
			if now {
				g.start(u)
			}
		case "disable":
			g.enabled[u] = false
			if now {
				g.stop(u)
			}
		case "restart", "start":
			g.start(u)
		case "reload":
			if u == "keepalived" && g.active[u] {
				g.keepalived(true)
			}
		}
	}
	return nil
}

// stop stops a unit: keepalived takes its VIP and its IPVS rules with it.
func (g *simGuest) stop(unit string) {
	if unit == "keepalived" && g.active[unit] {
		g.kernel.Services = nil
		for dev, vips := range g.keepalivedVIPs {
			g.addrs[dev] = slices.DeleteFunc(g.addrs[dev], func(a gaddr) bool { return slices.Contains(vips, a.Prefix) })
		}
		g.keepalivedVIPs = nil
	}
	g.active[unit] = false
}

// keepalived starts (or reloads) as its file says: a MASTER adds its VIPs
// to its interface where they are missing, and on start the table is
// keepalivedTable.
func (g *simGuest) keepalived(reload bool) {
	if !reload {
		g.kernel.Services = slices.Clone(g.keepalivedTable)
	}
	conf := g.files[catalog.KeepalivedConf]
	if !strings.Contains(conf, "state MASTER") {
		return
	}
	var dev string
	inVIPs := false
	for _, l := range strings.Split(conf, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "interface "):
			dev = strings.TrimPrefix(l, "interface ")
		case l == "virtual_ipaddress {":
			inVIPs = true
		case l == "}":
			inVIPs = false
		case inVIPs:
			if !strings.Contains(l, "/") {
				l += "/32"
			}
			if !slices.ContainsFunc(g.addrs[dev], func(a gaddr) bool { return a.Prefix == l }) {
				g.addrs[dev] = append(g.addrs[dev], gaddr{l, dev, "global"})
			}
			if g.keepalivedVIPs == nil {
				g.keepalivedVIPs = map[string][]string{}
			}
			if !slices.Contains(g.keepalivedVIPs[dev], l) {
				g.keepalivedVIPs[dev] = append(g.keepalivedVIPs[dev], l)
			}
		}
	}
}

func (g *simGuest) start(unit string) {
	if unit == "keepalived" && !g.active[unit] {
		g.keepalived(false)
	}
	g.active[unit] = true
	switch unit {
	case "systemd-networkd":
		g.networkd()
	case "apache2":
		g.listen = nil
		sc := bufio.NewScanner(strings.NewReader(g.files[catalog.ApachePortsFile]))
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "Listen "); ok {
				g.listen = append(g.listen, p)
			}
		}
	}
}

// networkd applies the .network files: a matched NIC gets exactly their
// addresses (foreign ones dropped); lo and tunl0 keep theirs and get the
// file's too (KeepConfiguration).
func (g *simGuest) networkd() {
	g.gateway = ""
	for _, p := range slices.Sorted(maps.Keys(g.files)) {
		if path.Dir(p) != catalog.NetworkdDir || path.Ext(p) != ".network" {
			continue
		}
		var dev, section, gw string
		var addrs []gaddr
		down := false
		for _, line := range strings.Split(g.files[p], "\n") {
			k, v, _ := strings.Cut(line, "=")
			switch {
			case strings.HasPrefix(line, "["):
				section = line
				if section == "[Address]" {
					addrs = append(addrs, gaddr{Scope: "global"})
				}
			case k == "MACAddress":
				for n, mac := range g.macs {
					if mac == v {
						dev = n
					}
				}
			case k == "Name":
				dev = v
			case k == "ActivationPolicy" && v == "down":
				down = true
			case k == "Gateway":
				gw = v
			case k == "Address" && section == "[Network]":
				addrs = append(addrs, gaddr{v, "", "global"})
			case k == "Address":
				addrs[len(addrs)-1].Prefix = v
			case k == "Label":
				addrs[len(addrs)-1].Label = v
			}
		}
		if dev == "" || g.addrs[dev] == nil && g.macs[dev] == "" {
			continue
		}
		for i := range addrs {
			if addrs[i].Label == "" {
				addrs[i].Label = dev
			}
		}
		if dev == "lo" || dev == "tunl0" {
			for _, a := range addrs {
				if !slices.Contains(g.addrs[dev], a) {
					g.addrs[dev] = append(g.addrs[dev], a)
				}
			}
			g.up[dev] = true
			continue
		}
		g.addrs[dev], g.up[dev] = addrs, !down
		if down {
			g.addrs[dev] = nil
		}
		if gw != "" {
			g.gateway = "via " + gw + " dev " + dev
		}
	}
}

// ipBatch runs the ip commands of stdin ("ip -b -") with the options
// given before -b, stopping at the first that fails, as ip does.
func (g *simGuest) ipBatch(opts []string, stdin io.Reader) (string, error) {
	var out strings.Builder
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		o, err := g.ip(append(slices.Clone(opts), strings.Fields(sc.Text())...))
		out.WriteString(o)
		if err != nil {
			return out.String(), err
		}
	}
	return out.String(), nil
}

func (g *simGuest) ip(args []string) (string, error) {
	// ip [-4] [-o] [-j] OBJECT VERB dev DEV [label L] [scope S] / link set DEV up|down
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		args = args[1:]
	}
	obj, verb, rest := args[0], args[1], args[2:]
	opts := map[string]string{}
	for i := 0; i < len(rest); i++ {
		if rest[i] == "up" || rest[i] == "default" { // selectors without a value
			opts[rest[i]] = "yes"
			continue
		}
		if i+1 < len(rest) {
			opts[rest[i]] = rest[i+1]
			i++
		}
	}
	switch {
	case obj == "route" && verb == "show":
		// ip -4 route show default [via GW] [dev DEV]: the selectors filter.
		if g.gateway == "" {
			return "", nil
		}
		if sel := strings.TrimSpace("via " + opts["via"] + " dev " + opts["dev"]); opts["via"] != "" && sel != g.gateway {
			return "", nil
		}
		return "default " + g.gateway + " proto static \n", nil
	case obj == "link" && verb == "set":
		g.up[rest[0]] = rest[1] == "up"
		return "", nil
	}
	dev := opts["dev"]
	if _, ok := g.up[dev]; !ok && dev == "tunl0" {
		// The kernel loads ipip when root names tunl0 (its netdev alias).
		g.addrs["tunl0"], g.up["tunl0"] = []gaddr{}, false
		g.files["/proc/modules"] += ipipModule
	}
	if _, ok := g.up[dev]; !ok {
		return "", fmt.Errorf("Device %q does not exist.", dev)
	}
	switch {
	case obj == "link" && verb == "show":
		if opts["up"] != "" && !g.up[dev] {
			return "", nil
		}
		flags := "BROADCAST,MULTICAST"
		if g.up[dev] {
			flags += ",UP,LOWER_UP"
		}
		return "2: " + dev + ": <" + flags + "> mtu 1500\n", nil
	case obj == "addr" && verb == "show":
		var out strings.Builder
		for _, a := range g.matching(dev, opts) {
			fmt.Fprintf(&out, "2: %s    inet %s scope %s %s\\       valid_lft forever preferred_lft forever\n", dev, a.Prefix, a.Scope, a.Label)
		}
		return out.String(), nil
	case obj == "addr" && verb == "flush":
		drop := g.matching(dev, opts)
		g.addrs[dev] = slices.DeleteFunc(g.addrs[dev], func(a gaddr) bool { return slices.Contains(drop, a) })
		return "", nil
	}
	return "", fmt.Errorf("guest: ip %v", args)
}

func (g *simGuest) matching(dev string, opts map[string]string) []gaddr {
	var out []gaddr
	for _, a := range g.addrs[dev] {
		if l, ok := opts["label"]; ok {
			if m, _ := path.Match(l, a.Label); !m {
				continue
			}
		}
		if s, ok := opts["scope"]; ok && s != a.Scope {
			continue
		}
		out = append(out, a)
	}
	return out
}
