package catalog

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology/testkit/shtest"
)

func stepNames(steps []Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

func stepFiles(steps []Step) map[string]File {
	out := map[string]File{}
	for _, s := range steps {
		if s.File != nil {
			out[s.File.Path] = *s.File
		}
	}
	return out
}

func findStep(t *testing.T, steps []Step, name string) Step {
	t.Helper()
	for _, s := range steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q in %v", name, stepNames(steps))
	return Step{}
}

func TestBootstrapFilesEqualStepFiles(t *testing.T) {
	for _, name := range labs.Names() {
		lab := rolestest.Lab(t, name)
		for _, n := range lab.Nodes {
			files := stepFiles(Steps(roles.DesiredFor(lab, n), Debian))
			boot := BootstrapFiles(roles.DesiredFor(lab, n))
			if len(boot) != 1+2*len(n.NICs) {
				t.Errorf("%s/%s: %d bootstrap files", name, n.Name, len(boot))
			}
			for _, b := range boot {
				f, ok := files[b.Path]
				if !ok {
					t.Errorf("%s/%s: Steps never writes bootstrap file %s", name, n.Name, b.Path)
					continue
				}
				if f != b {
					t.Errorf("%s/%s: %s differs:\nbootstrap:\n%s\nsteps:\n%s", name, n.Name, b.Path, b.Content, f.Content)
				}
			}
		}
	}
}

func TestFilesEndWithNewline(t *testing.T) {
	for _, name := range labs.Names() {
		lab := rolestest.Lab(t, name)
		for _, osf := range OSFamilies {
			for _, st := range roles.Desired(lab) {
				for _, f := range stepFiles(Steps(st, osf)) {
					if f.Content != "" && !strings.HasSuffix(f.Content, "\n") {
						t.Errorf("%s/%s %s: content unusable in a heredoc: %q", name, st.Name, f.Path, f.Content)
					}
					if strings.Contains(f.Content, "<no value>") || strings.Contains(f.Content, "invalid IP") {
						t.Errorf("%s/%s %s: template hole: %q", name, st.Name, f.Path, f.Content)
					}
				}
			}
		}
	}
}

func TestDebianSteps(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-dr")
	dir := Steps(rolestest.State(t, lab, "lvs1"), Debian)
	rolestest.Eq(t, "director steps", stepNames(dir), []string{
		"hostname", "systemd-networkd", "name eth0", "name eth1", "packages", "keepalived off", "sysctl",
		"address eth0", "disable eth1", "no stale marks", "ipvs rules file", "ipvs", "ipvs boot unit", "ipvs at boot",
	})
	eth0 := findStep(t, dir, "address eth0")
	for _, want := range []string{"Address=192.168.4.5/24\n", "[Address]\nAddress=192.168.4.15/24\nLabel=eth0:0\n", "DHCP=no\n", "MACAddress=" + lab.Node("lvs1").NICs[0].MAC} {
		if !strings.Contains(eth0.File.Content, want) {
			t.Errorf("eth0 .network lacks %q:\n%s", want, eth0.File.Content)
		}
	}
	if !eth0.Readdress {
		t.Errorf("eth0 step: readdress %v", eth0.Readdress)
	}
	// Exactly its addresses, in any order, whatever else the lines say.
	const (
		vip  = "2: eth0    inet 192.168.4.15/24 scope global secondary eth0:0\\       valid_lft forever preferred_lft forever"
		own  = "2: eth0    inet 192.168.4.5/24 brd 192.168.4.255 scope global eth0\\       valid_lft forever preferred_lft forever"
		dhcp = "2: eth0    inet 192.168.4.77/24 brd 192.168.4.255 scope global dynamic eth0\\       valid_lft 3000sec preferred_lft 3000sec"
	)
	for out, want := range map[string]bool{own + "\n" + vip: true, vip + "\n" + own: true, own: false, vip: false, own + "\n" + vip + "\n" + dhcp: false, "": false} {
		if got := checkWithIP(t, eth0.Check, out); got != want {
			t.Errorf("eth0 check on %q: %v, want %v", out, got, want)
		}
	}
	eth1 := findStep(t, dir, "disable eth1")
	if !strings.Contains(eth1.File.Content, "ActivationPolicy=down\n") || strings.Contains(eth1.File.Content, "\nAddress=") {
		t.Errorf("eth1 .network:\n%s", eth1.File.Content)
	}
	rolestest.Eq(t, "eth1 apply", eth1.Apply, []string{"systemctl restart systemd-networkd", "ip -4 addr flush dev eth1", "ip link set eth1 down"})
	rules := findStep(t, dir, "ipvs rules file")
	rolestest.Eq(t, "rules path", rules.File.Path, "/etc/ipvsadm.rules")
	ipvs := findStep(t, dir, "ipvs")
	rolestest.Eq(t, "ipvs handout", ipvs.Handout, []string{
		"ipvsadm -C",
		"ipvsadm -A -t 192.168.4.15:80 -s wlc",
		"ipvsadm -a -t 192.168.4.15:80 -r 192.168.4.100:80 -g -w 1",
		"ipvsadm -a -t 192.168.4.15:80 -r 192.168.4.200:80 -g -w 2",
		"ipvsadm -Ln",
	})
	unit := findStep(t, dir, "ipvs boot unit")
	if unit.File.Path != "/etc/systemd/system/lvslab-ipvs.service" || !strings.Contains(unit.File.Content, "ipvsadm-restore < /etc/ipvsadm.rules") {
		t.Errorf("unit: %+v", unit.File)
	}
	rolestest.Eq(t, "packages", findStep(t, dir, "packages").Apply, []string{"apt-get update", "DEBIAN_FRONTEND=noninteractive apt-get install -y ipvsadm"})

	web := Steps(rolestest.State(t, lab, "web1"), Debian)
	rolestest.Eq(t, "web steps", stepNames(web), []string{
		"hostname", "systemd-networkd", "name eth0", "name eth1", "packages", "keepalived off", "sysctl",
		"address eth0", "disable eth1", "vip lo", "no stale vip", "nginx off", "apache2 ports", "index.html", "apache2", "no stale udp",
	})
	lo := findStep(t, web, "vip lo")
	rolestest.Eq(t, "lo file", lo.File.Path, "/etc/systemd/network/10-lvslab-lo.network")
	for _, want := range []string{"Name=lo\n", "Address=192.168.4.15/32\nLabel=lo:0\n"} {
		if !strings.Contains(lo.File.Content, want) {
			t.Errorf("lo .network lacks %q:\n%s", want, lo.File.Content)
		}
	}
	sys := findStep(t, web, "sysctl")
	rolestest.Eq(t, "sysctl file", sys.File.Content, "# lvslab: kernel settings of web1 (web); written whole by lvslab\n"+
		"net.ipv4.conf.all.arp_ignore = 1\nnet.ipv4.conf.all.arp_announce = 2\n"+
		"net.ipv4.conf.lo.arp_ignore = 1\nnet.ipv4.conf.lo.arp_announce = 2\n"+
		"net.ipv4.conf.eth0.arp_ignore = 1\nnet.ipv4.conf.eth0.arp_announce = 2\n")
	rolestest.Eq(t, "index", findStep(t, web, "index.html").File, &File{Path: "/var/www/html/index.html", Mode: 0o644, Content: "192.168.2.100\n"})
	rolestest.Eq(t, "apache restart only on change", findStep(t, web, "apache2 ports").Apply, []string{"systemctl restart apache2"})

	tun := Steps(rolestest.State(t, rolestest.Lab(t, "tedu-tun"), "web1"), Debian)
	mods := findStep(t, tun, "kernel modules")
	rolestest.Eq(t, "modules file", mods.File.Content, "# lvslab: kernel modules of web1 loaded at boot\nipip\n")
	tunl := findStep(t, tun, "vip tunl0")
	if !strings.Contains(tunl.File.Content, "Name=tunl0\n") || !strings.Contains(tunl.File.Content, "Address=192.168.4.15/32\n") {
		t.Errorf("tunl0 .network:\n%s", tunl.File.Content)
	}
}

func TestRHELSteps(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-dr")
	dir := Steps(rolestest.State(t, lab, "lvs1"), RHEL)
	rolestest.Eq(t, "director steps", stepNames(dir), []string{
		"hostname", "address eth0", "disable eth1", "firewalld", "selinux",
		"packages", "keepalived off", "sysctl", "vip eth0", "no stale marks", "ipvs rules file", "ipvs", "ipvsadm stop", "ipvs at boot",
	})
	eth0 := findStep(t, dir, "address eth0")
	rolestest.Eq(t, "eth0 apply", eth0.Apply, []string{
		"nmcli connection show eth0 >/dev/null 2>&1 || { lvslab_c=$(nmcli -g GENERAL.CONNECTION device show eth0 2>/dev/null); " +
			`if [ -n "$lvslab_c" ]; then nmcli connection modify "$lvslab_c" connection.id eth0 connection.interface-name eth0; ` +
			"else nmcli connection add type ethernet con-name eth0 ifname eth0; fi; }",
		"nmcli connection modify eth0 connection.autoconnect yes ipv4.method manual ipv4.addresses 192.168.4.5/24 ipv4.gateway '' ipv6.method ignore",
		"nmcli connection up eth0",
	})
	rolestest.Eq(t, "eth0 handout", eth0.Handout[0], "nmcli connection show eth0 >/dev/null 2>&1 || nmcli connection add type ethernet con-name eth0 ifname eth0")
	if eth0.File != nil || !eth0.Readdress {
		t.Errorf("eth0 step: %+v", eth0)
	}
	rolestest.Eq(t, "rules path", findStep(t, dir, "ipvs rules file").File.Path, "/etc/sysconfig/ipvsadm")
	rolestest.Eq(t, "ipvs restore", findStep(t, dir, "ipvs").Apply, []string{"ipvsadm -C", "ipvsadm-restore < /etc/sysconfig/ipvsadm"})
	rolestest.Eq(t, "enable", findStep(t, dir, "ipvs at boot").Apply, []string{"systemctl enable ipvsadm"})
	rolestest.Eq(t, "packages", findStep(t, dir, "packages").Apply, []string{"yum install -y ipvsadm"})
	rolestest.Eq(t, "disable eth1", findStep(t, dir, "disable eth1").Apply[1],
		"nmcli connection modify eth1 connection.autoconnect no ipv4.method disabled ipv4.addresses '' ipv4.gateway '' ipv6.method ignore")

	web := Steps(rolestest.State(t, lab, "web2"), RHEL)
	rolestest.Eq(t, "web steps", stepNames(web), []string{
		"hostname", "address eth0", "disable eth1", "firewalld", "selinux",
		"packages", "keepalived off", "sysctl", "vip lo", "no stale vip", "nginx off", "httpd ports", "index.html", "httpd", "no stale udp",
	})
	vip := findStep(t, web, "vip lo")
	if vip.File.Path != VIPUnitFile || !strings.Contains(vip.File.Content, "ExecStart=/sbin/ip addr replace 192.168.4.15/32 dev lo label lo:0\n") {
		t.Errorf("vip unit:\n%s", vip.File.Content)
	}
	rolestest.Eq(t, "packages", findStep(t, web, "packages").Apply, []string{"yum install -y httpd"})
	rolestest.Eq(t, "httpd", findStep(t, web, "httpd").Apply, []string{"systemctl enable --now httpd"})
	natWeb := Steps(rolestest.State(t, rolestest.Lab(t, "tedu-nat"), "web1"), RHEL)
	if got := findStep(t, natWeb, "address eth1").Apply[1]; !strings.Contains(got, "ipv4.addresses 192.168.2.100/24 ipv4.gateway 192.168.2.5 ") {
		t.Errorf("web1 eth1: %s", got)
	}
}

// A firewall-mark service: the director marks the VIP's ports (nftables on
// Debian, the references' iptables -t mangle on RHEL) now and at boot,
// IPVS holds one -f service, the real servers listen on every marked port.
func TestFWMarkSteps(t *testing.T) {
	lab := rolestest.Lab(t, "dr-fwmark")
	st := rolestest.State(t, lab, "srv01")
	rule := "ip daddr 172.16.42.111 tcp dport { 80, 443 } meta mark set 0x00000001"
	deb := Steps(st, Debian)
	marks := findStep(t, deb, "firewall marks")
	if marks.File.Path != MarksFile || !strings.Contains(marks.File.Content, "\t\t"+rule+"\n") ||
		!strings.Contains(marks.File.Content, "table ip lvslab\ndelete table ip lvslab\n") || !strings.Contains(marks.Check, "'"+rule+"'") || !marks.FirstBoot {
		t.Errorf("debian marks step: %+v", marks)
	}
	boot := findStep(t, deb, "marks at boot")
	if !strings.Contains(boot.File.Content, "ExecStart=/usr/sbin/nft -f "+MarksFile+"\n") || !strings.Contains(boot.File.Content, "ExecStop=/usr/sbin/nft delete table ip lvslab\n") {
		t.Errorf("debian marks unit:\n%s", boot.File.Content)
	}
	if slices.ContainsFunc(deb, func(s Step) bool { return s.Name == "no stale marks" }) {
		t.Error("a lab with marks removes them as stale")
	}
	ipvsStep := findStep(t, deb, "ipvs")
	if !strings.Contains(strings.Join(ipvsStep.Handout, "\n"), "ipvsadm -A -f 1 -s rr\nipvsadm -a -f 1 -r 172.16.42.102:0 -g -w 1") {
		t.Errorf("ipvs handout: %v", ipvsStep.Handout)
	}
	rh := findStep(t, Steps(st, RHEL), "firewall marks")
	for _, want := range []string{"ExecStart=/usr/sbin/iptables -t mangle -A LVSLAB -d 172.16.42.111/32 -p tcp -m multiport --dports 80,443 -j MARK --set-mark 1\n",
		"ExecStart=/usr/sbin/iptables -t mangle -I PREROUTING -j LVSLAB\n", "ExecStartPre=-/usr/sbin/iptables -t mangle -F LVSLAB\n"} {
		if !strings.Contains(rh.File.Content, want) {
			t.Errorf("rhel marks unit lacks %q:\n%s", want, rh.File.Content)
		}
	}
	if !strings.Contains(rh.Check, "iptables -t mangle -C LVSLAB -d 172.16.42.111/32 -p tcp -m multiport --dports 80,443 -j MARK --set-mark 1") {
		t.Errorf("rhel check: %s", rh.Check)
	}
	web := rolestest.State(t, lab, "srv03")
	rolestest.Eq(t, "web ports", web.Web.Ports, []uint16{80, 443})
	if len(web.Marks) != 0 || len(st.Marks) != 1 {
		t.Errorf("marks: director %v, web %v", st.Marks, web.Marks)
	}
}

// A UDP service in DR: each real server runs a socat responder bound to the
// VIP (replies leave from the VIP), answering with the page it serves.
func TestUDPResponderSteps(t *testing.T) {
	lab := rolestest.Lab(t, "dr-fwmark")
	st := rolestest.State(t, lab, "srv03")
	rolestest.Eq(t, "udp", st.Web.UDP, []roles.UDPResponder{{Port: 53, Bind: netip.MustParseAddr("172.16.42.111")}})
	steps := Steps(st, Debian)
	u := findStep(t, steps, "udp 53")
	if want := `ExecStart=/usr/bin/socat UDP4-RECVFROM:53,bind=172.16.42.111,reuseaddr,fork "SYSTEM:cat >/dev/null; exec cat /var/www/html/index.html"` + "\n"; u.File.Path != "/etc/systemd/system/lvslab-udp-53.service" || !strings.Contains(u.File.Content, want) {
		t.Errorf("udp unit %s:\n%s", u.File.Path, u.File.Content)
	}
	if !strings.HasSuffix(u.Check, " && lvslab_listening udp 53") || u.Kind != KindService {
		t.Errorf("udp check %q kind %q", u.Check, u.Kind)
	}
	if !strings.Contains(findStep(t, steps, "packages").Check, "nginx socat") {
		t.Errorf("packages: %s", findStep(t, steps, "packages").Check)
	}
	stale := findStep(t, steps, "no stale udp")
	if !strings.Contains(stale.Check, `" /etc/systemd/system/lvslab-udp-53.service "`) || !strings.HasSuffix(stale.Check, `[ "$lvslab_n" = 1 ]`) {
		t.Errorf("stale udp check: %s", stale.Check)
	}
}

// A NIC with the gateway: its addresses and the default route through it,
// read by one ip (a batch: the route first).
func TestGatewayNICCheckInTheShell(t *testing.T) {
	steps := Steps(rolestest.State(t, rolestest.Lab(t, "tedu-nat"), "web1"), Debian)
	check := findStep(t, steps, "address eth1").Check
	const (
		route = "default proto static "
		addr  = "3: eth1    inet 192.168.2.100/24 brd 192.168.2.255 scope global eth1\\       valid_lft forever preferred_lft forever"
	)
	for out, want := range map[string]bool{route + "\n" + addr: true, addr: false, route: false} {
		if got := checkWithIP(t, check, out); got != want {
			t.Errorf("eth1 check on %q: %v, want %v", out, got, want)
		}
	}
	if !strings.Contains(check, "'route show default via 192.168.2.5 dev eth1' 'addr show dev eth1' | ip -4 -o -b -") {
		t.Errorf("eth1 check does not batch its ip reads: %s", check)
	}
}

// checkWithIP runs a check in sh with an ip that prints out (and reads
// its standard input, as ip -batch does): whether it passes.
func checkWithIP(t *testing.T, check, out string) bool {
	t.Helper()
	stub := `[ "$*" = "-4 -o -b -" ] && cat >/dev/null` + "\n"
	if out != "" {
		stub += "printf '%s\\n' '" + strings.ReplaceAll(out, "\n", "' '") + "'\n"
	}
	return checkWith(t, check, map[string]string{"ip": stub})
}

// checkWith runs a check in sh with the commands stubs gives (name ->
// script): whether it passes.
func checkWith(t *testing.T, check string, stubs map[string]string) bool {
	t.Helper()
	return shtest.Succeeds(t, check, "PATH="+shtest.Stubs(t, stubs)+":/usr/bin:/bin")
}

// The kernel settings: one sysctl, the resets compared with the
// distribution's rp_filter that it reads first.
func TestSysctlCheckInTheShell(t *testing.T) {
	check := findStep(t, Steps(rolestest.State(t, rolestest.Lab(t, "tedu-nat"), "client1"), Debian), "sysctl").Check
	sysctl := func(values string) map[string]string {
		return map[string]string{"sysctl": `[ "$1" = -n ] || exit 2; shift; for k; do case $k in ` + values + ` *rp_filter) echo 2 ;; *send_redirects) echo 1 ;; *) echo 0 ;; esac; done` + "\n"}
	}
	for values, want := range map[string]bool{
		"": true,
		"net.ipv4.conf.default.rp_filter) echo 1 ;;": false,
		"net.ipv4.conf.eth0.rp_filter) echo 0 ;;":    false,
		"net.ipv4.ip_forward) echo 1 ;;":             false,
		"net.ipv4.conf.eth1.arp_ignore) echo 10 ;;":  false,
	} {
		if got := checkWith(t, check, sysctl(values)); got != want {
			t.Errorf("sysctl check with %q: %v, want %v", values, got, want)
		}
	}
	if n := strings.Count(check, "sysctl -n"); n != 1 {
		t.Errorf("the sysctl check runs sysctl %d times: %s", n, check)
	}
}

// A real server must ignore ARP for the VIP before the VIP is on its lo or
// tunl0, else the client may cache the real server's MAC: on every family.
func TestKernelSettingsBeforeVIPOnEveryFamily(t *testing.T) {
	for _, name := range labs.Names() {
		lab := rolestest.Lab(t, name)
		for _, osf := range OSFamilies {
			for _, st := range roles.Desired(lab) {
				steps := Steps(st, osf)
				sysctl := -1
				for i, s := range steps {
					if s.Name == "sysctl" {
						sysctl = i
					}
					if strings.HasPrefix(s.Name, "vip ") && (sysctl < 0 || sysctl > i) {
						t.Errorf("%s/%s on %s: step %d %q comes before the kernel settings", name, st.Name, osf, i+1, s.Name)
					}
				}
			}
		}
	}
}

// The references check the director's VIP with "ifconfig eth0:0": on RHEL
// the VIP must carry that label, which nmcli cannot give.
func TestRHELDirectorVIPCarriesItsLabel(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-dr")
	st := rolestest.State(t, lab, "lvs1")
	steps := Steps(st, RHEL)
	var labelled bool
	for _, s := range steps {
		for _, c := range s.Apply {
			if strings.Contains(c, "nmcli") && strings.Contains(c, "192.168.4.15") {
				t.Errorf("step %q gives the VIP through nmcli, without its label: %s", s.Name, c)
			}
		}
		if s.File != nil && strings.Contains(s.File.Content, "ip addr replace 192.168.4.15/24 dev eth0 label eth0:0") {
			labelled = true
			if !strings.Contains(s.Check, "label eth0:0") {
				t.Errorf("step %q does not check the label: %s", s.Name, s.Check)
			}
		}
	}
	if !labelled {
		t.Errorf("no step puts 192.168.4.15/24 on eth0 as eth0:0: %v", stepNames(steps))
	}
}

// What the classroom relaxes must stay relaxed after a reboot, and a drill's
// ipvsadm -d must not be saved into the rules by ipvsadm.service's stop.
func TestRHELRelaxationsSurviveReboot(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-nat")
	steps := Steps(rolestest.State(t, lab, "lvs1"), RHEL)
	fw := findStep(t, steps, "firewalld")
	if !strings.Contains(fw.Check, "is-enabled") {
		t.Errorf("firewalld check accepts an enabled firewalld: %s", fw.Check)
	}
	se := findStep(t, steps, "selinux")
	if !strings.Contains(se.Check, "/etc/selinux/config") {
		t.Errorf("selinux check ignores the boot-time setting: %s", se.Check)
	}
	var dropIn bool
	for _, s := range steps {
		if s.File != nil && strings.HasPrefix(s.File.Path, "/etc/systemd/system/ipvsadm.service.d/") {
			dropIn = strings.Contains(s.File.Content, "ExecStop=\n") && !strings.Contains(s.File.Content, "ipvsadm-save")
		}
	}
	if !dropIn {
		t.Errorf("nothing keeps ipvsadm.service from saving the table on stop: %v", stepNames(steps))
	}
}

// dr-nginx's real servers run nginx (reference 003): its package, its own
// ports file, the page where the family's default server serves port 80,
// and apache off first (both may be installed; only one holds port 80).
func TestNginxRealServers(t *testing.T) {
	lab := rolestest.Lab(t, "dr-nginx")
	for _, osf := range OSFamilies {
		steps := Steps(rolestest.State(t, lab, "srv03"), osf)
		apache, root := "apache2", "/var/www/html"
		if osf == RHEL {
			apache, root = "httpd", "/usr/share/nginx/html"
		}
		names := stepNames(steps)
		off, ports, svc := slices.Index(names, apache+" off"), slices.Index(names, "nginx ports"), slices.Index(names, "nginx")
		if off < 0 || ports < off || svc < ports {
			t.Errorf("%s: want %s off, nginx ports, nginx in order: %v", osf, apache, names)
			continue
		}
		if f := steps[ports].File; f.Path != NginxConfFile || steps[ports].Apply[0] != "systemctl restart nginx" {
			t.Errorf("%s: nginx ports step: %+v", osf, steps[ports])
		}
		if p := findStep(t, steps, "index.html").File.Path; p != root+"/index.html" {
			t.Errorf("%s: page at %s, want under %s", osf, p, root)
		}
		if !strings.Contains(strings.Join(findStep(t, steps, "packages").Apply, " "), " nginx") {
			t.Errorf("%s: packages: %v", osf, findStep(t, steps, "packages").Apply)
		}
	}
}
