package topology

import (
	"os"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/topology/testkit/contains"
)

// The embedded keepalived labs, read from labs/ (the labs package imports
// this one, so its tests read the files themselves).
func keepalivedLab(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("../labs/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestKeepalivedLabsModel(t *testing.T) {
	lab, err := Load("embedded:tedu-keepalived-dr", []byte(keepalivedLab(t, "tedu-keepalived-dr")))
	if err != nil {
		t.Fatal(err)
	}
	if len(lab.Services) != 1 || len(lab.VRRPServices) != 0 || len(lab.NodesWithRole(RoleDirector)) != 2 {
		t.Fatalf("dr: %d services, %d VRRP-only, %d directors", len(lab.Services), len(lab.VRRPServices), len(lab.NodesWithRole(RoleDirector)))
	}
	k := lab.Services[0].Keepalived
	want := Keepalived{
		Routers:   []Router{{Node: "lvs1", State: StateMaster, Priority: 100}, {Node: "lvs2", State: StateBackup, Priority: 50}},
		VRID:      51,
		AdvertInt: 1,
		AuthPass:  "1111",
		DelayLoop: 6,
	}
	if k == nil || !k.SameInstance(&want) || k.DelayLoop != 6 || k.Sync || k.Check == nil {
		t.Fatalf("dr keepalived: %+v", k)
	}
	if *k.Check != (HealthCheck{Type: CheckTCP, ConnectTimeout: 3, Retry: 3, DelayBeforeRetry: 3}) {
		t.Errorf("dr health check: %+v", *k.Check)
	}
	if k.Master().Node != "lvs1" || k.Router("lvs2").Priority != 50 || k.Router("web1") != nil {
		t.Errorf("dr master %+v", k.Master())
	}
	if lab.Director().Name != "lvs1" {
		t.Errorf("dr: first director %s", lab.Director().Name)
	}
	if got := nodeList(lab.KeepalivedNodes()); got != "lvs1,lvs2" {
		t.Errorf("dr: keepalived runs on %s", got)
	}

	web, err := Load("embedded:tedu-keepalived-web", []byte(keepalivedLab(t, "tedu-keepalived-web")))
	if err != nil {
		t.Fatal(err)
	}
	if len(web.Services) != 0 || len(web.VRRPServices) != 1 {
		t.Fatalf("web: %d services, %d VRRP-only", len(web.Services), len(web.VRRPServices))
	}
	s := web.VRRPServices[0]
	if s.Mode != ModeVRRP || s.VIP.String() != "192.168.4.80" || s.VIPPrefix != 32 || s.Port != 80 || s.Keepalived.Check != nil || s.Keepalived.Master().Node != "web1" {
		t.Errorf("web: %+v %+v", s, s.Keepalived)
	}
	if got := nodeList(web.KeepalivedNodes()); got != "web1,web2" {
		t.Errorf("web: keepalived runs on %s", got)
	}
	// Unset fields take keepalived's and the course's defaults.
	min, err := Load("lab.yaml", []byte(mutate(t, keepalivedLab(t, "tedu-keepalived-dr"),
		`vrrp: {virtual_router_id: 51, advert_int: 1, auth_pass: "1111"}`, `vrrp: {virtual_router_id: 51}`,
		"{node: lvs2, state: BACKUP, priority: 50}", "{node: lvs2, priority: 50}",
		"health_check: {type: TCP_CHECK, delay_loop: 6, connect_timeout: 3, retry: 3, delay_before_retry: 3}", "health_check: {type: http_get}")))
	if err != nil {
		t.Fatal(err)
	}
	mk := min.Services[0].Keepalived
	if mk.AdvertInt != 1 || mk.AuthPass != "" || mk.Router("lvs2").State != StateBackup || mk.DelayLoop != DefaultDelayLoop ||
		*mk.Check != (HealthCheck{Type: CheckHTTP, ConnectTimeout: 3, Retry: 3, DelayBeforeRetry: 3, Path: "/", StatusCode: 200}) {
		t.Errorf("defaults: %+v %+v", mk, *mk.Check)
	}
}

func nodeList(ns []*Node) string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return strings.Join(out, ",")
}

