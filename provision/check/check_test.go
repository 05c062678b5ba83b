package check

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/verify"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

func checkNode(t *testing.T, lab *topology.Lab, node string, g *simGuest) NodeReport {
	t.Helper()
	nr := Node(context.Background(), g, lab, rolestest.State(t, lab, node), strings.TrimPrefix(lab.File, "embedded:"))
	if nr.Error != "" {
		t.Fatalf("%s: %s", node, nr.Error)
	}
	return nr
}

func failed(nr NodeReport) map[string]Fact {
	out := map[string]Fact{}
	for _, f := range nr.Facts {
		if f.Status == report.Fail {
			out[f.Name] = f
		}
	}
	return out
}

// A node configured as the handout says passes every fact, on every
// embedded lab and both OS families, in one command.
func TestConfiguredNodesPass(t *testing.T) {
	for _, name := range labs.Names() {
		lab := rolestest.Lab(t, name)
		for _, os := range catalog.OSFamilies {
			for _, st := range roles.Desired(lab) {
				g := configured(st, os)
				nr := checkNode(t, lab, st.Name, g)
				if f := failed(nr); len(f) > 0 {
					t.Errorf("%s %s %s: failed %v", name, os, st.Name, f)
				}
				if nr.OS != os {
					t.Errorf("%s %s: OS %q", name, st.Name, nr.OS)
				}
				// hostname, each NIC, each sysctl and alias at least
				if min := 1 + len(st.NICs) + len(st.Sysctls) + len(st.Aliases); len(nr.Facts) < min {
					t.Errorf("%s %s: %d facts, want at least %d", name, st.Name, len(nr.Facts), min)
				}
				if len(g.ran) != 1 {
					t.Errorf("%s %s: %d commands, want the one probe", name, st.Name, len(g.ran))
				}
			}
		}
	}
}

// A bare clone fails every fact of the exercise, none of them with an
// empty hint or fix.
func TestBareNodeFailsWithHints(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-dr")
	for _, st := range roles.Desired(lab) {
		nr := checkNode(t, lab, st.Name, bare(catalog.Debian))
		f := failed(nr)
		for _, want := range []string{"hostname", "address eth0"} {
			if _, ok := f[want]; !ok {
				t.Errorf("%s: %q passes on a bare clone", st.Name, want)
			}
		}
		if p := f["page"]; p.Got != "<html>Apache2 Debian Default Page</html> ..." && st.Web != nil {
			t.Errorf("%s: a long page is shown as %q", st.Name, p.Got)
		}
		for _, fact := range f {
			if fact.Hint == "" || !strings.HasPrefix(fact.Fix, "lvslab plan tedu-dr --node "+st.Name+" --os debian") {
				t.Errorf("%s %s: hint %q fix %q", st.Name, fact.Name, fact.Hint, fact.Fix)
			}
		}
	}
}

