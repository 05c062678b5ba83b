package roles_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

func sysctls(kv ...string) []roles.Sysctl {
	var out []roles.Sysctl
	for i := 0; i < len(kv); i += 2 {
		out = append(out, roles.Sysctl{Key: kv[i], Value: kv[i+1]})
	}
	return out
}

func addr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestDesiredOrderAndRoles(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-nat")
	var names, kinds []string
	for _, st := range roles.Desired(lab) {
		names = append(names, st.Name)
		kinds = append(kinds, st.Role)
		if st.Hostname != st.Name {
			t.Errorf("%s: hostname %q", st.Name, st.Hostname)
		}
	}
	rolestest.Eq(t, "names", names, []string{"client1", "lvs1", "web1", "web2"})
	rolestest.Eq(t, "roles", kinds, []string{"client", "director", "web", "web"})
}

// natDirectorSysctls: a NAT director with eth0 and eth1 forwards and sends
// no redirects.
var natDirectorSysctls = sysctls(
	"net.ipv4.ip_forward", "1",
	"net.ipv4.conf.all.send_redirects", "0",
	"net.ipv4.conf.default.send_redirects", "0",
	"net.ipv4.conf.eth0.send_redirects", "0",
	"net.ipv4.conf.eth1.send_redirects", "0",
)

func TestDesiredNAT(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-nat")
	dir := rolestest.State(t, lab, "lvs1")
	rolestest.Eq(t, "director sysctls", dir.Sysctls, natDirectorSysctls)
	if len(dir.Aliases) != 0 {
		t.Errorf("the VIP is the director's own address: no alias expected, got %v", dir.Aliases)
	}
	rolestest.Eq(t, "director packages", dir.Packages, []string{roles.PkgIPVSAdm})
	rolestest.Eq(t, "director IPVS", dir.IPVS, []ipvs.Service{{
		Protocol: "tcp", Address: addr("192.168.4.5"), Port: 80, SchedName: ipvs.RoundRobin,
		Destinations: []ipvs.Destination{
			{Address: addr("192.168.2.100"), Port: 80, ConnectionFlags: ipvs.ConnectionFlagMasq, Weight: 1},
			{Address: addr("192.168.2.200"), Port: 80, ConnectionFlags: ipvs.ConnectionFlagMasq, Weight: 2},
		},
	}})
	rolestest.Eq(t, "director NICs", dir.NICs, []roles.NICState{
		{Name: "eth0", MAC: lab.Node("lvs1").NICs[0].MAC, Network: "private1", Address: prefix("192.168.4.5/24")},
		{Name: "eth1", MAC: lab.Node("lvs1").NICs[1].MAC, Network: "private2", Address: prefix("192.168.2.5/24")},
	})

	web := rolestest.State(t, lab, "web1")
	rolestest.Eq(t, "web1 disabled", web.Disabled, []string{"eth0"})
	rolestest.Eq(t, "web1 gateway", web.Gateway, addr("192.168.2.5"))
	rolestest.Eq(t, "web1 gateway NIC", web.GatewayNIC(), "eth1")
	if len(web.Sysctls) != 0 || len(web.Aliases) != 0 {
		t.Errorf("NAT real server: nothing special expected, got %v %v", web.Sysctls, web.Aliases)
	}
	rolestest.Eq(t, "web1 page", web.Web, &roles.WebState{Page: "192.168.2.100", Ports: []uint16{80}, Server: topology.WebApache})
	rolestest.Eq(t, "web1 packages", web.Packages, []string{roles.PkgWebServer})
	rolestest.Eq(t, "web1 primary", web.PrimaryAddress(), addr("192.168.2.100"))

	client := rolestest.State(t, lab, "client1")
	rolestest.Eq(t, "client packages", client.Packages, []string{roles.PkgCurl})
	rolestest.Eq(t, "client gateway", client.Gateway, addr("192.168.4.5"))
	if client.IPVS != nil || client.Web != nil || client.Sysctls != nil {
		t.Errorf("client: unexpected state %+v", client)
	}
}

func TestDesiredTwoNICNAT(t *testing.T) {
	lab := rolestest.Lab(t, "twonic-nat")
	dir := rolestest.State(t, lab, "director")
	rolestest.Eq(t, "director sysctls", dir.Sysctls, natDirectorSysctls)
	rolestest.Eq(t, "rules", ipvs.Rules(dir.IPVS), "-A -t 172.20.0.110:80 -s rr\n"+
		"-a -t 172.20.0.110:80 -r 192.168.10.1:80 -m -w 1\n"+
		"-a -t 172.20.0.110:80 -r 192.168.10.2:80 -m -w 1\n")
}