// The classic keepalived mistakes, each placed at file:line:col and its
// field path.
func TestKeepalivedValidation(t *testing.T) {
	dr := keepalivedLab(t, "tedu-keepalived-dr")
	web := keepalivedLab(t, "tedu-keepalived-web")
	const (
		routers = "        - {node: lvs1, state: MASTER, priority: 100}\n        - {node: lvs2, state: BACKUP, priority: 50}\n"
		vrrp    = `vrrp: {virtual_router_id: 51, advert_int: 1, auth_pass: "1111"}`
		check   = "health_check: {type: TCP_CHECK, delay_loop: 6, connect_timeout: 3, retry: 3, delay_before_retry: 3}"
		// A second service on another VIP of the segment, with routers of its own.
		second = `  - name: other
    vip: 192.168.4.16
    port: 80
    mode: dr
    scheduler: rr
    real_servers: [{node: web1}]
    keepalived:
      routers: [{node: lvs1, priority: 50}, {node: lvs2, priority: 100}]
      vrrp: {virtual_router_id: 51}
`
	)
	cases := []problemCase{
		// The six of the issue.
		{"equal priorities", mutate(t, dr, "state: BACKUP, priority: 50}", "state: BACKUP, priority: 100}"), "services[0].keepalived.routers[1].priority", "100 is also lvs1's priority: with equal priorities the election falls to the higher IP address", 62},
		{"virtual_router_id twice on one segment", dr + second,
			"services[1].keepalived.vrrp.virtual_router_id", "virtual_router_id 51 is already used on private1 by services[0] with other routers or settings", 73},
		{"vip outside the segment", mutate(t, web, "vip: 192.168.4.80", "vip: 192.168.5.80"), "services[0].vip", "192.168.5.80 is outside the segment of router web1 (192.168.4.0/24)", 42},
		{"vip outside the backup's segment", mutate(t, dr, "eth0: {network: private1, address: 192.168.4.6/24}\n      eth1: {network: private2}", "eth0: {network: private1}\n      eth1: {network: private2, address: 192.168.2.6/24}"), "services[0].vip", "192.168.4.15 is outside the segment of router lvs2 (192.168.2.0/24)", 50},
		{"nopreempt with state MASTER", mutate(t, dr, vrrp, `vrrp: {virtual_router_id: 51, advert_int: 1, auth_pass: "1111", nopreempt: true}`), "services[0].keepalived.routers[0].state", "nopreempt needs every router to start as BACKUP", 61},
		{"persistence left on", mutate(t, dr, "    scheduler: rr\n", "    scheduler: rr\n    persistence: 30\n"), "services[0].persistence", "persistence left on a keepalived service", 56},
		{"health check on a port nobody serves", mutate(t, dr, check, "health_check: {type: TCP_CHECK, port: 8080}"), "services[0].keepalived.health_check.port", "web1 does not serve port 8080 (it serves 80): every TCP_CHECK would fail", 64},
		// The election.
		{"two masters", mutate(t, dr, "state: BACKUP, priority: 50}", "state: MASTER, priority: 50}"), "services[0].keepalived.routers[1].state", "a second MASTER (lvs1 is one already)", 62},
		{"master below a backup", mutate(t, dr, "state: BACKUP, priority: 50}", "state: BACKUP, priority: 150}"), "services[0].keepalived.routers[0].priority", "lvs1 starts as MASTER with priority 100, below lvs2's 150", 61},
		{"priority out of range", mutate(t, dr, "priority: 50}", "priority: 255}"), "services[0].keepalived.routers[1].priority", "255 is out of range: use 1 to 254", 62},
		{"priority missing", mutate(t, dr, "state: BACKUP, priority: 50}", "state: BACKUP}"), "services[0].keepalived.routers[1].priority", "missing: the router's priority", 62},
		{"not a state", mutate(t, dr, "state: BACKUP", "state: SLAVE"), "services[0].keepalived.routers[1].state", `"SLAVE" is not a VRRP state: use MASTER or BACKUP`, 62},
		{"one router", mutate(t, dr, routers, "        - {node: lvs1, state: MASTER, priority: 100}\n"), "services[0].keepalived.routers", "one router fails over to nobody", 0},
		{"no routers", mutate(t, dr, "      routers:\n"+routers, ""), "services[0].keepalived.routers", "missing: the nodes that share the VIP", 0},
		{"router unknown", mutate(t, dr, "{node: lvs2, state", "{node: lvs3, state"), "services[0].keepalived.routers[1].node", `no node named "lvs3" (did you mean "lvs1"?)`, 62},
		{"router not a director", mutate(t, dr, "{node: lvs2, state", "{node: web1, state"), "services[0].keepalived.routers[1].node", "web1 is a web: an IPVS service's routers are its directors", 62},
		{"router twice", mutate(t, dr, "{node: lvs2, state", "{node: lvs1, state"), "services[0].keepalived.routers[1].node", "lvs1 is listed twice among the routers", 62},
		{"vrrp-only router not a web node", mutate(t, web, "{node: web2, state", "{node: lvs1, state"), "services[0].keepalived.routers[1].node", "lvs1 is a director: a VRRP-only service's routers are the web nodes", 48},
		// The VRRP settings.
		{"vrrp missing", mutate(t, dr, "      "+vrrp+"\n", ""), "services[0].keepalived.vrrp", "missing: the VRRP settings", 0},
		{"virtual_router_id missing", mutate(t, dr, vrrp, "vrrp: {advert_int: 1}"), "services[0].keepalived.vrrp.virtual_router_id", "missing: the VRRP instance's id", 63},
		{"virtual_router_id out of range", mutate(t, dr, "virtual_router_id: 51", "virtual_router_id: 256"), "services[0].keepalived.vrrp.virtual_router_id", "256 is out of range: use 1 to 255", 63},
		{"advert_int 0", mutate(t, dr, "advert_int: 1", "advert_int: 0"), "services[0].keepalived.vrrp.advert_int", "0 is out of range", 63},
		{"auth_pass too long", mutate(t, dr, `auth_pass: "1111"`, `auth_pass: "123456789"`), "services[0].keepalived.vrrp.auth_pass", "9 characters: keepalived's PASS authentication uses at most 8", 63},
		{"auth_pass with a space", mutate(t, dr, `auth_pass: "1111"`, `auth_pass: "11 11"`), "services[0].keepalived.vrrp.auth_pass", "one word", 63},
		{"nopreempt not a bool", mutate(t, dr, vrrp, `vrrp: {virtual_router_id: 51, nopreempt: yes}`), "services[0].keepalived.vrrp.nopreempt", `expected true or false, found "yes"`, 63},
		{"unknown vrrp field", mutate(t, dr, "advert_int: 1", "advert_intt: 1"), "services[0].keepalived.vrrp.advert_intt", `unknown field "advert_intt" (did you mean "advert_int"?)`, 63},
		// Health checks.
		{"unknown checker", mutate(t, dr, "type: TCP_CHECK", "type: PING_CHECK"), "services[0].keepalived.health_check.type", `"PING_CHECK" is no checker lvslab sets up`, 64},
		{"checker missing", mutate(t, dr, "type: TCP_CHECK, ", ""), "services[0].keepalived.health_check.type", "missing: TCP_CHECK", 64},
		{"path on a TCP check", mutate(t, dr, "type: TCP_CHECK", "type: TCP_CHECK, path: /"), "services[0].keepalived.health_check.path", "a path is what HTTP_GET requests", 64},
		{"bad HTTP path", mutate(t, dr, "type: TCP_CHECK", "type: HTTP_GET, path: index.html"), "services[0].keepalived.health_check.path", `"index.html" is not a URL path`, 64},
		{"status code out of range", mutate(t, dr, "type: TCP_CHECK", "type: HTTP_GET, status_code: 42"), "services[0].keepalived.health_check.status_code", "42 is out of range: use 100 to 599", 64},
		{"health check port out of range", mutate(t, dr, "type: TCP_CHECK", "type: TCP_CHECK, port: 0"), "services[0].keepalived.health_check.port", "0 is out of range: use 1 to 65535", 64},
		{"connect_timeout 0", mutate(t, dr, "connect_timeout: 3", "connect_timeout: 0"), "services[0].keepalived.health_check.connect_timeout", "0 is out of range: use 1 to 300", 64},
		{"check of a UDP service", mutate(t, dr, "protocol: tcp", "protocol: udp"), "services[0].keepalived.health_check.type", "TCP_CHECK checks over TCP: a UDP service's real servers answer no TCP connection", 64},
		// Services and directors.
		{"second director without keepalived", mutate(t, dr, "    keepalived:\n      routers:\n"+routers+"      "+vrrp+"\n      "+check+"\n", ""), "nodes.lvs2.role", "a second director: lvslab labs have one director (lvs1), or several that share the VIP by keepalived", 0},
		{"service without keepalived beside one with", mutate(t, dr+second, "    keepalived:\n      routers: [{node: lvs1, priority: 50}, {node: lvs2, priority: 100}]\n      vrrp: {virtual_router_id: 51}\n", ""), "services[1]", "the lab has 2 directors: every service needs a keepalived block", 65},
		{"NAT under keepalived", mutate(t, dr, "mode: dr", "mode: nat"), "services[0].mode", "NAT under keepalived needs the real servers' gateway to move with the VIP", 54},
		{"one VIP in two instances", mutate(t, dr+second, "vip: 192.168.4.16", "vip: 192.168.4.15", "port: 80\n    mode: dr\n    scheduler: rr\n    real_servers: [", "port: 443\n    mode: dr\n    scheduler: rr\n    real_servers: ["), "services[1].vip", "192.168.4.15 is also the VIP of services[0], in another VRRP instance", 66},
		{"sync on two instances", mutate(t, strings.Replace(dr+second, "vrrp: {virtual_router_id: 51}", "vrrp: {virtual_router_id: 52}\n      sync: true", 1), check, check+"\n      sync: true"), "services[1].keepalived.sync", "connection sync runs for one VRRP instance only (services[0] has it already)", 75},
		// VRRP-only services.
		{"mode vrrp without keepalived", mutate(t, web, "    keepalived:\n      routers:\n        - {node: web1, state: MASTER, priority: 100}\n        - {node: web2, state: BACKUP, priority: 50}\n      vrrp: {virtual_router_id: 51, advert_int: 1, auth_pass: \"1111\"}\n", ""), "services[0].mode", "mode vrrp is a VIP that keepalived moves between routers", 44},
		{"vrrp-only with real servers", mutate(t, web, "    mode: vrrp", "    real_servers: [{node: web1}]\n    mode: vrrp"), "services[0].real_servers", "a VRRP-only service has no IPVS to forward to real servers", 44},
		{"vrrp-only with a health check", mutate(t, web, `auth_pass: "1111"}`, "auth_pass: \"1111\"}\n      health_check: {type: TCP_CHECK}"), "services[0].keepalived.health_check", "no real servers for keepalived to check", 50},
		{"vrrp-only with sync", mutate(t, web, `auth_pass: "1111"}`, "auth_pass: \"1111\"}\n      sync: true"), "services[0].keepalived.sync", "a VRRP-only service has none", 50},
		{"vrrp-only with a scheduler", mutate(t, web, "    mode: vrrp", "    scheduler: rr\n    mode: vrrp"), "services[0].scheduler", "no IPVS schedules a VRRP-only service", 44},
		{"vrrp-only over UDP", mutate(t, web, "    mode: vrrp", "    protocol: udp\n    mode: vrrp"), "services[0].protocol", "over TCP: leave protocol out", 44},
		{"vrrp-only with a mark", mutate(t, web, "    port: 80\n    mode: vrrp", "    fwmark: 3\n    ports: [80]\n    mode: vrrp"), "services[0].fwmark", "a VRRP-only service has none", 43},
		{"vrrp-only VIP is a node's address", mutate(t, web, "vip: 192.168.4.80", "vip: 192.168.4.100"), "services[0].vip", "192.168.4.100 is web1's own address", 42},
		{"vrrp-only VIP is the broadcast address", mutate(t, web, "vip: 192.168.4.80", "vip: 192.168.4.255"), "services[0].vip", "network or broadcast address of 192.168.4.0/24", 42},
	}
	expectProblems(t, cases, true)
}