// Each classic mistake fails its own facts (and no other), with its own hint
// and the step of the handout that fixes it.
func TestClassicMistakes(t *testing.T) {
	vip := netip.MustParsePrefix("192.168.4.15/24")
	cases := []struct {
		name, lab, node string
		break_          func(g *simGuest)
		fails           []string
		hint, fix       string
	}{
		{"VIP /24 on lo", "tedu-dr", "web1", func(g *simGuest) { g.setAddr("lo", vip) },
			[]string{"vip lo:0"}, "must be /32", "step 10, vip lo"},
		{"arp_ignore missing", "tedu-dr", "web1", func(g *simGuest) {
			g.sysctl["net.ipv4.conf.all.arp_ignore"] = "0"
			g.sysctl["net.ipv4.conf.lo.arp_ignore"] = "0"
		}, []string{"sysctl net.ipv4.conf.all.arp_ignore", "sysctl net.ipv4.conf.lo.arp_ignore"}, "steals the VIP", "step 7, sysctl"},
		{"arp_announce missing", "tedu-dr", "web2", func(g *simGuest) { g.sysctl["net.ipv4.conf.eth0.arp_announce"] = "0" },
			[]string{"sysctl net.ipv4.conf.eth0.arp_announce"}, "announces the VIP", "step 7, sysctl"},
		{"NAT gateway not the DIP", "tedu-nat", "web1", func(g *simGuest) { g.routes[0].Via = netip.MustParseAddr("192.168.2.254") },
			[]string{"gateway"}, "not the DIP 192.168.2.5", "address eth1"},
		{"ip_forward off on a NAT director", "tedu-nat", "lvs1", func(g *simGuest) { g.sysctl["net.ipv4.ip_forward"] = "0" },
			[]string{"sysctl net.ipv4.ip_forward"}, "forwarding off", "sysctl"},
		{"web server stopped", "tedu-nat", "web2", func(g *simGuest) { g.active["apache2"] = "inactive" },
			[]string{"apache2 running", "listens on 80", "serves the page on 80"}, "connection refused", "apache2)"},
		{"wrong page", "tedu-nat", "web2", func(g *simGuest) { g.files[catalog.IndexFile] = "web1\n" },
			[]string{"page", "serves the page on 80"}, "tell the real servers apart", "index.html"},
		{"-m in DR", "tedu-dr", "lvs1", func(g *simGuest) {
			g.kernel.Services[0].Destinations[0].ConnectionFlags = ipvs.ConnectionFlagMasq
		}, []string{"ipvs -t 192.168.4.15:80 -r 192.168.4.200:80"}, "added with -m (NAT, masquerading) but the service is DR: use -g", "ipvs"},
		{"-g in NAT", "tedu-nat", "lvs1", func(g *simGuest) {
			for i := range g.kernel.Services[0].Destinations {
				g.kernel.Services[0].Destinations[i].ConnectionFlags = ipvs.ConnectionFlagDirectRoute
			}
		}, []string{"ipvs -t 192.168.4.5:80 -r 192.168.2.100:80", "ipvs -t 192.168.4.5:80 -r 192.168.2.200:80"}, "but the service is NAT: use -m", "ipvs"},
		{"rules not saved", "tedu-nat", "lvs1", func(g *simGuest) { delete(g.files, catalog.DebianRulesFile) },
			[]string{"ipvs rules saved"}, "ipvsadm-save -n > /etc/ipvsadm.rules", "ipvs rules file"},
		{"no boot unit", "tedu-nat", "lvs1", func(g *simGuest) { g.enabled[catalog.IPVSUnit] = "disabled" },
			[]string{"ipvs rules at boot"}, "after a reboot the IPVS table is empty", "ipvs at boot"},
		{"sysctl typed, not saved", "tedu-nat", "lvs1", func(g *simGuest) { g.files[catalog.SysctlFile] = "" },
			[]string{"sysctl at boot"}, "lost at the next reboot", "sysctl"},
		{"DHCP address left", "tedu-nat", "web1", func(g *simGuest) {
			g.addrs = append(g.addrs, Addr{Device: "eth1", Label: "eth1", Prefix: netip.MustParsePrefix("192.168.2.57/24")})
		}, []string{"address eth1"}, "DHCP left on", "address eth1"},
		{"second NIC up", "tedu-nat", "web1", func(g *simGuest) { g.up["eth0"] = true },
			[]string{"down eth0"}, "bypassing the director", "disable eth0"},
		{"wrong weight", "tedu-nat", "lvs1", func(g *simGuest) { g.kernel.Services[0].Destinations[0].Weight = 1 },
			[]string{"ipvs -t 192.168.4.5:80 -r 192.168.2.200:80"}, "weight is 1, the lab wants 2", "ipvs"},
		{"wrong scheduler", "tedu-dr", "lvs1", func(g *simGuest) { g.kernel.Services[0].SchedName = "rr" },
			[]string{"ipvs -t 192.168.4.15:80 scheduler"}, "-s wlc", "ipvs"},
		{"marks not loaded", "dr-fwmark", "srv01", func(g *simGuest) { clear(g.marks) },
			[]string{"marks -f 1"}, "IPVS's service -f 1 balances nothing", "step 8, firewall marks"},
		{"marks not at boot", "dr-fwmark", "srv01", func(g *simGuest) { g.enabled[catalog.MarksUnit] = "disabled" },
			[]string{"marks at boot"}, "after a reboot the -f services get no packet", "step 9, marks at boot"},
		{"udp responder stopped", "dr-fwmark", "srv04", func(g *simGuest) { g.active["lvslab-udp-53.service"] = "inactive" },
			[]string{"udp 53 responder"}, "gets no reply", "udp 53"},
		{"director without its VIP", "tedu-dr", "lvs1", func(g *simGuest) {
			g.addrs = g.addrs[:len(g.addrs)-1]
		}, []string{"vip eth0:0"}, "nobody answers ARP", "address eth0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lab := rolestest.Lab(t, c.lab)
			g := configured(rolestest.State(t, lab, c.node), catalog.Debian)
			c.break_(g)
			f := failed(checkNode(t, lab, c.node, g))
			if len(f) != len(c.fails) {
				t.Errorf("failed %d facts, want %v: %v", len(f), c.fails, f)
			}
			for _, name := range c.fails {
				fact, ok := f[name]
				if !ok {
					t.Errorf("%q passes", name)
					continue
				}
				if !strings.HasPrefix(fact.Fix, "lvslab plan "+c.lab+" --node "+c.node+" --os debian (step ") || fact.Hint == "" {
					t.Errorf("%q: hint %q fix %q", name, fact.Hint, fact.Fix)
				}
			}
			if fact := f[c.fails[0]]; !strings.Contains(fact.Hint, c.hint) || !strings.Contains(fact.Fix, c.fix) {
				t.Errorf("%q: hint %q, want %q in it; fix %q, want %q in it", c.fails[0], fact.Hint, c.hint, fact.Fix, c.fix)
			}
		})
	}
}

