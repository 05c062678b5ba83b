package check

import (
	"cmp"
	"fmt"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/rolestest"
)

// noVIPAtBoot removes what lvslab's steps wrote to bring the VIP back at
// boot (its unit on RHEL, its networkd files on Debian): the student's own
// form alone must then pass.
func noVIPAtBoot(g *simGuest) {
	delete(g.files, catalog.VIPUnitFile)
	delete(g.enabled, catalog.VIPUnit)
	for p, c := range g.files {
		if strings.HasPrefix(p, "/etc/systemd/network/") && strings.Contains(c, "192.168.4.15") {
			delete(g.files, p)
		}
	}
}

// stack makes units the only network stack enabled and running.
func stack(g *simGuest, units ...string) {
	for _, u := range stackUnits {
		g.enabled[u], g.active[u] = "disabled", "inactive"
	}
	for _, u := range units {
		g.enabled[u], g.active[u] = "enabled", "active"
	}
}

// noSysctlFiles removes lvslab's sysctl file.
func noSysctlFiles(g *simGuest) { delete(g.files, catalog.SysctlFile) }

const forwarding = "net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.send_redirects = 0\nnet.ipv4.conf.default.send_redirects = 0\nnet.ipv4.conf.eth0.send_redirects = 0\nnet.ipv4.conf.eth1.send_redirects = 0\n"

// The files the forms below write most.
const (
	ifcfgLo0   = "/etc/sysconfig/network-scripts/ifcfg-lo:0"
	nmEth0     = "/etc/NetworkManager/system-connections/eth0.nmconnection"
	vipUnit    = "/etc/systemd/system/vip.service"
	interfaces = "/etc/network/interfaces"
	sysctlConf = "/etc/sysctl.conf"
)

// change is what a case does to a configured guest.
type change = func(g *simGuest)

// write writes files: path, content, path, content...
func write(pairs ...string) change {
	return func(g *simGuest) {
		for i := 0; i+1 < len(pairs); i += 2 {
			g.files[pairs[i]] = pairs[i+1]
		}
	}
}

// and is the changes one after the other.
func and(changes ...change) change {
	return func(g *simGuest) {
		for _, c := range changes {
			c(g)
		}
	}
}

// stacked makes units the only network stack enabled and running.
func stacked(units ...string) change { return func(g *simGuest) { stack(g, units...) } }

// enabled enables a unit.
func enabled(unit string) change { return func(g *simGuest) { g.enabled[unit] = "enabled" } }

// noIPVSUnit removes lvslab's unit that restores the rules at boot.
func noIPVSUnit(g *simGuest) {
	delete(g.files, catalog.IPVSUnitFile)
	g.enabled[catalog.IPVSUnit] = "missing"
}

// rulesMoved moves RHEL's saved rules to path.
func rulesMoved(path string) change {
	return func(g *simGuest) {
		g.files[path] = g.files[catalog.RHELRulesFile]
		delete(g.files, catalog.RHELRulesFile)
	}
}

// A form of what comes back at boot: its change to a configured node,
// whether the fact then passes, and what its hint says when it fails.
type bootForm struct {
	name, node, os string
	change         change
	pass           bool
	hint           string // in the FAIL's hint
}

// The forms of one fact, on one lab, each after prep.
type bootForms struct {
	lab  string
	prep change
	fact func(node string) string
	// factNot is a fact that may fail along with fact (the rules at boot
	// and the rules saved go together)
	factNot string
	forms   []bootForm
}