func TestDesiredDR(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-dr")
	dir := rolestest.State(t, lab, "lvs1")
	directOnlyDirector(t, "DR director", dir)
	rolestest.Eq(t, "director aliases", dir.Aliases, []roles.Alias{{Device: "eth0", Label: "eth0:0", Address: prefix("192.168.4.15/24")}})
	rolestest.Eq(t, "director disabled", dir.Disabled, []string{"eth1"})
	rolestest.Eq(t, "director IPVS", dir.IPVS, []ipvs.Service{{
		Protocol: "tcp", Address: addr("192.168.4.15"), Port: 80, SchedName: ipvs.WeightedLeastConnection,
		Destinations: []ipvs.Destination{
			{Address: addr("192.168.4.100"), Port: 80, ConnectionFlags: ipvs.ConnectionFlagDirectRoute, Weight: 1},
			{Address: addr("192.168.4.200"), Port: 80, ConnectionFlags: ipvs.ConnectionFlagDirectRoute, Weight: 2},
		},
	}})
	web := rolestest.State(t, lab, "web2")
	rolestest.Eq(t, "web2 sysctls", web.Sysctls, sysctls(
		"net.ipv4.conf.all.arp_ignore", "1",
		"net.ipv4.conf.all.arp_announce", "2",
		"net.ipv4.conf.lo.arp_ignore", "1",
		"net.ipv4.conf.lo.arp_announce", "2",
		"net.ipv4.conf.eth0.arp_ignore", "1",
		"net.ipv4.conf.eth0.arp_announce", "2",
	))
	rolestest.Eq(t, "web2 aliases", web.Aliases, []roles.Alias{{Device: "lo", Label: "lo:0", Address: prefix("192.168.4.15/32")}})
	rolestest.Eq(t, "web2 gateway", web.Gateway, addr("192.168.4.254"))
	rolestest.Eq(t, "web2 page", web.Web, &roles.WebState{Page: "apache web server2", Ports: []uint16{80}, Server: topology.WebApache})

	// dr-four-nodes: the director's VIP as /24 alias, real servers /32 on lo
	lab = rolestest.Lab(t, "dr-four-nodes")
	rolestest.Eq(t, "node01 aliases", rolestest.State(t, lab, "node01").Aliases, []roles.Alias{{Device: "eth0", Label: "eth0:0", Address: prefix("192.168.247.100/24")}})
	rolestest.Eq(t, "node02 aliases", rolestest.State(t, lab, "node02").Aliases, []roles.Alias{{Device: "lo", Label: "lo:0", Address: prefix("192.168.247.100/32")}})
	// twonic-dr: /32 alias on the director
	lab = rolestest.Lab(t, "twonic-dr")
	rolestest.Eq(t, "director aliases", rolestest.State(t, lab, "director").Aliases, []roles.Alias{{Device: "eth0", Label: "eth0:0", Address: prefix("172.21.0.110/32")}})
}

func TestDesiredTUN(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-tun")
	dir := rolestest.State(t, lab, "lvs1")
	rolestest.Eq(t, "director aliases", dir.Aliases, []roles.Alias{{Device: "eth0", Label: "eth0:0", Address: prefix("192.168.4.15/32")}})
	directOnlyDirector(t, "TUN director", dir)
	rolestest.Eq(t, "rules", ipvs.Rules(dir.IPVS), "-A -t 192.168.4.15:80 -s rr\n"+
		"-a -t 192.168.4.15:80 -r 192.168.4.100:80 -i -w 1 --tun-type ipip\n"+
		"-a -t 192.168.4.15:80 -r 192.168.4.200:80 -i -w 1 --tun-type ipip\n")
	web := rolestest.State(t, lab, "web1")
	rolestest.Eq(t, "web1 sysctls", web.Sysctls, sysctls(
		"net.ipv4.conf.all.rp_filter", "0",
		"net.ipv4.conf.tunl0.rp_filter", "0",
		"net.ipv4.conf.eth0.rp_filter", "0",
		"net.ipv4.conf.all.arp_ignore", "1",
		"net.ipv4.conf.all.arp_announce", "2",
		"net.ipv4.conf.eth0.arp_ignore", "1",
		"net.ipv4.conf.eth0.arp_announce", "2",
	))
	rolestest.Eq(t, "web1 aliases", web.Aliases, []roles.Alias{{Device: "tunl0", Address: prefix("192.168.4.15/32")}})
	rolestest.Eq(t, "web1 modules", web.Modules, []string{"ipip"})
}

