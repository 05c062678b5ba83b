package ipvs

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %#v\n want %#v", what, got, want)
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

func TestParseRulesRoundTrip(t *testing.T) {
	svcs, err := ParseRules(richSave)
	if err != nil {
		t.Fatal(err)
	}
	if got := Rules(svcs); got != richSave {
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

func TestParseRulesDefaultsAndErrors(t *testing.T) {
	svcs, err := ParseRules("-A -t 1.2.3.4:80\n-a -t 1.2.3.4:80 -r 5.6.7.8\n\n")
	if err != nil {
		t.Fatal(err)
	}
	d := svcs[0].Destinations[0]
	if svcs[0].SchedName != "wlc" || d.Port != 80 || d.Weight != 1 || d.ConnectionFlags != ConnectionFlagDirectRoute {
		t.Errorf("defaults: %+v %+v", svcs[0], d)
	}
	if got, _ := ParseRules(""); len(got) != 0 {
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
		if _, err := ParseRules(bad); err == nil {
			t.Errorf("ParseRules(%q): no error", bad)
		} else if !strings.Contains(err.Error(), "line") {
			t.Errorf("error does not name the line: %v", err)
		}
	}
}

func mustParse(t *testing.T, s string) []Service {
	t.Helper()
	svcs, err := ParseRules(s)
	if err != nil {
		t.Fatal(err)
	}
	return svcs
}

const natRR = `-A -t 192.168.4.5:80 -s rr
-a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1
-a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 2
`

func TestDiff(t *testing.T) {
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
			eq(t, "commands", Commands(Diff(cur, mustParse(t, c.desired))), c.want)
		})
	}
	eq(t, "from nothing", Commands(Diff(nil, cur)), []string{
		"ipvsadm -A -t 192.168.4.5:80 -s rr",
		"ipvsadm -a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1",
		"ipvsadm -a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 2",
	})
	eq(t, "differences", Differences(cur, mustParse(t, strings.Replace(natRR, "-s rr", "-s wrr", 1))),
		[]string{"service differs, want -t 192.168.4.5:80 -s wrr"})
	// observed fields are not a difference
	busy := mustParse(t, natRR)
	busy[0].Destinations[0].ActiveConnections, busy[0].Destinations[1].Stats.Connections = 3, 9
	eq(t, "busy table", Diff(busy, cur), []Op(nil))
}

func TestCommandsMatchReference(t *testing.T) {
	eq(t, "commands", Commands(Build(mustParse(t, natRR))), []string{
		"ipvsadm -A -t 192.168.4.5:80 -s rr",
		"ipvsadm -a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1",
		"ipvsadm -a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 2",
	})
}

func TestTunnelTypeDefault(t *testing.T) {
	old := mustParse(t, "-A -t 1.1.1.1:80 -s rr\n-a -t 1.1.1.1:80 -r 2.2.2.2:80 -i -w 1\n")
	now := mustParse(t, "-A -t 1.1.1.1:80 -s rr\n-a -t 1.1.1.1:80 -r 2.2.2.2:80 -i -w 1 --tun-type ipip\n")
	if d := Diff(old, now); len(d) != 0 {
		t.Errorf("older ipvsadm's tunnel line differs: %v", d)
	}
}

func TestParseOpRoundTrip(t *testing.T) {
	for _, line := range strings.Split(strings.TrimSpace(richSave), "\n") {
		for _, cmd := range []string{line, "ipvsadm " + strings.Replace(line, "-a ", "-e ", 1)} {
			op, err := ParseOp(cmd)
			if err != nil {
				t.Fatal(err)
			}
			if got := op.Command(); got != "ipvsadm "+strings.TrimPrefix(cmd, "ipvsadm ") {
				t.Errorf("ParseOp(%q).Command() = %q", cmd, got)
			}
		}
	}
	for _, cmd := range []string{"ipvsadm -d -t 1.2.3.4:80 -r 5.6.7.8:80", "ipvsadm -D -f 7", "ipvsadm -C"} {
		if op, err := ParseOp(cmd); err != nil || op.Command() != cmd {
			t.Errorf("ParseOp(%q) = %q, %v", cmd, op.Command(), err)
		}
	}
	for _, bad := range []string{"ipvsadm -Z -t 1.2.3.4:80", "ipvsadm -D -t 1.2.3.4:80 -s rr", "ipvsadm -a -t 1.2.3.4:80 -m"} {
		if _, err := ParseOp(bad); err == nil {
			t.Errorf("ParseOp(%q): no error", bad)
		}
	}
}

const listOut = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.168.4.15:80 wlc persistent 300 mask 255.255.255.0
  -> 192.168.4.200:80             Route   2      1          5         
  -> 192.168.4.100:80             Route   1      0          3         
UDP  10.0.0.1:53 rr ops
  -> 10.0.0.2:53                  Masq    1      0          0         
FWM  7 sh (sh-fallback,sh-port)
  -> 10.0.0.3:0                   Tunnel  0      0          0         
`

const statsOut = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  192.168.4.15:80                    12       72        0     4032        0
  -> 192.168.4.200:80                    8       48        0     2688        0
  -> 192.168.4.100:80                    4       24        0     1344        0
UDP  10.0.0.1:53                   123456K        1        2        3    4567M
  -> 10.0.0.2:53                         1        1        2        3        4
FWM  7                                   0        0        0        0        0
  -> 10.0.0.3:0                          0        0        0        0        0
`