// Every correct form of what comes back at boot passes, without any of
// lvslab's file names; each wrong one fails, its hint naming the file or
// unit that would make it so in the node's own form. Each case fails
// without the support of its form.
func TestBootForms(t *testing.T) {
	vip := func(node string) string {
		return map[string]string{"web1": "vip lo:0 at boot", "lvs1": "vip eth0:0 at boot"}[node]
	}
	fact := func(name string) func(string) string { return func(string) string { return name } }
	all := []bootForms{{lab: "tedu-dr", prep: noVIPAtBoot, fact: vip, forms: []bootForm{
		{"ifcfg-lo:0", "web1", catalog.RHEL, write(ifcfgLo0, "DEVICE=lo:0\nIPADDR=192.168.4.15\nNETMASK=255.255.255.255\nONBOOT=yes\nNAME=loopback\n"), true, ""},
		{"ifcfg-lo:0 with the legacy network service", "web1", catalog.RHEL, and(stacked(unitNetwork), write(ifcfgLo0, "DEVICE=lo:0\nIPADDR=192.168.4.15\nNETMASK=255.255.255.255\n")), true, ""},
		{"ifcfg-lo:0 ONBOOT=no", "web1", catalog.RHEL, write(ifcfgLo0, "DEVICE=lo:0\nIPADDR=192.168.4.15\nNETMASK=255.255.255.255\nONBOOT=no\n"),
			false, "write /etc/sysconfig/network-scripts/ifcfg-lo:0 (DEVICE=lo:0, IPADDR=192.168.4.15, NETMASK=255.255.255.255, ONBOOT=yes) and bring it up with ifup lo:0"},
		{"ifcfg-lo:0 with a /24", "web1", catalog.RHEL, write(ifcfgLo0, "DEVICE=lo:0\nIPADDR=192.168.4.15\nNETMASK=255.255.255.0\n"),
			false, "comes back as 192.168.4.15/24 on lo from /etc/sysconfig/network-scripts/ifcfg-lo:0"},
		{"ifcfg-eth0:0", "lvs1", catalog.RHEL, write("/etc/sysconfig/network-scripts/ifcfg-eth0:0", "TYPE=Ethernet\nBOOTPROTO=none\nNAME=eth0:0\nDEVICE=eth0:0\nONBOOT=yes\nIPADDR=192.168.4.15\nPREFIX=24\n"), true, ""},
		{"nmcli: the connection's keyfile", "lvs1", catalog.RHEL, write(nmEth0, "[connection]\nid=eth0\nuuid=5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03\ntype=ethernet\ninterface-name=eth0\n\n[ipv4]\naddress1=192.168.4.5/24,192.168.4.254\naddress2=192.168.4.15/24\nmethod=manual\n"), true, ""},
		{"nmcli: an ifcfg connection", "lvs1", catalog.RHEL, write("/etc/sysconfig/network-scripts/ifcfg-eth0", "TYPE=Ethernet\nBOOTPROTO=none\nNAME=eth0\nDEVICE=eth0\nONBOOT=yes\nIPADDR=192.168.4.5\nPREFIX=24\nIPADDR1=192.168.4.15\nPREFIX1=24\n"), true, ""},
		{"nmcli keyfile, NetworkManager off", "lvs1", catalog.RHEL, and(stacked(), write(nmEth0, "[connection]\nid=eth0\ninterface-name=eth0\n\n[ipv4]\naddress1=192.168.4.15/24\n")),
			false, "ifcfg-eth0:0 (DEVICE=eth0:0, IPADDR=192.168.4.15, NETMASK=255.255.255.0"},
		{"no VIP file on NetworkManager", "lvs1", catalog.Debian, stacked(unitNM), false, "nmcli connection modify eth0 +ipv4.addresses 192.168.4.15/24"},
		{"ip addr in an enabled unit", "web1", catalog.Debian, and(enabled("vip.service"), write(vipUnit, "[Unit]\nDescription=VIP\n[Service]\nType=oneshot\nExecStart=/usr/sbin/ip addr add 192.168.4.15/32 dev lo label lo:0\nRemainAfterExit=yes\n[Install]\nWantedBy=multi-user.target\n")), true, ""},
		{"ifconfig in an enabled unit", "web1", catalog.Debian, and(enabled("vip.service"), write(vipUnit, "[Service]\nType=oneshot\nExecStart=/bin/sh -c '/sbin/ifconfig lo:0 192.168.4.15 netmask 255.255.255.255 up'\n")), true, ""},
		{"ip addr in a unit not enabled", "web1", catalog.Debian, write(vipUnit, "[Service]\nType=oneshot\nExecStart=/usr/sbin/ip addr add 192.168.4.15/32 dev lo label lo:0\n"),
			false, "to a .network file of /etc/systemd/network whose [Match] is Name=lo"},
		{"systemd-networkd", "web1", catalog.Debian, write("/etc/systemd/network/lo.network", "[Match]\nName=lo\n\n[Network]\nAddress=192.168.4.15/32\n"), true, ""},
		{"netplan", "web1", catalog.Debian, write("/etc/netplan/60-vip.yaml", "network:\n  version: 2\n  ethernets:\n    lo:\n      match:\n        name: lo\n      addresses:\n        - 127.0.0.1/8\n        - \"192.168.4.15/32\"\n"), true, ""},
		{"netplan, brackets", "lvs1", catalog.Debian, write("/etc/netplan/01-lab.yaml", "network:\n  ethernets:\n    eth1:\n      dhcp4: false\n    eth0:\n      addresses: [192.168.4.5/24, 192.168.4.15/24]\n"), true, ""},
		{"no VIP file on netplan", "web1", catalog.Debian, write("/etc/netplan/01-lab.yaml", "network:\n  ethernets:\n    eth0:\n      addresses: [192.168.4.100/24]\n"),
			false, "list 192.168.4.15/32 under addresses: of lo in a file of /etc/netplan"},
		{"ifupdown stanza", "web1", catalog.Debian, and(stacked(unitIfupdown), write(interfaces, "source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n",
			"/etc/network/interfaces.d/lo0", "auto lo:0\niface lo:0 inet static\n    address 192.168.4.15\n    netmask 255.255.255.255\n")), true, ""},
		{"ifupdown up line", "web1", catalog.Debian, and(stacked(unitIfupdown), write(interfaces, "auto lo\niface lo inet loopback\n    up ip addr add 192.168.4.15/32 dev lo label lo:0\n")), true, ""},
		{"ifupdown stanza without auto", "web1", catalog.Debian, and(stacked(unitIfupdown), write(interfaces, "iface lo:0 inet static\n    address 192.168.4.15/32\n")),
			false, "add to /etc/network/interfaces: \"auto lo:0\", \"iface lo:0 inet static\", \"address 192.168.4.15/32\""},
		{"a networkd file while ifupdown runs the network", "web1", catalog.Debian, and(stacked(unitIfupdown), write("/etc/systemd/network/lo.network", "[Match]\nName=lo\n[Address]\nAddress=192.168.4.15/32\n")),
			false, "/etc/network/interfaces"},
	}}, {lab: "tedu-nat", prep: noSysctlFiles, fact: fact("sysctl at boot"), forms: []bootForm{
		{"/etc/sysctl.conf", "lvs1", catalog.Debian, write(sysctlConf, "# /etc/sysctl.conf - Configuration file for setting system variables\n#net.ipv4.ip_forward=1\n"+forwarding), true, ""},
		{"/etc/sysctl.conf through its link", "lvs1", catalog.RHEL, write(sysctlConf, forwarding, "/etc/sysctl.d/99-sysctl.conf", forwarding), true, ""},
		{"sysctl.d, slashes", "lvs1", catalog.RHEL, write("/etc/sysctl.d/50-lvs.conf", strings.ReplaceAll(strings.ReplaceAll(forwarding, ".", "/"), "net/ipv4/ip_forward", "net.ipv4.ip_forward")), true, ""},
		{"a later file undoes /etc/sysctl.conf", "lvs1", catalog.Debian, write(sysctlConf, forwarding, "/etc/sysctl.d/99-zz-local.conf", "net.ipv4.ip_forward=0\n"),
			false, "/etc/sysctl.d/99-zz-local.conf sets net.ipv4.ip_forward = 0 and wins at boot"},
		{"sysctl -w only", "lvs1", catalog.RHEL, write(), false, "append them to /etc/sysctl.conf (net.ipv4.ip_forward = 1"},
	}}, {lab: "tedu-nat", prep: write(), fact: fact("sysctl at boot"), forms: []bootForm{
		{"/etc/sysctl.d hides /usr/lib/sysctl.d", "lvs1", catalog.Debian, write("/usr/lib/sysctl.d/95-vendor.conf", "net.ipv4.ip_forward = 0\n", "/etc/sysctl.d/95-vendor.conf", "# emptied by the student\n"), true, ""},
	}}, {lab: "tedu-nat", prep: write(), fact: fact("ipvs rules at boot"), factNot: "ipvs rules saved", forms: []bootForm{
		{"RHEL's ipvsadm service", "lvs1", catalog.RHEL, write(), true, ""},
		{"RHEL's ipvsadm service disabled", "lvs1", catalog.RHEL, func(g *simGuest) { g.enabled["ipvsadm.service"] = "disabled" },
			false, "systemctl enable ipvsadm (at boot it loads /etc/sysconfig/ipvsadm)"},
		{"Debian's ipvsadm init, AUTO=\"true\"", "lvs1", catalog.Debian, and(noIPVSUnit, write(debianIPVSConf, "# ipvsadm\n\n# if you want to start ipvsadm on boot set this to true\nAUTO=\"true\"\n\n# daemon method (none|master|backup)\nDAEMON=\"none\"\n",
			"/etc/rc2.d/S01ipvsadm", "#! /bin/sh\n### BEGIN INIT INFO\n# Provides:          ipvsadm\n")), true, ""},
		{"Debian's ipvsadm init, AUTO=\"false\"", "lvs1", catalog.Debian, and(noIPVSUnit, write(debianIPVSConf, "AUTO=\"false\"\nDAEMON=\"none\"\n", "/etc/rc2.d/S01ipvsadm", "#! /bin/sh\n")),
			false, "set AUTO=\"true\" in /etc/default/ipvsadm"},
		{"a unit of the student's", "lvs1", catalog.Debian, and(noIPVSUnit, enabled("ipvs-restore.service"), write("/etc/systemd/system/ipvs-restore.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c \"/usr/sbin/ipvsadm-restore < /etc/ipvsadm.rules\"\n[Install]\nWantedBy=multi-user.target\n")), true, ""},
		{"nothing loads them on Debian", "lvs1", catalog.Debian, noIPVSUnit, false, "enable a unit whose ExecStart=/bin/sh -c 'ipvsadm-restore < /etc/ipvsadm.rules'"},
	}}, {lab: "tedu-nat", prep: write(), fact: fact("ipvs rules saved"), forms: []bootForm{
		{"saved where RHEL's service does not look", "lvs1", catalog.RHEL, rulesMoved("/etc/ipvsadm.rules"), false, "ipvsadm-save -n > /etc/sysconfig/ipvsadm"},
		{"a unit of the student's, rules in a file of their own", "lvs1", catalog.RHEL, and(rulesMoved("/root/lvs.rules"), func(g *simGuest) { g.enabled["ipvsadm.service"] = "disabled" }, enabled("lvs.service"),
			write("/etc/systemd/system/lvs.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'ipvsadm -C; ipvsadm-restore <\"/root/lvs.rules\"'\n[Install]\nWantedBy=multi-user.target\n")), true, ""},
	}}}
	for _, section := range all {
		for _, c := range section.forms {
			t.Run(c.name, func(t *testing.T) {
				checkBootForm(t, section, c)
			})
		}
	}
}

