package topology

import (
	"strings"
	"testing"

	"github.com/lvslab/lvslab/topology/testkit/contains"
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
	contains.All(t, "NAT graph", nat,
		"[private2 192.168.2.0/24]  host 192.168.2.254",
		"lvs1       eth0   192.168.4.5/24     VIP",
		"lvs1       eth1   192.168.2.5/24     DIP",
		"web1       eth1   192.168.2.100/24   RIP  gw 192.168.2.5",
		"client1    eth0   192.168.4.10/24    CIP  gw 192.168.4.5",
		"web1       eth0   down",
		"web: tcp 192.168.4.5:80, NAT, scheduler rr",
		"reply    real server -> lvs1 (their gateway",
	)
	dr, _ := Graph(loadTestLab(t, "dr.yaml"), GraphASCII)
	contains.All(t, "DR graph", dr,
		"VIP on   lvs1 eth0:0 192.168.4.15/24",
		"VIP on   web1 lo:0 192.168.4.15/32",
		"reply    real server -> client1 directly",
	)
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
		!strings.Contains(dot, `node_web1 -- node_client1 [label="reply from VIP", dir=forward, style=dashed, color=blue]`) {
		t.Errorf("dot output:\n%s", dot)
	}
	mm, _ := Graph(loadTestLab(t, "nat.yaml"), GraphMermaid)
	if !strings.HasPrefix(mm, "flowchart LR\n") || !strings.Contains(mm, `node_web1 -.->|"reply via director"| node_lvs1`) ||
		!strings.Contains(mm, "node_web1 -.-|eth0 down| net_private1") {
		t.Errorf("mermaid output:\n%s", mm)
	}
	if _, err := Graph(lab, "png"); err == nil {
		t.Error("unknown format accepted")
	}
}

// issue 13: the VIP is a node of its own in dot and mermaid, tied to where
// it lives (the director's eth0:0, lo:0 of every DR real server), and NAT
// draws the request path as well as the replies.
func TestGraphVIPAndBothPaths(t *testing.T) {
	dr := loadTestLab(t, "dr.yaml")
	nat := loadTestLab(t, "nat.yaml")
	mmDR, _ := Graph(dr, GraphMermaid)
	mmNAT, _ := Graph(nat, GraphMermaid)
	dotDR, _ := Graph(dr, GraphDot)
	dotNAT, _ := Graph(nat, GraphDot)
	for _, c := range []struct {
		name, out string
		want      []string
	}{
		{"mermaid DR", mmDR, []string{
			`vip_0{{"VIP 192.168.4.15<br/>web: tcp 192.168.4.15:80, DR, scheduler wlc"}}`,
			`vip_0 -.-|"eth0:0 192.168.4.15/24"| node_lvs1`,
			`vip_0 -.-|"lo:0 192.168.4.15/32"| node_web1`,
			`vip_0 -.-|"lo:0 192.168.4.15/32"| node_web2`,
			`node_client1 -->|"request"| vip_0`,
			`node_lvs1 -->|"direct routing (-g) w2"| node_web2`,
			`node_web1 -.->|"reply from VIP"| node_client1`,
		}},
		{"mermaid NAT", mmNAT, []string{
			`vip_0 -.-|"eth0 192.168.4.5/24"| node_lvs1`,
			`node_client1 -->|"request"| vip_0`,
			`node_lvs1 -->|"masquerade (-m) w1"| node_web1`,
			`node_lvs1 -->|"masquerade (-m) w2"| node_web2`,
			`node_web2 -.->|"reply via director"| node_lvs1`,
			`node_lvs1 -.->|"reply from VIP"| node_client1`,
		}},
		{"dot DR", dotDR, []string{
			`vip_0 [shape=hexagon, label="VIP 192.168.4.15\nweb: tcp 192.168.4.15:80, DR, scheduler wlc"];`,
			`vip_0 -- node_lvs1 [label="eth0:0 192.168.4.15/24", style=dotted];`,
			`vip_0 -- node_web1 [label="lo:0 192.168.4.15/32", style=dotted];`,
			`vip_0 -- node_web2 [label="lo:0 192.168.4.15/32", style=dotted];`,
			`node_client1 -- vip_0 [label="request", dir=forward, color=darkgreen];`,
		}},
		{"dot NAT", dotNAT, []string{
			`node_lvs1 -- node_web1 [label="masquerade (-m) w1", dir=forward, color=darkgreen];`,
			`node_lvs1 -- node_client1 [label="reply from VIP", dir=forward, style=dashed, color=blue];`,
		}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.out, w) {
				t.Errorf("%s lacks %s:\n%s", c.name, w, c.out)
			}
		}
	}
	if strings.Contains(dotDR, "shape=note") {
		t.Error("dot still hides the VIP in a note")
	}
	if strings.Contains(mmNAT, "lo:0") || strings.Contains(dotNAT, "lo:0") {
		t.Error("a NAT lab has no VIP on lo:0")
	}
}

// issue 13: node names over 10 characters keep the ascii columns aligned.
func TestGraphASCIIColumnsFitLongNames(t *testing.T) {
	src := strings.NewReplacer("web1", "webserver-east1", "client1", "student-desktop-07").Replace(readTestdata(t, "nat.yaml"))
	lab, err := Load("long.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := Graph(lab, GraphASCII)
	nicCol, addrCol := -1, -1
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "  ├── ") && !strings.HasPrefix(line, "  └── ") {
			continue
		}
		rows++
		f := strings.Fields(line)
		nic := strings.Index(line, " "+f[2]+" ") + 1
		addr := strings.Index(line[nic+len(f[2]):], f[3]) + nic + len(f[2])
		if nicCol == -1 {
			nicCol, addrCol = nic, addr
		}
		if nic != nicCol || addr != addrCol {
			t.Errorf("columns moved (NIC at %d, want %d; address at %d, want %d):\n%s", nic, nicCol, addr, addrCol, out)
			break
		}
	}
	if rows < 8 || !strings.Contains(out, "student-desktop-07 eth0") {
		t.Errorf("%d rows:\n%s", rows, out)
	}
}