const rateOut = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
TCP  192.168.4.15:80                     3       18        0     1008        0
  -> 192.168.4.200:80                    2       12        0      672        0
`

const thresholdsOut = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn
  -> RemoteAddress:Port
TCP  192.168.4.15:80 wlc persistent 300 mask 255.255.255.0
  -> 192.168.4.200:80             100        10         1          5
  -> 192.168.4.100:80             0          0          0          3
`

func TestParseListingsMerged(t *testing.T) {
	tab, err := Parse(listOut + statsOut + rateOut + thresholdsOut)
	if err != nil {
		t.Fatal(err)
	}
	svcs := tab.Services
	if len(svcs) != 3 {
		t.Fatalf("%d services", len(svcs))
	}
	s := svcs[0]
	if s.Key() != "-t 192.168.4.15:80" || s.SchedName != "wlc" || s.Persistence() != 300 || s.Stats.Connections != 12 || s.Netmask.String() != "255.255.255.0" || s.Stats.CPS != 3 {
		t.Errorf("service: %+v", s)
	}
	if d := s.Destinations[0]; d.Key() != "192.168.4.200:80" || ForwardName(d.ConnectionFlags) != "Route" || d.Weight != 2 ||
		d.ActiveConnections != 1 || d.InactiveConnections != 5 || d.Stats.Connections != 8 || d.Stats.BytesIn != 2688 ||
		d.UpperThreshold != 100 || d.LowerThreshold != 10 || d.Stats.BPSIn != 672 {
		t.Errorf("dest: %+v", d)
	}
	if svcs[1].Key() != "-u 10.0.0.1:53" || svcs[1].Stats.Connections != 123456000 || svcs[1].Flags&FlagOnePacket == 0 {
		t.Errorf("udp: %+v", svcs[1])
	}
	if f := svcs[2]; f.Key() != "-f 7" || ForwardName(f.Destinations[0].ConnectionFlags) != "Tunnel" || f.SchedFlags != "sh-fallback,sh-port" {
		t.Errorf("fwm: %+v", f)
	}
	if Find(svcs, "-t 192.168.4.15:80") != &svcs[0] || Find(svcs, "-f 7") != &svcs[2] || Find(svcs, "-t 1.1.1.1:1") != nil {
		t.Error("Find")
	}
	for _, bad := range []string{
		"  -> 1.2.3.4:80 Route 1 0 0\n",
		"TCP  1.2.3.4:80 rr\n  -> 1.2.3.4:80 Route one 0 0\n",
		"TCP  1.2.3.4:80 rr\n  -> 1.2.3.4:80 Route\n",
		"TCP  1.2.3.4:80 rr\n  -> 1.2.3.4:80 Bounce 1 0 0\n",
		"bogus line\n",
		"Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\nTCP  1.2.3.4:80  12 x 0 0 0\n",
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse accepted %q", bad)
		}
	}
	if v, err := parseLargeNum("12T"); err != nil || v != 12e12 {
		t.Errorf("12T = %d %v", v, err)
	}
}

func TestParseThresholdsAfterRules(t *testing.T) {
	// what "ipvsadm -Sn" leaves out, "ipvsadm -Ln --thresholds" adds
	rules := "-A -t 10.0.0.100:80 -s wrr\n-a -t 10.0.0.100:80 -r 10.0.1.11:8080 -m -w 3\n-A -f 7 -s rr\n-a -f 7 -r 10.0.1.12:0 -g -w 1\n"
	listing := `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn
  -> RemoteAddress:Port
TCP  10.0.0.100:80 wrr
  -> 10.0.1.11:8080               100        10         0          0
FWM  7 rr
  -> 10.0.1.12:0                  5          0          0          0
`
	svcs, err := ParseRules(rules + listing)
	if err != nil {
		t.Fatal(err)
	}
	if d := svcs[0].Destinations[0]; d.UpperThreshold != 100 || d.LowerThreshold != 10 || d.Weight != 3 || d.ConnectionFlags != ConnectionFlagMasq {
		t.Errorf("tcp: %+v", d)
	}
	if d := svcs[1].Destinations[0]; d.UpperThreshold != 5 || d.LowerThreshold != 0 {
		t.Errorf("fwm: %+v", d)
	}
}

func TestParseConnections(t *testing.T) {
	out := `IPVS connection entries
pro expire state       source             virtual            destination
TCP 01:56  SYN_RECV    192.168.4.10:41234 192.168.4.15:80    192.168.4.100:80
TCP 00:07  FIN_WAIT    192.168.4.10:41236 192.168.4.15:80    192.168.4.200:80
`
	tab, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Conns) != 2 || len(tab.Services) != 0 {
		t.Fatalf("%+v", tab)
	}
	c := tab.Conns[0]
	if c.Protocol != "tcp" || c.Expire != 116*time.Second || c.State != "SYN_RECV" || c.Source.String() != "192.168.4.10:41234" ||
		c.Virtual.String() != "192.168.4.15:80" || c.Destination.String() != "192.168.4.100:80" {
		t.Errorf("conn: %+v", c)
	}
	if _, err := Parse("IPVS connection entries\nTCP 1m SYN_RECV 1.2.3.4:5 1.2.3.4:80 5.6.7.8:80\n"); err == nil {
		t.Error("a bad expiry was accepted")
	}
}