// A second service on the same VRRP instance (same id, routers and
// settings) shares it: no problem, even on the same VIP.
func TestKeepalivedServicesShareAnInstance(t *testing.T) {
	dr := keepalivedLab(t, "tedu-keepalived-dr")
	src := dr + `  - name: https
    vip: 192.168.4.15
    port: 443
    mode: dr
    scheduler: rr
    real_servers: [{node: web1}, {node: web2}]
    keepalived:
      routers:
        - {node: lvs1, state: MASTER, priority: 100}
        - {node: lvs2, state: BACKUP, priority: 50}
      vrrp: {virtual_router_id: 51, advert_int: 1, auth_pass: "1111"}
`
	lab, err := Load("lab.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !lab.Services[0].Keepalived.SameInstance(lab.Services[1].Keepalived) {
		t.Error("not one instance")
	}
}

// Labs without keepalived decode as before: no block, no VRRP services.
func TestClassicLabsHaveNoKeepalived(t *testing.T) {
	for _, f := range []string{"nat.yaml", "dr.yaml"} {
		lab, err := Load(f, []byte(readTestdata(t, f)))
		if err != nil {
			t.Fatal(err)
		}
		if len(lab.KeepalivedServices()) != 0 || len(lab.VRRPServices) != 0 || lab.Services[0].Keepalived != nil || len(lab.KeepalivedNodes()) != 0 {
			t.Errorf("%s: keepalived appeared", f)
		}
	}
}

