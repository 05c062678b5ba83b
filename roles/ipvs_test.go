package roles

import (
	"strings"
	"testing"
)

func TestIPVSRulesTeduNAT(t *testing.T) {
	lab := loadLab(t, "tedu-nat")
	got := IPVSRules(stateOf(t, lab, "lvs1"))
	want := "-A -t 192.168.4.5:80 -s rr\n" +
		"-a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1\n" +
		"-a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 2\n"
	if got != want {
		t.Errorf("rules:\n%s\nwant:\n%s", got, want)
	}
	if IPVSRules(stateOf(t, lab, "web1")) != "" {
		t.Error("a web node has no IPVS rules")
	}
}

const richSave = `-A -t 192.168.4.15:80 -s wlc -p 300
-a -t 192.168.4.15:80 -r 192.168.4.100:80 -g -w 1
-a -t 192.168.4.15:80 -r 192.168.4.200:80 -g -w 2 -x 50 -y 10
-A -f 7 -s sh -p 60 -M 255.255.255.0
-a -f 7 -r 192.168.4.100:0 -g -w 1
-A -u 192.168.4.15:53 -s rr
-a -u 192.168.4.15:53 -r 10.0.0.1:53 -i -w 3 --tun-type ipip
-A -t 10.1.1.1:443 -s mh -b mh-fallback,mh-port
-a -t 10.1.1.1:443 -r 10.1.2.1:8443 -m -w 0
`

func TestParseIPVSSaveRoundTrip(t *testing.T) {
	svcs, err := ParseIPVSSave(richSave)
	if err != nil {
		t.Fatal(err)
	}
	if got := RenderIPVS(svcs); got != richSave {
		t.Errorf("round trip:\n%s\nwant:\n%s", got, richSave)
	}
	if len(svcs) != 4 {
		t.Fatalf("%d services", len(svcs))
	}
	p := svcs[0]
	if p.Flags&FlagPersistent == 0 || p.Timeout != 300 || p.SchedName != WeightedLeastConnection {
		t.Errorf("persistence: %+v", p)
	}
	if d := p.Destinations[1]; d.UpperThreshold != 50 || d.LowerThreshold != 10 || d.Weight != 2 || d.ConnectionFlags != ConnectionFlagDirectRoute {
		t.Errorf("thresholds: %+v", d)
	}
	if f := svcs[1]; f.FWMark != 7 || f.Key() != "-f 7" || f.Netmask.String() != "255.255.255.0" || f.Timeout != 60 {
		t.Errorf("fwmark: %+v", f)
	}
	if u := svcs[2]; u.Protocol != "udp" || u.Port != 53 || u.Destinations[0].ConnectionFlags != ConnectionFlagTunnel || u.Destinations[0].Weight != 3 {
		t.Errorf("udp/tunnel: %+v", u)
	}
	if m := svcs[3]; m.SchedFlags != "mh-fallback,mh-port" || m.Destinations[0].Weight != 0 || m.Destinations[0].Port != 8443 {
		t.Errorf("mh: %+v", m)
	}
}

func TestParseIPVSSaveDefaultsAndErrors(t *testing.T) {
	svcs, err := ParseIPVSSave("-A -t 1.2.3.4:80\n-a -t 1.2.3.4:80 -r 5.6.7.8\n\n")
	if err != nil {
		t.Fatal(err)
	}
	d := svcs[0].Destinations[0]
	if svcs[0].SchedName != "wlc" || d.Port != 80 || d.Weight != 1 || d.ConnectionFlags != ConnectionFlagDirectRoute {
		t.Errorf("defaults: %+v %+v", svcs[0], d)
	}
	if got, _ := ParseIPVSSave(""); len(got) != 0 {
		t.Errorf("empty table: %v", got)
	}
	for _, bad := range []string{
		"-a -t 1.2.3.4:80 -r 5.6.7.8:80 -m -w 1",      // server before service
		"-A -t 1.2.3.4 -s rr",                         // no port
		"-A -t 1.2.3.4:80 -s rr -Q",                   // unknown option
		"-X -t 1.2.3.4:80",                            // unknown rule
		"-A -t 1.2.3.4:80 -s rr\n-A -t 1.2.3.4:80",    // twice
		"-A -t 1.2.3.4:80 -s rr\n-a -t 1.2.3.4:80 -m", // no -r
	} {
		if _, err := ParseIPVSSave(bad); err == nil {
			t.Errorf("ParseIPVSSave(%q): no error", bad)
		} else if !strings.Contains(err.Error(), "line") {
			t.Errorf("error does not name the line: %v", err)
		}
	}
}

func mustParse(t *testing.T, s string) []Service {
	t.Helper()
	svcs, err := ParseIPVSSave(s)
	if err != nil {
		t.Fatal(err)
	}
	return svcs
}