// What a student typed but did not save is gone after a reboot: check
// passes before it and names each lost fact after it.
func TestRulesLostAtReboot(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-nat")
	g := configured(rolestest.State(t, lab, "lvs1"), catalog.Debian)
	delete(g.files, catalog.DebianRulesFile)
	g.enabled[catalog.IPVSUnit] = "missing"
	g.files[catalog.SysctlFile] = ""
	before := failed(checkNode(t, lab, "lvs1", g))
	for _, name := range []string{"ipvs -t 192.168.4.5:80 scheduler", "sysctl net.ipv4.ip_forward"} {
		if _, ok := before[name]; ok {
			t.Errorf("before the reboot %q fails", name)
		}
	}
	g.reboot()
	after := failed(checkNode(t, lab, "lvs1", g))
	for _, name := range []string{"ipvs -t 192.168.4.5:80", "sysctl net.ipv4.ip_forward", "ipvs rules saved", "ipvs rules at boot", "sysctl at boot"} {
		if _, ok := after[name]; !ok {
			t.Errorf("after the reboot %q passes: %v", name, after)
		}
	}
	// saved properly, the same reboot loses nothing
	g = configured(rolestest.State(t, lab, "lvs1"), catalog.Debian)
	g.reboot()
	if f := failed(checkNode(t, lab, "lvs1", g)); len(f) > 0 {
		t.Errorf("a saved lab after a reboot: %v", f)
	}
}

// Another stage's lab file against the same VMs checks that stage: the
// NAT lab's VMs fail the DR stage where DR differs.
func TestOtherStage(t *testing.T) {
	nat, dr := rolestest.Lab(t, "tedu-nat"), rolestest.Lab(t, "tedu-dr")
	f := failed(checkNode(t, dr, "web1", configured(rolestest.State(t, nat, "web1"), catalog.Debian)))
	for _, name := range []string{"address eth0", "down eth1", "gateway", "vip lo:0", "sysctl net.ipv4.conf.all.arp_ignore"} {
		if _, ok := f[name]; !ok {
			t.Errorf("tedu-dr on a NAT web1: %q passes", name)
		}
	}
}

