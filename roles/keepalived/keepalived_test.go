package keepalived

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/testkit/contains"
	"github.com/lvslab/lvslab/topology/testkit/golden"
)

func load(t *testing.T, name string) *topology.Lab {
	t.Helper()
	if strings.HasSuffix(name, ".yaml") {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		lab, err := topology.Load(name, data)
		if err != nil {
			t.Fatal(err)
		}
		return lab
	}
	lab, err := labs.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return lab
}

// goldenLabs are every embedded lab with keepalived and testdata/rich.yaml.
func goldenLabs(t *testing.T) []string {
	var out []string
	for _, name := range labs.Names() {
		if len(Nodes(load(t, name))) > 0 {
			out = append(out, name)
		}
	}
	if !slices.Contains(out, "tedu-keepalived-dr") || !slices.Contains(out, "tedu-keepalived-web") {
		t.Fatalf("keepalived labs %v lack the course's two", out)
	}
	return append(out, "rich.yaml")
}

// TestGolden compares each keepalived node's file with
// testdata/golden/<lab>/<node>.conf, line by line; go test
// ./roles/keepalived -run Golden -update rewrites them.
func TestGolden(t *testing.T) {
	for _, name := range goldenLabs(t) {
		lab := load(t, name)
		dir := filepath.Join("testdata", "golden", strings.TrimSuffix(name, ".yaml"))
		for _, node := range Nodes(lab) {
			got, ok := Config(lab, node)
			if !ok {
				t.Fatalf("%s: %s runs keepalived but has no keepalived.conf", name, node)
			}
			golden.Check(t, filepath.Join(dir, node+".conf"), got)
		}
	}
}

// The numbers of the course's Keepalived + LVS-DR exercise, where a
// student reads them.
func TestCourseValues(t *testing.T) {
	lab := load(t, "tedu-keepalived-dr")
	lvs1, _ := Config(lab, "lvs1")
	lvs2, _ := Config(lab, "lvs2")
	contains.All(t, "lvs1's keepalived.conf", lvs1,
		"    router_id lvs1\n",
		"vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    advert_int 1\n",
		"    authentication {\n        auth_type PASS\n        auth_pass 1111\n    }\n",
		"    virtual_ipaddress {\n        192.168.4.15/24\n    }\n",
		"virtual_server 192.168.4.15 80 {\n    delay_loop 6\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n",
		"    real_server 192.168.4.100 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 3\n            retry 3\n            delay_before_retry 3\n        }\n    }\n",
		"    real_server 192.168.4.200 80 {\n",
	)
	if strings.Contains(lvs1, "persistence_timeout") || strings.Contains(lvs1, "vrrp_strict") || strings.Contains(lvs1, "lvs_sync_daemon") {
		t.Errorf("lvs1: persistence, vrrp_strict or sync where the exercise has none:\n%s", lvs1)
	}
	// The backup differs in its name, state and priority only.
	swap := strings.NewReplacer("lvs1", "lvs2", "state MASTER", "state BACKUP", "priority 100", "priority 50")
	if swap.Replace(lvs1) != lvs2 {
		t.Errorf("lvs2 is not lvs1 as BACKUP with priority 50:\n%s", lvs2)
	}

	web := load(t, "tedu-keepalived-web")
	web1, _ := Config(web, "web1")
	if !strings.Contains(web1, "        192.168.4.80\n") || strings.Contains(web1, "virtual_server") {
		t.Errorf("web1: VIP 192.168.4.80 with no IPVS:\n%s", web1)
	}
}

// Nodes that run no keepalived get no file; labs without it have none.
func TestOnlyRoutersGetAFile(t *testing.T) {
	for _, name := range labs.Names() {
		lab := load(t, name)
		routers := Nodes(lab)
		for _, n := range lab.Nodes {
			_, ok := Config(lab, n.Name)
			if ok != slices.Contains(routers, n.Name) {
				t.Errorf("%s/%s: a file %v, a router %v", name, n.Name, ok, !ok)
			}
		}
		if !strings.HasPrefix(name, "tedu-keepalived-") && len(routers) > 0 {
			t.Errorf("%s: keepalived on %v", name, routers)
		}
	}
	if _, ok := Config(load(t, "tedu-keepalived-dr"), "nosuch"); ok {
		t.Error("a file for a node the lab has not")
	}
}

// The same lab renders the same bytes, however often and from however
// many loads.
func TestDeterministic(t *testing.T) {
	for _, name := range goldenLabs(t) {
		a, b := load(t, name), load(t, name)
		for _, node := range Nodes(a) {
			first, _ := Config(a, node)
			for range 20 {
				if again, _ := Config(b, node); again != first {
					t.Fatalf("%s/%s renders differently", name, node)
				}
			}
		}
	}
}

// Services of one VRRP instance share it; another id is another instance.
func TestInstances(t *testing.T) {
	ins := Instances(load(t, "rich.yaml"))
	var got []string
	for _, in := range ins {
		var svcs []string
		for _, s := range in.Services {
			svcs = append(svcs, s.Name)
		}
		var vips []string
		for _, v := range in.VIPs {
			vips = append(vips, v.String())
		}
		got = append(got, in.Name+" "+in.Network+" "+strings.Join(svcs, ",")+" "+strings.Join(vips, ","))
	}
	want := []string{"VI_1 front http,marked 10.0.0.100/32", "VI_2 front other 10.0.0.101/24"}
	if !slices.Equal(got, want) {
		t.Errorf("instances %q, want %q", got, want)
	}
	if !ins[0].Keepalived.Sync || ins[1].Keepalived.Sync {
		t.Error("sync belongs to VI_1 only")
	}
}

// keepalived itself accepts every rendered file without a warning, when
// it is installed (keepalived -t checks a configuration and exits).
func TestKeepalivedAcceptsThem(t *testing.T) {
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		t.Skip("no keepalived on PATH")
	}
	dir := t.TempDir()
	for _, name := range goldenLabs(t) {
		lab := load(t, name)
		for _, node := range Nodes(lab) {
			conf, _ := Config(lab, node)
			path := filepath.Join(dir, strings.TrimSuffix(name, ".yaml")+"-"+node+".conf")
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "-t", "-l", "-f", path).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("%s/%s: keepalived -t: %v\n%s", name, node, err, out)
			}
		}
	}
}
