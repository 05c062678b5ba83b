package ipvstest

import (
	"strings"
	"testing"

	"github.com/lvslab/lvslab/topology/ipvs"
)

const natWRR = "-A -t 192.168.4.5:80 -s wrr\n" +
	"-a -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1 -x 9\n" +
	"-a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 2\n"

func kernel(t *testing.T) *Kernel {
	t.Helper()
	svcs, err := ipvs.ParseRules(natWRR)
	if err != nil {
		t.Fatal(err)
	}
	return New(svcs)
}

func TestListingsReadBackByTheParser(t *testing.T) {
	k := kernel(t)
	for i := 0; i < 3; i++ {
		k.Schedule("-t 192.168.4.5:80")
	}
	out, err := k.Run(ipvs.TableCommand + "; " + ipvs.ThresholdsCommand)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := ipvs.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if d := ipvs.Differences(tab.Services, k.Services); len(d) > 0 {
		t.Errorf("listing read back differs: %v\n%s", d, out)
	}
	s := tab.Services[0]
	// the kernel lists the last added first; wrr 2:1 gave web2 two of three
	if s.Destinations[0].Key() != "192.168.2.200:80" || s.Destinations[0].Stats.Connections != 2 || s.Destinations[1].InactiveConnections != 1 || s.Stats.Connections != 3 {
		t.Errorf("counters: %+v", s)
	}
	save, _ := k.Run(ipvs.SaveCommand)
	if strings.Contains(save, "-x") || !strings.HasPrefix(save, "-A -t 192.168.4.5:80 -s wrr\n-a -t 192.168.4.5:80 -r 192.168.2.100:80") {
		t.Errorf("ipvsadm -Sn: sorted, without thresholds:\n%s", save)
	}
}

func TestEditsAndRefusals(t *testing.T) {
	k := kernel(t)
	for _, c := range []struct{ cmd, err string }{
		{"ipvsadm -d -t 192.168.4.5:80 -r 192.168.2.100:80", ""},
		{"ipvsadm -d -t 192.168.4.5:80 -r 192.168.2.100:80", "No such destination"},
		{"ipvsadm -a -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 1", "Destination already exists"},
		{"ipvsadm -e -t 192.168.4.5:80 -r 192.168.2.200:80 -m -w 0", ""},
		{"ipvsadm -A -t 192.168.4.5:80 -s rr", "Service already exists"},
		{"ipvsadm -E -t 192.168.4.5:80 -s rr", ""},
		{"ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1", "No such service"},
	} {
		_, err := k.Run(c.cmd)
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: error %v, want %q", c.cmd, err, c.err)
		}
	}
	s := k.Service("-t 192.168.4.5:80")
	if s.SchedName != "rr" || len(s.Destinations) != 1 || s.Destinations[0].Weight != 0 {
		t.Errorf("table: %+v", s)
	}
	if k.Schedule(s.Key()) != nil {
		t.Error("a weight 0 destination took a connection")
	}
	k.Frozen = true
	if _, err := k.Run(ipvs.ClearCommand); err != nil || k.Service(s.Key()) == nil {
		t.Error("a frozen table changed")
	}
}