// checkBootForm runs one form: its fact passes or fails as it should, with
// its hint, and the rest of the node passes (only this form changed).
func checkBootForm(t *testing.T, section bootForms, c bootForm) {
	t.Helper()
	lab := rolestest.Lab(t, section.lab)
	g := configured(rolestest.State(t, lab, c.node), c.os)
	section.prep(g)
	c.change(g)
	nr := checkNode(t, lab, c.node, g)
	name := section.fact(c.node)
	var fact *Fact
	for i := range nr.Facts {
		if nr.Facts[i].Name == name {
			fact = &nr.Facts[i]
		}
	}
	if fact == nil {
		t.Fatalf("no fact %q in %v", name, nr.Facts)
	}
	if pass := fact.Status == report.Pass; pass != c.pass {
		t.Fatalf("%s: %s, got %q (want %q): %s", name, fact.Status, fact.Got, fact.Want, fact.Hint)
	}
	if !c.pass && !strings.Contains(fact.Hint, c.hint) {
		t.Errorf("hint %q\nwant %q in it", fact.Hint, c.hint)
	}
	for other, f := range failed(nr) {
		if other != name && other != section.factNot {
			t.Errorf("%s fails too: %s", other, f.Hint)
		}
	}
	// and no pass leans on lvslab's own file names
	if c.pass && strings.Contains(fact.Got, "lvslab") {
		t.Errorf("passes on lvslab's own file: %s", fact.Got)
	}
}

