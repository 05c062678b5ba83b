package topology

import (
	"strings"
	"testing"
)

func loadTestLab(t *testing.T, name string) *Lab {
	t.Helper()
	lab, err := Load(name, []byte(readTestdata(t, name)))
	if err != nil {
		t.Fatal(err)
	}
	return lab
}

func TestGraphASCIILabelsAndReplyPath(t *testing.T) {
	nat, err := Graph(loadTestLab(t, "nat.yaml"), GraphASCII)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"[private2 192.168.2.0/24]  host 192.168.2.254",
		"lvs1       eth0   192.168.4.5/24     VIP",
		"lvs1       eth1   192.168.2.5/24     DIP",
		"web1       eth1   192.168.2.100/24   RIP  gw 192.168.2.5",
		"client1    eth0   192.168.4.10/24    CIP  gw 192.168.4.5",
		"web1       eth0   down",
		"web: tcp 192.168.4.5:80, NAT, scheduler rr",
		"reply    real server -> lvs1 (their gateway",
	} {
		if !strings.Contains(nat, want) {
			t.Errorf("NAT graph lacks %q:\n%s", want, nat)
		}
	}
	dr, _ := Graph(loadTestLab(t, "dr.yaml"), GraphASCII)
	for _, want := range []string{
		"VIP on   lvs1 eth0:0 192.168.4.15/24",
		"VIP on   web1 lo:0 192.168.4.15/32",
		"reply    real server -> client1 directly",
	} {
		if !strings.Contains(dr, want) {
			t.Errorf("DR graph lacks %q:\n%s", want, dr)
		}
	}
	if strings.Contains(dr, "lvs1       eth0   192.168.4.5/24     VIP") {
		t.Error("in DR the director's address is its DIP, not the VIP")
	}
}

func TestGraphDotAndMermaid(t *testing.T) {
	lab := loadTestLab(t, "dr.yaml")
	dot, err := Graph(lab, GraphDot)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dot, `graph "tedu" {`) || !strings.HasSuffix(dot, "}\n") ||
		!strings.Contains(dot, `node_web1 -- net_private1 [label="eth0 192.168.4.100/24 RIP"]`) ||
		!strings.Contains(dot, `node_web1 -- node_client1 [style=dashed, color=blue, label="reply from VIP"]`) {
		t.Errorf("dot output:\n%s", dot)
	}
	mm, _ := Graph(loadTestLab(t, "nat.yaml"), GraphMermaid)
	if !strings.HasPrefix(mm, "flowchart LR\n") || !strings.Contains(mm, "node_web1 -. reply via director .-> node_lvs1") ||
		!strings.Contains(mm, "node_web1 -.-|eth0 down| net_private1") {
		t.Errorf("mermaid output:\n%s", mm)
	}
	if _, err := Graph(lab, "png"); err == nil {
		t.Error("unknown format accepted")
	}
}