func TestDesiredPortsPersistenceThresholds(t *testing.T) {
	lab, err := topology.Load("rich.yaml", []byte(rolestest.RichLab))
	if err != nil {
		t.Fatal(err)
	}
	dir := rolestest.State(t, lab, "dir")
	rolestest.Eq(t, "aliases (one per VIP, not per service)", dir.Aliases, []roles.Alias{{Device: "eth0", Label: "eth0:0", Address: prefix("10.0.0.100/24")}})
	rolestest.Eq(t, "rules", ipvs.Rules(dir.IPVS), "-A -t 10.0.0.100:80 -s wrr -p 600\n"+
		"-a -t 10.0.0.100:80 -r 10.0.1.11:8080 -m -w 3 -x 100 -y 10\n"+
		"-a -t 10.0.0.100:80 -r 10.0.1.12:80 -m -w 1\n"+
		"-A -u 10.0.0.100:53 -s sh\n"+
		"-a -u 10.0.0.100:53 -r 10.0.1.11:53 -m -w 1\n")
	// The UDP service's port is a UDP responder's, not the web server's (NAT: not bound to the VIP).
	w1 := rolestest.State(t, lab, "w1")
	rolestest.Eq(t, "w1 ports", w1.Web.Ports, []uint16{8080})
	rolestest.Eq(t, "w1 udp", w1.Web.UDP, []roles.UDPResponder{{Port: 53}})
	rolestest.Eq(t, "w1 packages", w1.Packages, []string{roles.PkgWebServer, roles.PkgSocat})
	rolestest.Eq(t, "w2 ports", rolestest.State(t, lab, "w2").Web.Ports, []uint16{80})
	for _, s := range catalog.Steps(rolestest.State(t, lab, "w1"), catalog.Debian) {
		if s.File != nil && s.File.Path == catalog.ApachePortsFile {
			for _, want := range []string{"Listen 8080\n", "<VirtualHost *:8080>"} {
				if !strings.Contains(s.File.Content, want) {
					t.Errorf("ports.conf lacks %q:\n%s", want, s.File.Content)
				}
			}
		}
	}
}

func TestIPVSRulesTeduNAT(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-nat")
	got := ipvs.Rules(rolestest.State(t, lab, "lvs1").IPVS)
	want := "-A -t 192.168.4.5:80 -s rr\n" +
		"-a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1\n" +
		"-a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 2\n"
	if got != want {
		t.Errorf("rules:\n%s\nwant:\n%s", got, want)
	}
	if ipvs.Rules(rolestest.State(t, lab, "web1").IPVS) != "" {
		t.Error("a web node has no IPVS rules")
	}
}

// directOnlyDirector: reference 001's settings of a director that forwards
// nothing itself, and no reset of what it sets or of a down NIC.
func directOnlyDirector(t *testing.T, what string, dir *roles.NodeState) {
	t.Helper()
	rolestest.Eq(t, what+" sysctls (reference 001)", dir.Sysctls, []roles.Sysctl{
		{Key: "net.ipv4.ip_forward", Value: "0"}, {Key: "net.ipv4.conf.all.send_redirects", Value: "1"},
		{Key: "net.ipv4.conf.default.send_redirects", Value: "1"}, {Key: "net.ipv4.conf.eth0.send_redirects", Value: "1"},
	})
	for _, r := range dir.Resets {
		if r.Key == "net.ipv4.ip_forward" || r.Key == "net.ipv4.conf.eth0.send_redirects" {
			t.Errorf("%s: reset of a key it sets: %v", what, r)
		}
	}
	for _, nic := range dir.Disabled {
		if !slices.Contains(dir.Resets, roles.Sysctl{Key: "net.ipv4.conf." + nic + ".send_redirects", Value: "1"}) {
			t.Errorf("%s: the down NIC %s keeps what NAT set on it: %v", what, nic, dir.Resets)
		}
	}
}
