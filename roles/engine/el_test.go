package engine

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/interp"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/rolestest"
)

// elGuest is an Enterprise Linux node (Rocky or AlmaLinux 8 or 9) for the
// RHEL steps: simGuest's kernel model (addresses, sysctls, units, the IPVS
// table) under NetworkManager's profiles, SELinux and rpm, whose commands
// answer in the forms EL 8's and EL 9's tools print them (NetworkManager
// 1.40/1.46's nmcli, libselinux's getenforce, rpm -q, iptables-nft's
// errors), transcribed from those tools' output formats.
type elGuest struct {
	*simGuest
	profiles []*nmProfile
	enforce  bool
	rpms     map[string]string // package -> its rpm -q line
	calls    []string          // nmcli, getenforce, setenforce, rpm, iptables as run
}

// nmProfile is one NetworkManager connection profile.
type nmProfile struct {
	id, uuid, ifname, method, addresses, gateway string
	autoconnect, active                          bool
}

// newELGuest is a fresh EL guest of release (8 or 9) holding st's NICs:
// cloud-init's profile for mgmt0 and, for the first lab NIC, the profile an
// image came with (EL 8's network-scripts "System eth0", EL 9's
// NetworkManager-made "Wired connection 1"), active with DHCP; firewalld
// on, SELinux enforcing.
func newELGuest(st *roles.NodeState, release int) *elGuest {
	g := &elGuest{simGuest: newGuest(st), enforce: true, rpms: map[string]string{}}
	delete(g.enabled, "systemd-networkd")
	delete(g.active, "systemd-networkd")
	g.enabled["NetworkManager"], g.active["NetworkManager"] = true, true
	g.enabled["firewalld"], g.active["firewalld"] = true, true
	g.files["/etc/selinux/config"] = "# This file controls the state of SELinux on the system.\nSELINUX=enforcing\nSELINUXTYPE=targeted\n"
	g.files["/sys/fs/selinux/enforce"] = "1"
	g.files["/etc/os-release"] = fmt.Sprintf("NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"%d.4\"\n", release)
	g.macs["mgmt0"], g.up["mgmt0"] = "52:54:00:ff:00:01", true
	g.addrs["mgmt0"] = []gaddr{{"10.250.0.12/24", "mgmt0", "global"}}
	g.profiles = append(g.profiles, &nmProfile{id: "cloud-init mgmt0", uuid: "1dd9a779-d327-56e1-8454-c65e2556c12c", ifname: "mgmt0", method: "manual", addresses: "10.250.0.12/24", autoconnect: true, active: true})
	first := "Wired connection 1"
	if release == 8 {
		first = "System " + st.NICs[0].Name
	}
	g.profiles = append(g.profiles, &nmProfile{id: first, uuid: "5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03", ifname: st.NICs[0].Name, method: "auto", autoconnect: true, active: true})
	for _, p := range []string{"ipvsadm", "httpd", "curl", "keepalived"} {
		g.rpms[p] = p + "-1.0-1.el" + strconv.Itoa(release) + ".x86_64"
	}
	return g
}

func (g *elGuest) profile(name string) *nmProfile {
	for _, p := range g.profiles {
		if p.id == name || p.uuid == name {
			return p
		}
	}
	return nil
}

// Run runs cmd in a shell interpreter: EL's own commands answer here, the
// kernel's and systemd's in simGuest.
func (g *elGuest) Run(ctx context.Context, cmd string) (string, error) {
	return g.runWith(ctx, cmd, g.exec)
}