// Real tools' output, as seen on a Debian 12 guest, parses into facts.
func TestParseRealOutput(t *testing.T) {
	gp := probe{sysctls: []string{"net.ipv4.ip_forward"}, ports: []uint16{80, 8080}, units: []string{"apache2.service", "nosuch.service"}, pages: []string{catalog.IndexFile}, ipvs: true, rules: []string{catalog.DebianRulesFile}}.build()
	mark := gp.Marker() + " "
	z := func(p string, lines ...string) string {
		var b strings.Builder
		for _, l := range lines {
			b.WriteString(p + "\x00" + l + "\n")
		}
		return b.String()
	}
	out := "\n" + mark + secFiles + "\n" +
		z("/etc/os-release", `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"`, `NAME="Debian GNU/Linux"`, "ID=debian") +
		z("/proc/sys/kernel/hostname", "web1") +
		z("/proc/net/route", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
			"eth1\t00000000\t0502A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0", "eth1\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0") +
		z("/sys/class/net/eth0/flags", "0x1002") + z("/sys/class/net/lo/flags", "0x9") + z("/sys/class/net/tunl0/flags", "0x89") +
		z("/proc/sys/net/ipv4/conf/all/arp_ignore", "1") + z("/proc/sys/net/ipv4/vs/sync_threshold", "3\t50") + z("/proc/sys/net/ipv4/conf/default/rp_filter", "10") +
		z("/proc/net/tcp", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
			"   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 14561 1 0000000000000000 100 0 0 10 0",
			"   1: 0F04A8C0:0050 0A04A8C0:EE48 06 00000000:00000000 03:00000B5F 00000000     0        0 0 3 0000000000000000") +
		z("/proc/net/tcp6", "   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 15993 1 0000000000000000 100 0 0 10 0") +
		z(catalog.IndexFile, "192.168.2.100") +
		z("/usr/lib/sysctl.d/50-default.conf", "net.ipv4.conf.all.rp_filter = 2", "net.ipv4.conf.default.rp_filter = 2") +
		z("/etc/sysctl.d/90-lvslab.conf", "net.ipv4.conf.all.rp_filter = 0") +
		z("/etc/sysctl.d/99-sysctl.conf", "#net.ipv4.ip_forward=1", "net.ipv4.ip_forward = 1") +
		z("/etc/sysctl.conf", "#net.ipv4.ip_forward=1", "net.ipv4.ip_forward = 1") +
		z("/etc/sysconfig/network-scripts/ifcfg-lo:0", "DEVICE=lo:0", "IPADDR=192.168.4.15") +
		"\n" + mark + secAddr + "\n" +
		`1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
1: lo    inet 192.168.4.15/32 scope global lo:0\       valid_lft forever preferred_lft forever
3: eth1    inet 192.168.2.100/24 brd 192.168.2.255 scope global eth1\       valid_lft forever preferred_lft forever
` + "\n" + mark + secUnits + "\nId=apache2.service\nActiveState=active\nUnitFileState=enabled\n\nId=nosuch.service\nActiveState=inactive\nUnitFileState=\n" +
		"\n" + mark + secServed + " 80\n192.168.2.100" +
		"\n" + mark + secServed + " 8080\n\n" + mark + secServed + " 8080 failed\n" +
		"\n" + mark + secIPVS + "\n-A -t 192.168.4.5:80 -s rr\n-a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1\n" +
		"\n" + mark + guest.EndSection + "\n"
	o, err := parse(gp, out)
	if err != nil {
		t.Fatal(err)
	}
	rolestest.Eq(t, "hostname", o.Hostname, "web1")
	if os, err := catalog.OSFamily(o.OSRelease); os != catalog.Debian {
		t.Errorf("os %q %v", os, err)
	}
	rolestest.Eq(t, "addrs", o.Addrs, []Addr{
		{"lo", "lo", netip.MustParsePrefix("127.0.0.1/8")},
		{"lo", "lo:0", netip.MustParsePrefix("192.168.4.15/32")},
		{"eth1", "eth1", netip.MustParsePrefix("192.168.2.100/24")},
	})
	rolestest.Eq(t, "up", o.Up, map[string]bool{"lo": true, "eth0": false, "tunl0": true})
	rolestest.Eq(t, "routes", o.Routes, []Route{{netip.MustParseAddr("192.168.2.5"), "eth1"}})
	// Values are read whole: "10", not dash's first byte.
	rolestest.Eq(t, "sysctl", o.Sysctl, map[string]string{"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.vs.sync_threshold": "3\t50", "net.ipv4.conf.default.rp_filter": "10"})
	rolestest.Eq(t, "persistent", o.Persistent, map[string]string{"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.default.rp_filter": "2", "net.ipv4.ip_forward": "1"})
	rolestest.Eq(t, "persistent from", o.PersistentFrom["net.ipv4.ip_forward"], "/etc/sysctl.d/99-sysctl.conf")
	rolestest.Eq(t, "listening", o.Listening, map[uint16]bool{80: true, 22: true})
	// systemctl answers "apache2" as apache2.service: both names find it
	rolestest.Eq(t, "active", o.Active, map[string]string{"apache2": "active", "apache2.service": "active", "nosuch": "inactive", "nosuch.service": "inactive"})
	rolestest.Eq(t, "enabled", o.Enabled, map[string]string{"apache2": "enabled", "apache2.service": "enabled", "nosuch": "missing", "nosuch.service": "missing"})
	if o.Served[80] == nil || strings.TrimSpace(*o.Served[80]) != "192.168.2.100" || o.Served[8080] != nil {
		t.Errorf("served %v", o.Served)
	}
	if o.Files[catalog.IndexFile] != "192.168.2.100\n" || o.Files["/etc/sysconfig/network-scripts/ifcfg-lo:0"] != "DEVICE=lo:0\nIPADDR=192.168.4.15\n" || len(o.IPVS) != 1 || len(o.IPVS[0].Destinations) != 1 {
		t.Errorf("files %q ipvs %v", o.Files, o.IPVS)
	}
	if _, err := parse(gp, out[:len(out)-20]); err == nil {
		t.Error("a cut answer parses")
	}
}