// A copy done entirely in the references' forms, with none of lvslab's
// files or units, passes every fact of every node: on RHEL ifcfg-lo:0 /
// ifcfg-eth0:0 with NETMASK=255.255.255.255, /etc/sysctl.conf, ipvsadm-save
// into /etc/sysconfig/ipvsadm and ipvsadm.service enabled; on Debian a
// .network file of the student's, /etc/sysctl.conf, /etc/ipvsadm.rules
// with Debian's init and AUTO="true".
func TestReferenceFormsPass(t *testing.T) {
	for _, labName := range []string{"tedu-nat", "tedu-dr"} {
		lab := rolestest.Lab(t, labName)
		for _, osFamily := range catalog.OSFamilies {
			for _, st := range roles.Desired(lab) {
				g := configured(st, osFamily)
				sysctls := ""
				for p, c := range g.files {
					if strings.Contains(p, "lvslab") {
						if p == catalog.SysctlFile {
							sysctls = c
						}
						delete(g.files, p)
					}
				}
				for u := range g.enabled {
					if strings.Contains(u, "lvslab") {
						delete(g.enabled, u)
					}
				}
				if sysctls != "" {
					g.files["/etc/sysctl.conf"] = "# appended by the student\n" + sysctls
				}
				for i, a := range st.Aliases {
					label := cmp.Or(a.Label, a.Device)
					if osFamily == catalog.RHEL {
						g.files["/etc/sysconfig/network-scripts/ifcfg-"+label] = fmt.Sprintf("DEVICE=%s\nIPADDR=%s\nNETMASK=%s\nONBOOT=yes\n", label, a.Address.Addr(), net4Mask(a.Address.Bits()))
					} else {
						g.files[fmt.Sprintf("/etc/systemd/network/50-vip%d.network", i)] = fmt.Sprintf("[Match]\nName=%s\n\n[Address]\nAddress=%s\nLabel=%s\n", a.Device, a.Address, label)
					}
				}
				if st.IPVS != nil && osFamily == catalog.Debian {
					g.files[debianIPVSConf] = "AUTO=\"true\"\nDAEMON=\"none\"\n"
					g.files["/etc/rc2.d/S01ipvsadm"] = "#! /bin/sh\n"
				}
				nr := checkNode(t, lab, st.Name, g)
				if f := failed(nr); len(f) > 0 {
					t.Errorf("%s %s %s: %v", labName, osFamily, st.Name, f)
				}
				for _, f := range nr.Facts {
					if strings.Contains(f.Got, "lvslab") {
						t.Errorf("%s %s %s: %s passes on %q", labName, osFamily, st.Name, f.Name, f.Got)
					}
				}
			}
		}
	}
}