const natRR = `-A -t 192.168.4.5:80 -s rr
-a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1
-a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 2
`

func TestDiffIPVS(t *testing.T) {
	cur := mustParse(t, natRR)
	cases := []struct {
		name, desired string
		want          []string
	}{
		{"same", natRR, nil},
		{"same, other order", "-A -t 192.168.4.5:80 -s rr\n-a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 2\n-a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1\n", nil},
		{"rr to wrr", strings.Replace(natRR, "-s rr", "-s wrr", 1),
			[]string{"ipvsadm -E -t 192.168.4.5:80 -s wrr"}},
		{"weight", strings.Replace(natRR, "-m -w 2", "-m -w 5", 1),
			[]string{"ipvsadm -e -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 5"}},
		{"added server", natRR + "-a -t 192.168.4.5:80 -r 192.168.2.250:80 -m -w 1\n",
			[]string{"ipvsadm -a -t 192.168.4.5:80 -r 192.168.2.250:80 -m -w 1"}},
		{"removed server", "-A -t 192.168.4.5:80 -s rr\n-a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 2\n",
			[]string{"ipvsadm -d -t 192.168.4.5:80 -r 192.168.2.100:80"}},
		{"persistence", strings.Replace(natRR, "-s rr", "-s rr -p 300", 1),
			[]string{"ipvsadm -E -t 192.168.4.5:80 -s rr -p 300"}},
		{"thresholds", strings.Replace(natRR, "-m -w 1", "-m -w 1 -x 10", 1),
			[]string{"ipvsadm -e -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1 -x 10"}},
		{"new service, old one gone", "-A -t 192.168.4.15:80 -s wlc\n-a -t 192.168.4.15:80 -r 192.168.4.100:80 -g -w 1\n",
			[]string{"ipvsadm -D -t 192.168.4.5:80", "ipvsadm -A -t 192.168.4.15:80 -s wlc", "ipvsadm -a -t 192.168.4.15:80 -r 192.168.4.100:80 -g -w 1"}},
		{"forwarding method", strings.ReplaceAll(natRR, "-m", "-g"),
			[]string{"ipvsadm -e -t 192.168.4.5:80 -r 192.168.2.100:80 -g -w 1", "ipvsadm -e -t 192.168.4.5:80 -r 192.168.2.200:80 -g -w 2"}},
		{"everything gone", "", []string{"ipvsadm -D -t 192.168.4.5:80"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eq(t, "commands", DiffIPVS(cur, mustParse(t, c.desired)), c.want)
		})
	}
	eq(t, "from nothing", DiffIPVS(nil, cur), []string{
		"ipvsadm -A -t 192.168.4.5:80 -s rr",
		"ipvsadm -a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1",
		"ipvsadm -a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 2",
	})
	eq(t, "differences", IPVSDifferences(cur, mustParse(t, strings.Replace(natRR, "-s rr", "-s wrr", 1))),
		[]string{"service differs, want -t 192.168.4.5:80 -s wrr"})
}

func TestCommandsMatchReference(t *testing.T) {
	eq(t, "commands", Commands(mustParse(t, natRR)), []string{
		"ipvsadm -A -t 192.168.4.5:80 -s rr",
		"ipvsadm -a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1",
		"ipvsadm -a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 2",
	})
}

func TestTunnelTypeDefault(t *testing.T) {
	old := mustParse(t, "-A -t 1.1.1.1:80 -s rr\n-a -t 1.1.1.1:80 -r 2.2.2.2:80 -i -w 1\n")
	now := mustParse(t, "-A -t 1.1.1.1:80 -s rr\n-a -t 1.1.1.1:80 -r 2.2.2.2:80 -i -w 1 --tun-type ipip\n")
	if d := DiffIPVS(old, now); len(d) != 0 {
		t.Errorf("older ipvsadm's tunnel line differs: %v", d)
	}
}

func TestApplyThresholds(t *testing.T) {
	svcs := mustParse(t, "-A -t 10.0.0.100:80 -s wrr\n-a -t 10.0.0.100:80 -r 10.0.1.11:8080 -m -w 3\n-A -f 7 -s rr\n-a -f 7 -r 10.0.1.12:0 -g -w 1\n")
	listing := `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn
  -> RemoteAddress:Port
TCP  10.0.0.100:80 wrr
  -> 10.0.1.11:8080               100        10         0          0
FWM  7 rr
  -> 10.0.1.12:0                  5          0          0          0
`
	if err := ApplyThresholds(svcs, listing); err != nil {
		t.Fatal(err)
	}
	if d := svcs[0].Destinations[0]; d.UpperThreshold != 100 || d.LowerThreshold != 10 {
		t.Errorf("tcp: %+v", d)
	}
	if d := svcs[1].Destinations[0]; d.UpperThreshold != 5 || d.LowerThreshold != 0 {
		t.Errorf("fwm: %+v", d)
	}
}