// The report: exit codes, text with hints, JUnit with a testcase per fact.
func TestReport(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-nat")
	guests := map[string]*simGuest{}
	for _, st := range roles.Desired(lab) {
		guests[st.Name] = configured(st, catalog.Debian)
	}
	dial := func(node string) (guest.Executor, error) {
		if g := guests[node]; g != nil {
			return g, nil
		}
		return nil, errors.New("no route to host")
	}
	ctx := context.Background()
	rep, err := Run(ctx, lab, dial, Options{Nodes: []string{"web1", "lvs1"}})
	if err != nil || ExitCode(rep) != report.ExitPass || !rep.Pass || len(rep.Nodes) != 2 || rep.VerifySkipped == "" {
		t.Fatalf("err %v exit %d report %+v", err, ExitCode(rep), rep)
	}
	guests["web1"].routes = nil
	delete(guests, "lvs1")
	rep, _ = Run(ctx, lab, dial, Options{Nodes: []string{"web1", "lvs1"}})
	if ExitCode(rep) != report.ExitFail {
		t.Errorf("a failed fact: exit %d", ExitCode(rep))
	}
	var b strings.Builder
	if err := WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FAIL gateway: no default route (want 192.168.2.5 dev eth1)", "why: the default route is no default route, not the DIP",
		"fix: lvslab plan tedu-nat --node web1 --os debian (step ", "lvs1 (director)\n  could not read it: no route to host", "FAIL: ", "(web1: gateway)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	x, err := JUnit(rep, "lvslab check")
	if err != nil || !strings.Contains(string(x), `failures="2"`) || !strings.Contains(string(x), `name="gateway"`) {
		t.Errorf("junit %v:\n%s", err, x)
	}
	guests["web1"].routes = []Route{{netip.MustParseAddr("192.168.2.5"), "eth1"}}
	rep, _ = Run(ctx, lab, dial, Options{Nodes: []string{"web1", "lvs1"}})
	if ExitCode(rep) != report.ExitCannot {
		t.Errorf("an unreachable node and no failed fact: exit %d", ExitCode(rep))
	}
	if _, err := Run(ctx, lab, dial, Options{Nodes: []string{"web9"}}); !errors.Is(err, verify.ErrCannotRun) {
		t.Errorf("unknown node: %v", err)
	}
}

// The VIP keepalived adds on the VRRP master is keepalived's, not a stray
// address: the master's address facts pass with it (seen failing in
// make e2e-keepalived), and a real stray address still fails.
func TestKeepalivedVIPIsNoStrayAddress(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-keepalived-dr")
	for _, st := range roles.Desired(lab) {
		if st.Name != "lvs1" {
			continue
		}
		if len(st.Floating) == 0 {
			t.Fatal("lvs1 of tedu-keepalived-dr floats no VIP")
		}
		g := configured(st, catalog.Debian)
		g.addrs = append(g.addrs, Addr{Device: "eth0", Label: "eth0", Prefix: st.Floating[0]})
		if f := failed(checkNode(t, lab, st.Name, g)); len(f) > 0 {
			t.Errorf("the master holding its VIP fails %v", f)
		}
		g.addrs = append(g.addrs, Addr{Device: "eth0", Label: "eth0", Prefix: netip.MustParsePrefix("192.168.4.77/24")})
		if f := failed(checkNode(t, lab, st.Name, g)); len(f) != 1 {
			t.Errorf("a stray address beside the VIP: failed %v, want address eth0 alone", f)
		}
	}
}