// graph shows both directors, which one is MASTER, and the VRRP-only VIP.
func TestKeepalivedGraph(t *testing.T) {
	dr, err := Load("lab.yaml", []byte(keepalivedLab(t, "tedu-keepalived-dr")))
	if err != nil {
		t.Fatal(err)
	}
	ascii, _ := Graph(dr, GraphASCII)
	contains.All(t, "keepalived DR graph", ascii,
		"lvs1       eth0   192.168.4.5/24     DIP",
		"lvs2       eth0   192.168.4.6/24     DIP",
		"VIP on   lvs1 eth0 192.168.4.15/24 by keepalived (MASTER, holds it, priority 100)",
		"VIP on   lvs2 eth0 192.168.4.15/24 by keepalived (BACKUP, takes it over, priority 50)",
		"VIP on   web1 lo:0 192.168.4.15/32",
		"request  client1 -> lvs1 (lvs2 on failover) -> web1 192.168.4.100:80 w1 | web2 192.168.4.200:80 w1",
	)
	if strings.Contains(ascii, "eth0:0") {
		t.Errorf("keepalived's VIP drawn as a hand alias:\n%s", ascii)
	}
	dot, _ := Graph(dr, GraphDot)
	if !strings.Contains(dot, `vip_0 -- node_lvs2 [label="eth0 192.168.4.15/24 by keepalived (BACKUP, takes it over, priority 50)", style=dotted]`) {
		t.Errorf("dot lacks the backup:\n%s", dot)
	}

	web, err := Load("lab.yaml", []byte(keepalivedLab(t, "tedu-keepalived-web")))
	if err != nil {
		t.Fatal(err)
	}
	ascii, _ = Graph(web, GraphASCII)
	contains.All(t, "keepalived web graph", ascii,
		"web: tcp 192.168.4.80:80, VRRP only (no IPVS), virtual_router_id 51",
		"VIP on   web1 eth0 192.168.4.80/32 by keepalived (MASTER, holds it, priority 100)",
		"VIP on   web2 eth0 192.168.4.80/32 by keepalived (BACKUP, takes it over, priority 50)",
		"request  client1 -> web1 (web2 on failover), which serves the VIP itself",
	)
	mermaid, _ := Graph(web, GraphMermaid)
	if !strings.Contains(mermaid, `vip_0 -.-|"eth0 192.168.4.80/32 by keepalived (MASTER, holds it, priority 100)"| node_web1`) ||
		!strings.Contains(mermaid, `node_web1 -.->|"reply from VIP"| node_client1`) {
		t.Errorf("mermaid:\n%s", mermaid)
	}
}