func (g *elGuest) exec(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	var out string
	code := 0
	switch args[0] {
	case "nmcli":
		g.calls = append(g.calls, strings.Join(args, " "))
		var errText string
		out, errText, code = g.nmcli(args[1:])
		io.WriteString(hc.Stderr, errText)
	case "getenforce":
		g.calls = append(g.calls, "getenforce")
		out = map[bool]string{true: "Enforcing\n", false: "Permissive\n"}[g.enforce]
	case "setenforce":
		g.calls = append(g.calls, strings.Join(args, " "))
		g.enforce = args[1] == "1"
		g.files["/sys/fs/selinux/enforce"] = map[bool]string{true: "1", false: "0"}[g.enforce]
	case "sed": // sed -i 's/^SELINUX=enforcing/SELINUX=permissive/' /etc/selinux/config
		if args[2] != "s/^SELINUX=enforcing/SELINUX=permissive/" {
			return fmt.Errorf("guest: sed %v", args)
		}
		g.files[args[3]] = strings.Replace(g.files[args[3]], "\nSELINUX=enforcing", "\nSELINUX=permissive", 1)
	case "rpm": // rpm -q PKG...: a line per package, "package P is not installed" and status 1 for each missing
		g.calls = append(g.calls, strings.Join(args, " "))
		for _, p := range args[2:] {
			if line, ok := g.rpms[p]; ok {
				out += line + "\n"
			} else {
				out += "package " + p + " is not installed\n"
				code = 1
			}
		}
	case "iptables", "/usr/sbin/iptables": // no chain of lvslab's: iptables-nft's error
		g.calls = append(g.calls, strings.Join(args, " "))
		io.WriteString(hc.Stderr, "iptables: No chain/target/match by that name.\n")
		code = 1
	case "ip", "/sbin/ip":
		if len(args) > 5 && args[1] == "addr" && args[2] == "replace" { // ip addr replace A dev D [label L]
			g.addrs[args[5]] = append(slices.DeleteFunc(g.addrs[args[5]], func(a gaddr) bool { return a.Prefix == args[3] }), gaddr{args[3], labelOf(args), "global"})
			return nil
		}
		return g.simGuest.exec(ctx, append([]string{"ip"}, args[1:]...))
	case "systemctl":
		if err := g.simGuest.exec(ctx, args); err != nil {
			return err
		}
		if len(args) > 2 && (args[1] == "restart" || args[1] == "start") && args[2] == catalog.VIPUnit {
			return g.runUnit(ctx, catalog.VIPUnitFile)
		}
		return nil
	default:
		return g.simGuest.exec(ctx, args)
	}
	io.WriteString(hc.Stdout, out)
	if code != 0 {
		return interp.ExitStatus(code)
	}
	return nil
}

func labelOf(args []string) string {
	if i := slices.Index(args, "label"); i > 0 && i+1 < len(args) {
		return args[i+1]
	}
	return args[5]
}

// runUnit runs a oneshot unit's ExecStart lines, as systemd would.
func (g *elGuest) runUnit(ctx context.Context, path string) error {
	for _, line := range strings.Split(g.files[path], "\n") {
		if cmd, ok := strings.CutPrefix(line, "ExecStart="); ok {
			if _, err := g.Run(ctx, cmd); err != nil {
				return err
			}
		}
	}
	return nil
}

// nmcli answers as NetworkManager's nmcli does: -g prints bare values, a
// missing profile is "Error: X - no such connection profile." with exit
// status 10.
func (g *elGuest) nmcli(args []string) (out, errText string, code int) {
	terse := ""
	if args[0] == "-g" {
		terse, args = args[1], args[2:]
	}
	if len(args) >= 3 && args[0] == "device" && args[1] == "show" {
		for _, p := range g.profiles {
			if p.active && p.ifname == args[2] && terse == "GENERAL.CONNECTION" {
				return p.id + "\n", "", 0
			}
		}
		if terse == "GENERAL.CONNECTION" {
			return "\n", "", 0
		}
	}
	if len(args) < 2 || args[0] != "connection" {
		return "", "Error: argument '" + strings.Join(args, " ") + "' not understood.\n", 2
	}
	verb, rest := args[1], args[2:]
	if verb == "add" { // add type ethernet con-name X ifname Y
		p := &nmProfile{id: rest[3], uuid: fmt.Sprintf("7a8c1d3e-0000-4000-8000-%012d", len(g.profiles)), ifname: rest[5], method: "auto", autoconnect: true}
		g.profiles = append(g.profiles, p)
		return fmt.Sprintf("Connection '%s' (%s) successfully added.\n", p.id, p.uuid), "", 0
	}
	p := g.profile(rest[0])
	if p == nil {
		return "", "Error: " + rest[0] + " - no such connection profile.\n", 10
	}
	switch verb {
	case "show":
		if terse != "" {
			return p.get(terse) + "\n", "", 0
		}
		return "connection.id:                          " + p.id + "\nconnection.uuid:                        " + p.uuid + "\n", "", 0
	case "modify":
		for i := 1; i+1 < len(rest); i += 2 {
			p.set(rest[i], strings.Trim(rest[i+1], "'"))
		}
	case "up":
		for _, o := range g.profiles {
			if o != p && o.ifname == p.ifname {
				o.active = false
			}
		}
		p.active = true
		g.activate(p)
		return "Connection successfully activated (D-Bus active path: /org/freedesktop/NetworkManager/ActiveConnection/7)\n", "", 0
	case "down":
		if !p.active {
			return "", "Error: '" + p.id + "' is not an active connection.\nError: no active connection provided.\n", 10
		}
		p.active = false
		g.addrs[p.ifname] = nil
		return "Connection '" + p.id + "' successfully deactivated (D-Bus active path: /org/freedesktop/NetworkManager/ActiveConnection/7)\n", "", 0
	}
	return "", "", 0
}

