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

// Every correct form of what comes back at boot passes, without any of
// lvslab's file names; each wrong one fails, its hint naming the file or
// unit that would make it so in the node's own form. Each case fails
// without the support of its form.
func TestBootForms(t *testing.T) {
	const vipLo, vipDir = "vip lo:0 at boot", "vip eth0:0 at boot"
	cases := []struct {
		name, lab, node, os string
		set                 func(g *simGuest)
		fact                string
		pass                bool
		hint                string // in the FAIL's hint
	}{
		// the VIP
		{"ifcfg-lo:0", "tedu-dr", "web1", catalog.RHEL, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/sysconfig/network-scripts/ifcfg-lo:0"] = "DEVICE=lo:0\nIPADDR=192.168.4.15\nNETMASK=255.255.255.255\nONBOOT=yes\nNAME=loopback\n"
		}, vipLo, true, ""},
		{"ifcfg-lo:0 with the legacy network service", "tedu-dr", "web1", catalog.RHEL, func(g *simGuest) {
			noVIPAtBoot(g)
			stack(g, unitNetwork)
			g.files["/etc/sysconfig/network-scripts/ifcfg-lo:0"] = "DEVICE=lo:0\nIPADDR=192.168.4.15\nNETMASK=255.255.255.255\n"
		}, vipLo, true, ""},
		{"ifcfg-lo:0 ONBOOT=no", "tedu-dr", "web1", catalog.RHEL, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/sysconfig/network-scripts/ifcfg-lo:0"] = "DEVICE=lo:0\nIPADDR=192.168.4.15\nNETMASK=255.255.255.255\nONBOOT=no\n"
		}, vipLo, false, "write /etc/sysconfig/network-scripts/ifcfg-lo:0 (DEVICE=lo:0, IPADDR=192.168.4.15, NETMASK=255.255.255.255, ONBOOT=yes) and bring it up with ifup lo:0"},
		{"ifcfg-lo:0 with a /24", "tedu-dr", "web1", catalog.RHEL, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/sysconfig/network-scripts/ifcfg-lo:0"] = "DEVICE=lo:0\nIPADDR=192.168.4.15\nNETMASK=255.255.255.0\n"
		}, vipLo, false, "comes back as 192.168.4.15/24 on lo from /etc/sysconfig/network-scripts/ifcfg-lo:0"},
		{"ifcfg-eth0:0", "tedu-dr", "lvs1", catalog.RHEL, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/sysconfig/network-scripts/ifcfg-eth0:0"] = "TYPE=Ethernet\nBOOTPROTO=none\nNAME=eth0:0\nDEVICE=eth0:0\nONBOOT=yes\nIPADDR=192.168.4.15\nPREFIX=24\n"
		}, vipDir, true, ""},
		{"nmcli: the connection's keyfile", "tedu-dr", "lvs1", catalog.RHEL, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/NetworkManager/system-connections/eth0.nmconnection"] = "[connection]\nid=eth0\nuuid=5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03\ntype=ethernet\ninterface-name=eth0\n\n[ipv4]\naddress1=192.168.4.5/24,192.168.4.254\naddress2=192.168.4.15/24\nmethod=manual\n"
		}, vipDir, true, ""},
		{"nmcli: an ifcfg connection", "tedu-dr", "lvs1", catalog.RHEL, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/sysconfig/network-scripts/ifcfg-eth0"] = "TYPE=Ethernet\nBOOTPROTO=none\nNAME=eth0\nDEVICE=eth0\nONBOOT=yes\nIPADDR=192.168.4.5\nPREFIX=24\nIPADDR1=192.168.4.15\nPREFIX1=24\n"
		}, vipDir, true, ""},
		{"nmcli keyfile, NetworkManager off", "tedu-dr", "lvs1", catalog.RHEL, func(g *simGuest) {
			noVIPAtBoot(g)
			stack(g)
			g.files["/etc/NetworkManager/system-connections/eth0.nmconnection"] = "[connection]\nid=eth0\ninterface-name=eth0\n\n[ipv4]\naddress1=192.168.4.15/24\n"
		}, vipDir, false, "ifcfg-eth0:0 (DEVICE=eth0:0, IPADDR=192.168.4.15, NETMASK=255.255.255.0"},
		{"no VIP file on NetworkManager", "tedu-dr", "lvs1", catalog.Debian, func(g *simGuest) {
			noVIPAtBoot(g)
			stack(g, unitNM)
		}, vipDir, false, "nmcli connection modify eth0 +ipv4.addresses 192.168.4.15/24"},
		{"ip addr in an enabled unit", "tedu-dr", "web1", catalog.Debian, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/systemd/system/vip.service"] = "[Unit]\nDescription=VIP\n[Service]\nType=oneshot\nExecStart=/usr/sbin/ip addr add 192.168.4.15/32 dev lo label lo:0\nRemainAfterExit=yes\n[Install]\nWantedBy=multi-user.target\n"
			g.enabled["vip.service"] = "enabled"
		}, vipLo, true, ""},
		{"ifconfig in an enabled unit", "tedu-dr", "web1", catalog.Debian, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/systemd/system/vip.service"] = "[Service]\nType=oneshot\nExecStart=/bin/sh -c '/sbin/ifconfig lo:0 192.168.4.15 netmask 255.255.255.255 up'\n"
			g.enabled["vip.service"] = "enabled"
		}, vipLo, true, ""},
		{"ip addr in a unit not enabled", "tedu-dr", "web1", catalog.Debian, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/systemd/system/vip.service"] = "[Service]\nType=oneshot\nExecStart=/usr/sbin/ip addr add 192.168.4.15/32 dev lo label lo:0\n"
		}, vipLo, false, "to a .network file of /etc/systemd/network whose [Match] is Name=lo"},
		{"systemd-networkd", "tedu-dr", "web1", catalog.Debian, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/systemd/network/lo.network"] = "[Match]\nName=lo\n\n[Network]\nAddress=192.168.4.15/32\n"
		}, vipLo, true, ""},
		{"netplan", "tedu-dr", "web1", catalog.Debian, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/netplan/60-vip.yaml"] = "network:\n  version: 2\n  ethernets:\n    lo:\n      match:\n        name: lo\n      addresses:\n        - 127.0.0.1/8\n        - \"192.168.4.15/32\"\n"
		}, vipLo, true, ""},
		{"netplan, brackets", "tedu-dr", "lvs1", catalog.Debian, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/netplan/01-lab.yaml"] = "network:\n  ethernets:\n    eth1:\n      dhcp4: false\n    eth0:\n      addresses: [192.168.4.5/24, 192.168.4.15/24]\n"
		}, vipDir, true, ""},
		{"no VIP file on netplan", "tedu-dr", "web1", catalog.Debian, func(g *simGuest) {
			noVIPAtBoot(g)
			g.files["/etc/netplan/01-lab.yaml"] = "network:\n  ethernets:\n    eth0:\n      addresses: [192.168.4.100/24]\n"
		}, vipLo, false, "list 192.168.4.15/32 under addresses: of lo in a file of /etc/netplan"},
		{"ifupdown stanza", "tedu-dr", "web1", catalog.Debian, func(g *simGuest) {
			noVIPAtBoot(g)
			stack(g, unitIfupdown)
			g.files["/etc/network/interfaces"] = "source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n"
			g.files["/etc/network/interfaces.d/lo0"] = "auto lo:0\niface lo:0 inet static\n    address 192.168.4.15\n    netmask 255.255.255.255\n"
		}, vipLo, true, ""},
		{"ifupdown up line", "tedu-dr", "web1", catalog.Debian, func(g *simGuest) {
			noVIPAtBoot(g)
			stack(g, unitIfupdown)
			g.files["/etc/network/interfaces"] = "auto lo\niface lo inet loopback\n    up ip addr add 192.168.4.15/32 dev lo label lo:0\n"
		}, vipLo, true, ""},
		{"ifupdown stanza without auto", "tedu-dr", "web1", catalog.Debian, func(g *simGuest) {
			noVIPAtBoot(g)
			stack(g, unitIfupdown)
			g.files["/etc/network/interfaces"] = "iface lo:0 inet static\n    address 192.168.4.15/32\n"
		}, vipLo, false, "add to /etc/network/interfaces: \"auto lo:0\", \"iface lo:0 inet static\", \"address 192.168.4.15/32\""},
		{"a networkd file while ifupdown runs the network", "tedu-dr", "web1", catalog.Debian, func(g *simGuest) {
			noVIPAtBoot(g)
			stack(g, unitIfupdown)
			g.files["/etc/systemd/network/lo.network"] = "[Match]\nName=lo\n[Address]\nAddress=192.168.4.15/32\n"
		}, vipLo, false, "/etc/network/interfaces"},

		// the kernel settings
		{"/etc/sysctl.conf", "tedu-nat", "lvs1", catalog.Debian, func(g *simGuest) {
			noSysctlFiles(g)
			g.files["/etc/sysctl.conf"] = "# /etc/sysctl.conf - Configuration file for setting system variables\n#net.ipv4.ip_forward=1\n" + forwarding
		}, "sysctl at boot", true, ""},
		{"/etc/sysctl.conf through its link", "tedu-nat", "lvs1", catalog.RHEL, func(g *simGuest) {
			noSysctlFiles(g)
			g.files["/etc/sysctl.conf"] = forwarding
			g.files["/etc/sysctl.d/99-sysctl.conf"] = forwarding
		}, "sysctl at boot", true, ""},
		{"sysctl.d, slashes", "tedu-nat", "lvs1", catalog.RHEL, func(g *simGuest) {
			noSysctlFiles(g)
			g.files["/etc/sysctl.d/50-lvs.conf"] = strings.ReplaceAll(strings.ReplaceAll(forwarding, ".", "/"), "net/ipv4/ip_forward", "net.ipv4.ip_forward")
		}, "sysctl at boot", true, ""},
		{"/etc/sysctl.d hides /usr/lib/sysctl.d", "tedu-nat", "lvs1", catalog.Debian, func(g *simGuest) {
			g.files["/usr/lib/sysctl.d/95-vendor.conf"] = "net.ipv4.ip_forward = 0\n"
			g.files["/etc/sysctl.d/95-vendor.conf"] = "# emptied by the student\n"
		}, "sysctl at boot", true, ""},
		{"a later file undoes /etc/sysctl.conf", "tedu-nat", "lvs1", catalog.Debian, func(g *simGuest) {
			noSysctlFiles(g)
			g.files["/etc/sysctl.conf"] = forwarding
			g.files["/etc/sysctl.d/99-zz-local.conf"] = "net.ipv4.ip_forward=0\n"
		}, "sysctl at boot", false, "/etc/sysctl.d/99-zz-local.conf sets net.ipv4.ip_forward = 0 and wins at boot"},
		{"sysctl -w only", "tedu-nat", "lvs1", catalog.RHEL, noSysctlFiles, "sysctl at boot", false, "append them to /etc/sysctl.conf (net.ipv4.ip_forward = 1"},

		// the IPVS rules
		{"RHEL's ipvsadm service", "tedu-nat", "lvs1", catalog.RHEL, func(*simGuest) {}, "ipvs rules at boot", true, ""},
		{"RHEL's ipvsadm service disabled", "tedu-nat", "lvs1", catalog.RHEL, func(g *simGuest) { g.enabled["ipvsadm.service"] = "disabled" },
			"ipvs rules at boot", false, "systemctl enable ipvsadm (at boot it loads /etc/sysconfig/ipvsadm)"},
		{"saved where RHEL's service does not look", "tedu-nat", "lvs1", catalog.RHEL, func(g *simGuest) {
			g.files["/etc/ipvsadm.rules"] = g.files[catalog.RHELRulesFile]
			delete(g.files, catalog.RHELRulesFile)
		}, "ipvs rules saved", false, "ipvsadm-save -n > /etc/sysconfig/ipvsadm"},
		{"Debian's ipvsadm init, AUTO=\"true\"", "tedu-nat", "lvs1", catalog.Debian, func(g *simGuest) {
			delete(g.files, catalog.IPVSUnitFile)
			g.enabled[catalog.IPVSUnit] = "missing"
			g.files[debianIPVSConf] = "# ipvsadm\n\n# if you want to start ipvsadm on boot set this to true\nAUTO=\"true\"\n\n# daemon method (none|master|backup)\nDAEMON=\"none\"\n"
			g.files["/etc/rc2.d/S01ipvsadm"] = "#! /bin/sh\n### BEGIN INIT INFO\n# Provides:          ipvsadm\n"
		}, "ipvs rules at boot", true, ""},
		{"Debian's ipvsadm init, AUTO=\"false\"", "tedu-nat", "lvs1", catalog.Debian, func(g *simGuest) {
			delete(g.files, catalog.IPVSUnitFile)
			g.enabled[catalog.IPVSUnit] = "missing"
			g.files[debianIPVSConf] = "AUTO=\"false\"\nDAEMON=\"none\"\n"
			g.files["/etc/rc2.d/S01ipvsadm"] = "#! /bin/sh\n"
		}, "ipvs rules at boot", false, "set AUTO=\"true\" in /etc/default/ipvsadm"},
		{"a unit of the student's", "tedu-nat", "lvs1", catalog.Debian, func(g *simGuest) {
			delete(g.files, catalog.IPVSUnitFile)
			g.enabled[catalog.IPVSUnit] = "missing"
			g.files["/etc/systemd/system/ipvs-restore.service"] = "[Service]\nType=oneshot\nExecStart=/bin/sh -c \"/usr/sbin/ipvsadm-restore < /etc/ipvsadm.rules\"\n[Install]\nWantedBy=multi-user.target\n"
			g.enabled["ipvs-restore.service"] = "enabled"
		}, "ipvs rules at boot", true, ""},
		{"a unit of the student's, rules in a file of their own", "tedu-nat", "lvs1", catalog.RHEL, func(g *simGuest) {
			g.files["/root/lvs.rules"] = g.files[catalog.RHELRulesFile]
			delete(g.files, catalog.RHELRulesFile)
			g.enabled["ipvsadm.service"] = "disabled"
			g.files["/etc/systemd/system/lvs.service"] = "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'ipvsadm -C; ipvsadm-restore <\"/root/lvs.rules\"'\n[Install]\nWantedBy=multi-user.target\n"
			g.enabled["lvs.service"] = "enabled"
		}, "ipvs rules saved", true, ""},
		{"nothing loads them on Debian", "tedu-nat", "lvs1", catalog.Debian, func(g *simGuest) {
			delete(g.files, catalog.IPVSUnitFile)
			g.enabled[catalog.IPVSUnit] = "missing"
		}, "ipvs rules at boot", false, "enable a unit whose ExecStart=/bin/sh -c 'ipvsadm-restore < /etc/ipvsadm.rules'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lab := rolestest.Lab(t, c.lab)
			g := configured(rolestest.State(t, lab, c.node), c.os)
			c.set(g)
			nr := checkNode(t, lab, c.node, g)
			var fact *Fact
			for i := range nr.Facts {
				if nr.Facts[i].Name == c.fact {
					fact = &nr.Facts[i]
				}
			}
			if fact == nil {
				t.Fatalf("no fact %q in %v", c.fact, nr.Facts)
			}
			if pass := fact.Status == report.Pass; pass != c.pass {
				t.Fatalf("%s: %s, got %q (want %q): %s", c.fact, fact.Status, fact.Got, fact.Want, fact.Hint)
			}
			if !c.pass && !strings.Contains(fact.Hint, c.hint) {
				t.Errorf("hint %q\nwant %q in it", fact.Hint, c.hint)
			}
			// the rest of the node passes: only this form changed
			for name, f := range failed(nr) {
				if name != c.fact && !(c.lab == "tedu-nat" && name == "ipvs rules saved" && c.fact == "ipvs rules at boot") {
					t.Errorf("%s fails too: %s", name, f.Hint)
				}
			}
			// and no pass leans on lvslab's own file names
			if c.pass && strings.Contains(fact.Got, "lvslab") {
				t.Errorf("passes on lvslab's own file: %s", fact.Got)
			}
		})
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
