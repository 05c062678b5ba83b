package roles

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles/ipvs"
	"github.com/lvslab/lvslab/topology"
)

func loadLab(t *testing.T, name string) *topology.Lab {
	t.Helper()
	lab, err := labs.Load(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return lab
}

func stateOf(t *testing.T, lab *topology.Lab, node string) *NodeState {
	t.Helper()
	n := lab.Node(node)
	if n == nil {
		t.Fatalf("lab %s has no node %s", lab.Name, node)
	}
	return DesiredFor(lab, n)
}

func sysctls(kv ...string) []Sysctl {
	var out []Sysctl
	for i := 0; i < len(kv); i += 2 {
		out = append(out, Sysctl{kv[i], kv[i+1]})
	}
	return out
}

func addr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

func TestDesiredOrderAndRoles(t *testing.T) {
	lab := loadLab(t, "tedu-nat")
	var names, roles []string
	for _, st := range Desired(lab) {
		names = append(names, st.Name)
		roles = append(roles, st.Role)
		if st.Hostname != st.Name {
			t.Errorf("%s: hostname %q", st.Name, st.Hostname)
		}
	}
	eq(t, "names", names, []string{"client1", "lvs1", "web1", "web2"})
	eq(t, "roles", roles, []string{"client", "director", "web", "web"})
}

func TestDesiredNAT(t *testing.T) {
	lab := loadLab(t, "tedu-nat")
	dir := stateOf(t, lab, "lvs1")
	eq(t, "director sysctls", dir.Sysctls, sysctls(
		"net.ipv4.ip_forward", "1",
		"net.ipv4.conf.all.send_redirects", "0",
		"net.ipv4.conf.default.send_redirects", "0",
		"net.ipv4.conf.eth0.send_redirects", "0",
		"net.ipv4.conf.eth1.send_redirects", "0",
	))
	if len(dir.Aliases) != 0 {
		t.Errorf("the VIP is the director's own address: no alias expected, got %v", dir.Aliases)
	}
	eq(t, "director packages", dir.Packages, []string{PkgIPVSAdm})
	eq(t, "director IPVS", dir.IPVS, []ipvs.Service{{
		Protocol: "tcp", Address: addr("192.168.4.5"), Port: 80, SchedName: ipvs.RoundRobin,
		Destinations: []ipvs.Destination{
			{Address: addr("192.168.2.100"), Port: 80, ConnectionFlags: ipvs.ConnectionFlagMasq, Weight: 1},
			{Address: addr("192.168.2.200"), Port: 80, ConnectionFlags: ipvs.ConnectionFlagMasq, Weight: 2},
		},
	}})
	eq(t, "director NICs", dir.NICs, []NICState{
		{Name: "eth0", MAC: lab.Node("lvs1").NICs[0].MAC, Network: "private1", Address: prefix("192.168.4.5/24")},
		{Name: "eth1", MAC: lab.Node("lvs1").NICs[1].MAC, Network: "private2", Address: prefix("192.168.2.5/24")},
	})

	web := stateOf(t, lab, "web1")
	eq(t, "web1 disabled", web.Disabled, []string{"eth0"})
	eq(t, "web1 gateway", web.Gateway, addr("192.168.2.5"))
	eq(t, "web1 gateway NIC", web.gatewayNIC(), "eth1")
	if len(web.Sysctls) != 0 || len(web.Aliases) != 0 {
		t.Errorf("NAT real server: nothing special expected, got %v %v", web.Sysctls, web.Aliases)
	}
	eq(t, "web1 page", web.Web, &WebState{Page: "192.168.2.100", Ports: []uint16{80}})
	eq(t, "web1 packages", web.Packages, []string{PkgWebServer})
	eq(t, "web1 primary", web.PrimaryAddress(), addr("192.168.2.100"))

	client := stateOf(t, lab, "client1")
	eq(t, "client packages", client.Packages, []string{PkgCurl})
	eq(t, "client gateway", client.Gateway, addr("192.168.4.5"))
	if client.IPVS != nil || client.Web != nil || client.Sysctls != nil {
		t.Errorf("client: unexpected state %+v", client)
	}
}

func TestDesiredTwoNICNAT(t *testing.T) {
	lab := loadLab(t, "twonic-nat")
	dir := stateOf(t, lab, "director")
	eq(t, "director sysctls", dir.Sysctls, sysctls(
		"net.ipv4.ip_forward", "1",
		"net.ipv4.conf.all.send_redirects", "0",
		"net.ipv4.conf.default.send_redirects", "0",
		"net.ipv4.conf.eth0.send_redirects", "0",
		"net.ipv4.conf.eth1.send_redirects", "0",
	))
	eq(t, "rules", ipvs.Rules(dir.IPVS), "-A -t 172.20.0.110:80 -s rr\n"+
		"-a -t 172.20.0.110:80 -r 192.168.10.1:80 -m -w 1\n"+
		"-a -t 172.20.0.110:80 -r 192.168.10.2:80 -m -w 1\n")
}

func TestDesiredDR(t *testing.T) {
	lab := loadLab(t, "tedu-dr")
	dir := stateOf(t, lab, "lvs1")
	if len(dir.Sysctls) != 0 {
		t.Errorf("DR director: no sysctls expected, got %v", dir.Sysctls)
	}
	eq(t, "director aliases", dir.Aliases, []Alias{{Device: "eth0", Label: "eth0:0", Address: prefix("192.168.4.15/24")}})
	eq(t, "director disabled", dir.Disabled, []string{"eth1"})
	eq(t, "director IPVS", dir.IPVS, []ipvs.Service{{
		Protocol: "tcp", Address: addr("192.168.4.15"), Port: 80, SchedName: ipvs.WeightedLeastConnection,
		Destinations: []ipvs.Destination{
			{Address: addr("192.168.4.100"), Port: 80, ConnectionFlags: ipvs.ConnectionFlagDirectRoute, Weight: 1},
			{Address: addr("192.168.4.200"), Port: 80, ConnectionFlags: ipvs.ConnectionFlagDirectRoute, Weight: 2},
		},
	}})
	web := stateOf(t, lab, "web2")
	eq(t, "web2 sysctls", web.Sysctls, sysctls(
		"net.ipv4.conf.all.arp_ignore", "1",
		"net.ipv4.conf.all.arp_announce", "2",
		"net.ipv4.conf.lo.arp_ignore", "1",
		"net.ipv4.conf.lo.arp_announce", "2",
		"net.ipv4.conf.eth0.arp_ignore", "1",
		"net.ipv4.conf.eth0.arp_announce", "2",
	))
	eq(t, "web2 aliases", web.Aliases, []Alias{{Device: "lo", Label: "lo:0", Address: prefix("192.168.4.15/32")}})
	eq(t, "web2 gateway", web.Gateway, addr("192.168.4.254"))
	eq(t, "web2 page", web.Web, &WebState{Page: "apache web server2", Ports: []uint16{80}})

	// dr-four-nodes: the director's VIP as /24 alias, real servers /32 on lo
	lab = loadLab(t, "dr-four-nodes")
	eq(t, "node01 aliases", stateOf(t, lab, "node01").Aliases, []Alias{{Device: "eth0", Label: "eth0:0", Address: prefix("192.168.247.100/24")}})
	eq(t, "node02 aliases", stateOf(t, lab, "node02").Aliases, []Alias{{Device: "lo", Label: "lo:0", Address: prefix("192.168.247.100/32")}})
	// twonic-dr: /32 alias on the director
	lab = loadLab(t, "twonic-dr")
	eq(t, "director aliases", stateOf(t, lab, "director").Aliases, []Alias{{Device: "eth0", Label: "eth0:0", Address: prefix("172.21.0.110/32")}})
}

func TestDesiredTUN(t *testing.T) {
	lab := loadLab(t, "tedu-tun")
	dir := stateOf(t, lab, "lvs1")
	eq(t, "director aliases", dir.Aliases, []Alias{{Device: "eth0", Label: "eth0:0", Address: prefix("192.168.4.15/32")}})
	if len(dir.Sysctls) != 0 {
		t.Errorf("TUN director: no sysctls expected, got %v", dir.Sysctls)
	}
	eq(t, "rules", ipvs.Rules(dir.IPVS), "-A -t 192.168.4.15:80 -s rr\n"+
		"-a -t 192.168.4.15:80 -r 192.168.4.100:80 -i -w 1 --tun-type ipip\n"+
		"-a -t 192.168.4.15:80 -r 192.168.4.200:80 -i -w 1 --tun-type ipip\n")
	web := stateOf(t, lab, "web1")
	eq(t, "web1 sysctls", web.Sysctls, sysctls(
		"net.ipv4.conf.all.rp_filter", "0",
		"net.ipv4.conf.tunl0.rp_filter", "0",
		"net.ipv4.conf.eth0.rp_filter", "0",
		"net.ipv4.conf.all.arp_ignore", "1",
		"net.ipv4.conf.all.arp_announce", "2",
		"net.ipv4.conf.eth0.arp_ignore", "1",
		"net.ipv4.conf.eth0.arp_announce", "2",
	))
	eq(t, "web1 aliases", web.Aliases, []Alias{{Device: "tunl0", Address: prefix("192.168.4.15/32")}})
	eq(t, "web1 modules", web.Modules, []string{"ipip"})
}

const richLab = `
name: rich
networks:
  outside: {cidr: 10.0.0.0/24}
  inside: {cidr: 10.0.1.0/24}
nodes:
  dir:
    role: director
    nics:
      eth0: {network: outside, address: 10.0.0.5/24}
      eth1: {network: inside, address: 10.0.1.5/24}
  w1:
    role: web
    nics:
      eth0: {network: inside, address: 10.0.1.11/24}
    gateway: 10.0.1.5
  w2:
    role: web
    nics:
      eth0: {network: inside, address: 10.0.1.12/24}
    gateway: 10.0.1.5
services:
  - vip: 10.0.0.100
    vip_prefix: 24
    port: 80
    mode: nat
    scheduler: wrr
    persistence: 600
    real_servers:
      - {node: w1, port: 8080, weight: 3, upper: 100, lower: 10}
      - {node: w2}
  - vip: 10.0.0.100
    port: 53
    protocol: udp
    mode: nat
    scheduler: sh
    real_servers:
      - {node: w1}
`

func TestDesiredPortsPersistenceThresholds(t *testing.T) {
	lab, err := topology.Load("rich.yaml", []byte(richLab))
	if err != nil {
		t.Fatal(err)
	}
	dir := stateOf(t, lab, "dir")
	eq(t, "aliases (one per VIP, not per service)", dir.Aliases, []Alias{{Device: "eth0", Label: "eth0:0", Address: prefix("10.0.0.100/24")}})
	eq(t, "rules", ipvs.Rules(dir.IPVS), "-A -t 10.0.0.100:80 -s wrr -p 600\n"+
		"-a -t 10.0.0.100:80 -r 10.0.1.11:8080 -m -w 3 -x 100 -y 10\n"+
		"-a -t 10.0.0.100:80 -r 10.0.1.12:80 -m -w 1\n"+
		"-A -u 10.0.0.100:53 -s sh\n"+
		"-a -u 10.0.0.100:53 -r 10.0.1.11:53 -m -w 1\n")
	eq(t, "w1 ports", stateOf(t, lab, "w1").Web.Ports, []uint16{8080, 53})
	eq(t, "w2 ports", stateOf(t, lab, "w2").Web.Ports, []uint16{80})
	for _, s := range Steps(stateOf(t, lab, "w1"), Debian) {
		if s.File != nil && s.File.Path == ApachePortsFile {
			for _, want := range []string{"Listen 8080\n", "<VirtualHost *:8080>"} {
				if !strings.Contains(s.File.Content, want) {
					t.Errorf("ports.conf lacks %q:\n%s", want, s.File.Content)
				}
			}
		}
	}
}

func TestIPVSRulesTeduNAT(t *testing.T) {
	lab := loadLab(t, "tedu-nat")
	got := ipvs.Rules(stateOf(t, lab, "lvs1").IPVS)
	want := "-A -t 192.168.4.5:80 -s rr\n" +
		"-a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1\n" +
		"-a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 2\n"
	if got != want {
		t.Errorf("rules:\n%s\nwant:\n%s", got, want)
	}
	if ipvs.Rules(stateOf(t, lab, "web1").IPVS) != "" {
		t.Error("a web node has no IPVS rules")
	}
}