func (p *nmProfile) get(key string) string {
	switch key {
	case "ipv4.method":
		return p.method
	case "ipv4.addresses":
		return p.addresses
	case "connection.autoconnect":
		return map[bool]string{true: "yes", false: "no"}[p.autoconnect]
	case "connection.interface-name":
		return p.ifname
	}
	return ""
}

func (p *nmProfile) set(key, v string) {
	switch key {
	case "connection.id":
		p.id = v
	case "connection.interface-name":
		p.ifname = v
	case "connection.autoconnect":
		p.autoconnect = v == "yes"
	case "ipv4.method":
		p.method = v
	case "ipv4.addresses":
		p.addresses = v
	case "ipv4.gateway":
		p.gateway = v
	}
}

// activate puts a profile's addresses on its NIC as NetworkManager does:
// exactly its own (the labelled VIPs another tool added go), the link up,
// its gateway the default route.
func (g *elGuest) activate(p *nmProfile) {
	g.addrs[p.ifname] = nil
	if p.method == "manual" && p.addresses != "" {
		g.addrs[p.ifname] = []gaddr{{p.addresses, p.ifname, "global"}}
	}
	g.up[p.ifname] = p.method != "disabled"
	if p.gateway != "" {
		g.gateway = "via " + p.gateway + " dev " + p.ifname
	} else if strings.HasSuffix(g.gateway, " dev "+p.ifname) {
		g.gateway = ""
	}
}

// The RHEL steps of a DR director and real server, applied to EL 8 and
// EL 9 guests as their images come (an active DHCP profile on the first
// lab NIC, firewalld on, SELinux enforcing): every step converges; the
// image's profile is the NIC's one profile, renamed, not a second beside
// it; mgmt0's profile is untouched; a second run changes nothing.
func TestRHELStepsOnEL(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-dr")
	for _, release := range []int{8, 9} {
		for _, node := range []string{"lvs1", "web1"} {
			st := rolestest.State(t, lab, node)
			g := newELGuest(st, release)
			steps := catalog.StepsFor(st, catalog.RHEL, catalog.OwnerNetworkManager)
			name := fmt.Sprintf("EL %d %s", release, node)
			if _, err := Apply(context.Background(), g, steps, nil); err != nil {
				t.Fatalf("%s: %v\nnmcli and others:\n%s", name, err, strings.Join(g.calls, "\n"))
			}
			var ids []string
			for _, p := range g.profiles {
				ids = append(ids, p.id+"@"+p.ifname)
			}
			want := []string{"cloud-init mgmt0@mgmt0", st.NICs[0].Name + "@" + st.NICs[0].Name, st.NICs[1].Name + "@" + st.NICs[1].Name}
			if !slices.Equal(ids, want) {
				t.Errorf("%s: profiles %v, want %v", name, ids, want)
			}
			if g.enforce || !strings.Contains(g.files["/etc/selinux/config"], "\nSELINUX=permissive\n") || g.enabled["firewalld"] || g.active["firewalld"] {
				t.Errorf("%s: SELinux enforcing %v, config %q, firewalld %v/%v", name, g.enforce, g.files["/etc/selinux/config"], g.enabled["firewalld"], g.active["firewalld"])
			}
			for _, nic := range st.NICs {
				if nic.Down && (g.up[nic.Name] || len(g.addrs[nic.Name]) > 0) || !nic.Down && !slices.ContainsFunc(g.addrs[nic.Name], func(a gaddr) bool { return a.Prefix == nic.Address.String() }) {
					t.Errorf("%s: %s up %v with %v", name, nic.Name, g.up[nic.Name], g.addrs[nic.Name])
				}
			}
			for _, a := range st.Aliases {
				if !slices.ContainsFunc(g.addrs[a.Device], func(x gaddr) bool { return x.Prefix == a.Address.String() }) {
					t.Errorf("%s: no VIP %s on %s: %v", name, a.Address, a.Device, g.addrs[a.Device])
				}
			}
			if g.addrs["mgmt0"][0].Prefix != "10.250.0.12/24" || !g.profile("cloud-init mgmt0").active {
				t.Errorf("%s: mgmt0 %v", name, g.addrs["mgmt0"])
			}
			res, err := Apply(context.Background(), g, steps, nil)
			if err != nil || res.Changed() {
				t.Errorf("%s: again: %v, changed %v", name, err, res.ChangedSteps())
			}
		}
	}
}
