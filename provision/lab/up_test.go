package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/host/hosttest"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/seed/seedtest"
	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
)

// fakeGuests records seed uploads and answers SSH for every node at once.
type fakeGuests struct {
	mu      sync.Mutex
	seeds   map[string][]byte // volume name -> ISO
	waited  []string
	waitErr map[string]error
}

// upLab brings lab up on a fresh test:///default with fake guests.
func upLab(t *testing.T, lab *topology.Lab) (*libvirt.Connect, Options) {
	t.Helper()
	conn, opts := fresh(t)
	if _, err := Up(context.Background(), conn, lab, opts); err != nil {
		t.Fatal(err)
	}
	return conn, opts
}

// fresh is an empty test:///default and up's options for it, with guests
// that are fakes.
func fresh(t *testing.T) (*libvirt.Connect, Options) {
	return testConn(t), testOptions(t, &fakeGuests{})
}

func testOptions(t *testing.T, g *fakeGuests) Options {
	t.Helper()
	dir := t.TempDir()
	g.seeds = map[string][]byte{}
	return Options{
		Accel: host.AccelTCG,
		Paths: paths.InHome(dir),
		Images: ImageResolverFunc(func(_, name string) (image.Image, error) {
			return image.Image{Kind: image.Built, Name: name, Disk: "/images/" + name + "/disk.qcow2", Format: "qcow2",
				Kernel: "/images/" + name + "/vmlinuz", Initrd: "/images/" + name + "/initrd.img", Cmdline: image.Cmdline,
				Manifest: &image.Manifest{VirtualBytes: 2 << 30}}, nil
		}),
		Volumes: &fakeVolumes{seed: func(_ *libvirt.Connect, vol *libvirt.StorageVol, data []byte) error {
			name, err := vol.GetName()
			if err != nil {
				return err
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			g.seeds[name] = data
			return nil
		}},
		// No guest to log in to: the node "answers" on its first address
		// with no client, so nothing is configured over SSH.
		VMsOnly: true,
		Connector: access.ConnectFunc(func(_ context.Context, cfg sshx.Config, _ sshx.Retry) (*sshx.Client, error) {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.waited = append(g.waited, cfg.Node+"@"+cfg.Addr)
			return nil, g.waitErr[cfg.Node]
		}),
	}
}

// fakeVolumes stands for libvirt's volume upload, which test:///default
// lacks: seed takes the seeds, file the image files (nil: refused).
type fakeVolumes struct {
	seed func(conn *libvirt.Connect, vol *libvirt.StorageVol, data []byte) error
	file func(conn *libvirt.Connect, vol *libvirt.StorageVol, path string, size int64) error
}

func (f *fakeVolumes) WriteBytes(conn *libvirt.Connect, vol *libvirt.StorageVol, data []byte) error {
	return f.seed(conn, vol, data)
}

func (f *fakeVolumes) WriteFile(conn *libvirt.Connect, vol *libvirt.StorageVol, path string, size int64) error {
	if f.file == nil {
		return errors.New("test:///default has no volume upload")
	}
	return f.file(conn, vol, path, size)
}

// failAfter fails Up right after the step named step.
func failAfter(step string) func(string) error {
	return func(name string) error {
		if name == step {
			return fmt.Errorf("injected failure after step %s", name)
		}
		return nil
	}
}

func labWithName(t *testing.T, file, name string) *topology.Lab {
	t.Helper()
	lab := mustLab(t, file)
	lab.Name = name
	// Keep the MACs distinct from the original lab's, as a real second lab has.
	for _, n := range lab.Nodes {
		for _, nic := range n.NICs {
			nic.MAC = topology.DeriveMAC(name, n.Name, nic.Name)
		}
	}
	// Other address ranges: libvirt refuses two networks on one subnet.
	for i, nw := range lab.Networks {
		nw.Bridge = ""
		_ = i
	}
	return lab
}

// everything lists every libvirt object of the connection by kind and name
// ("volume POOL/NAME" for volumes, of active pools).
func everything(t *testing.T, conn *libvirt.Connect) []string {
	t.Helper()
	doms, err := conn.ListAllDomains(0)
	if err != nil {
		t.Fatal(err)
	}
	nets, err := conn.ListAllNetworks(0)
	if err != nil {
		t.Fatal(err)
	}
	pools, err := conn.ListAllStoragePools(0)
	if err != nil {
		t.Fatal(err)
	}
	out := append(named("domain ", doms, (*libvirt.Domain).GetName, (*libvirt.Domain).Free),
		named("network ", nets, (*libvirt.Network).GetName, (*libvirt.Network).Free)...)
	for _, p := range pools {
		name, _ := p.GetName()
		out = append(out, "pool "+name)
		if active, _ := p.IsActive(); active {
			p.Refresh(0)
			vols, _ := p.ListAllStorageVolumes(0)
			out = append(out, named("volume "+name+"/", vols, (*libvirt.StorageVol).GetName, (*libvirt.StorageVol).Free)...)
		}
		p.Free()
	}
	slices.Sort(out)
	return out
}

// named is the names of objs, each after prefix; it frees every object.
func named[T any](prefix string, objs []T, name func(*T) (string, error), free func(*T) error) []string {
	var out []string
	for i := range objs {
		n, _ := name(&objs[i])
		out = append(out, prefix+n)
		free(&objs[i])
	}
	return out
}

func TestUpCreatesTaggedLab(t *testing.T) {
	conn := testConn(t)
	before := everything(t, conn)
	g := &fakeGuests{}
	opts := testOptions(t, g)
	lab := mustLab(t, "tedu-nat")
	res, err := Up(context.Background(), conn, lab, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Nodes) != 4 || res.DomainType != "qemu" {
		t.Fatalf("result %+v", res)
	}
	// Every node is reached on its management address, in file order from .10.
	mgmt := map[string]string{"client1": "10.250.0.10:22", "lvs1": "10.250.0.11:22", "web1": "10.250.0.12:22", "web2": "10.250.0.13:22"}
	for _, ep := range res.Nodes {
		if ep.Addr != mgmt[ep.Node] || !ep.Created || ep.HostKeyAlias != "tedu-"+ep.Node ||
			ep.KeyFile != filepath.Join(opts.Paths.Home, "labs/tedu/id_ed25519") || ep.KnownHostsFile != filepath.Join(opts.Paths.Home, "labs/tedu/known_hosts") {
			t.Errorf("endpoint %+v", ep)
		}
	}
	// The key and the pins exist before any VM is reached.
	pins, err := os.ReadFile(filepath.Join(opts.Paths.Home, "labs/tedu/known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tedu-web1 ssh-ed25519 ", "10.250.0.12 ssh-ed25519 ", "tedu-client1 ssh-ed25519 "} {
		if !strings.Contains(string(pins), want) {
			t.Errorf("known_hosts lacks %q:\n%s", want, pins)
		}
	}
	if _, err := os.Stat(filepath.Join(opts.Paths.Home, "labs/tedu/id_ed25519")); err != nil {
		t.Error(err)
	}

	after := everything(t, conn)
	for _, want := range []string{
		"pool lvslab", "network tedu-private1", "network tedu-private2", "network tedu_mgmt",
		"domain tedu-client1", "domain tedu-lvs1", "domain tedu-web1", "domain tedu-web2",
		"volume lvslab/tedu_web1.qcow2", "volume lvslab/tedu_web1.seed.iso",
	} {
		if !slices.Contains(after, want) {
			t.Errorf("missing %s in %v", want, after)
		}
	}
	if len(after)-len(before) != 1+3+4+8 {
		t.Errorf("made %d objects, want 16: %v", len(after)-len(before), after)
	}
	inv, err := host.DiscoverLab(conn, "", "tedu")
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Domains) != 4 || len(inv.Networks) != 3 || len(inv.Volumes) != 8 || inv.MgmtSubnet() != "10.250.0.0/24" {
		t.Errorf("discovered %+v", inv)
	}
	for _, d := range inv.Domains {
		if d.State != "running" || d.Tag.InstanceID == "" || d.Tag.Role == "" || d.Tag.Mgmt+":22" != mgmt[d.Tag.Node] {
			t.Errorf("domain %s: %+v", d.Name, d)
		}
		// The management NIC comes last, after the lab NICs.
		hw := host.DomainHardware(d.Def)
		if last := hw[len(hw)-1]; len(hw) != 3 || last.Network != "tedu_mgmt" || last.MAC != host.MgmtMAC("tedu", d.Tag.Node) {
			t.Errorf("domain %s NICs %s", d.Name, hw)
		}
	}
	// Lab networks carry no host address (the lab file gives none); the
	// management network has the host's .1.
	for _, n := range inv.Networks {
		if want := map[bool]string{true: "10.250.0.1/24", false: ""}[n.IsMgmt()]; n.Host != want {
			t.Errorf("network %s carries host %q, want %q", n.Name, n.Host, want)
		}
	}
	for _, n := range inv.Networks {
		nw, _ := conn.LookupNetworkByName(n.Name)
		auto, _ := nw.GetAutostart()
		nw.Free()
		if !n.Active || auto {
			t.Errorf("network %s: active %v autostart %v", n.Name, n.Active, auto)
		}
	}
	// The overlay is a linked clone of the image.
	pool, _ := conn.LookupStoragePoolByName("lvslab")
	vol, _ := pool.LookupStorageVolByName("tedu_web1.qcow2")
	x, _ := vol.GetXMLDesc(0)
	vol.Free()
	pool.Free()
	var v libvirtxml.StorageVolume
	if err := v.Unmarshal(x); err != nil || v.BackingStore == nil || v.BackingStore.Path != "/images/debian-12/disk.qcow2" {
		t.Errorf("overlay %s", x)
	}
	// Each node's seed went up, for its own instance.
	if len(g.seeds) != 4 {
		t.Errorf("seeds uploaded: %d", len(g.seeds))
	}
	files, label := readISO(t, g.seeds["tedu_lvs1.seed.iso"])
	if label != "cidata" || !strings.Contains(files["meta-data"], `local-hostname: "lvs1"`) {
		t.Errorf("lvs1 seed: %q %v", label, files["meta-data"])
	}
	for _, want := range []string{"Name=mgmt0", "Address=10.250.0.11/24", "KeepConfiguration=static"} {
		if !strings.Contains(files["lvslab-init.sh"], want) {
			t.Errorf("lvs1 seed does not give mgmt0 %q", want)
		}
	}
	if strings.Contains(files["lvslab-init.sh"], "Gateway=10.250") || !strings.Contains(files["network-config"], "mgmt0:") {
		t.Errorf("lvs1 seed: mgmt0 with a gateway, or missing for cloud-init:\n%s", files["network-config"])
	}
}

func TestSecondUpReuses(t *testing.T) {
	conn := testConn(t)
	g := &fakeGuests{}
	opts := testOptions(t, g)
	// With the classroom's host addresses: their DHCP entries follow the lab.
	lab := withClassroomHosts(mustLab(t, "tedu-nat"))
	if _, err := Up(context.Background(), conn, lab, opts); err != nil {
		t.Fatal(err)
	}
	first, _ := host.DiscoverLab(conn, "", "tedu")
	objects := everything(t, conn)

	// One VM was stopped meanwhile; the same lab in DR mode moves addresses.
	d, _ := conn.LookupDomainByName("tedu-web2")
	if err := d.Destroy(); err != nil {
		t.Fatal(err)
	}
	d.Free()
	dr := withClassroomHosts(mustLab(t, "tedu-dr"))
	res, err := Up(context.Background(), conn, dr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 0 {
		t.Errorf("second up created %v", res.Created)
	}
	if got := everything(t, conn); !slices.Equal(got, objects) {
		t.Errorf("objects changed:\n%v\n%v", objects, got)
	}
	second, _ := host.DiscoverLab(conn, "", "tedu")
	for i, d := range second.Domains {
		if d.State != "running" {
			t.Errorf("%s is %s", d.Name, d.State)
		}
		if d.Tag.InstanceID != first.Domains[i].Tag.InstanceID {
			t.Errorf("%s: a new instance id on reuse", d.Name)
		}
		if d.Tag.File != "embedded:tedu-dr" {
			t.Errorf("%s: tag file %q", d.Name, d.Tag.File)
		}
	}
	// web1 moved its lab address; lvslab reaches it where it always does.
	for _, ep := range res.Nodes {
		if ep.Node == "web1" && (ep.Addr != "10.250.0.12:22" || ep.Created) {
			t.Errorf("web1 endpoint %+v", ep)
		}
	}
	// DHCP host entries follow the lab file.
	nw, _ := conn.LookupNetworkByName("tedu-private1")
	def, _ := host.NetworkDef(nw)
	nw.Free()
	var ips []string
	for _, h := range def.IPs[0].DHCP.Hosts {
		ips = append(ips, h.IP)
	}
	slices.Sort(ips)
	if want := []string{"192.168.4.10", "192.168.4.100", "192.168.4.200", "192.168.4.5"}; !slices.Equal(ips, want) {
		t.Errorf("private1 DHCP hosts %v, want %v", ips, want)
	}
}

func TestUpRefusesChangedHardware(t *testing.T) {
	conn, opts := upLab(t, mustLab(t, "tedu-nat"))
	lab := mustLab(t, "tedu-nat")
	lab.Node("web1").NICs = lab.Node("web1").NICs[1:] // eth0 removed
	_, err := Up(context.Background(), conn, lab, opts)
	if err == nil || !strings.Contains(err.Error(), "lvslab down tedu") || !strings.Contains(err.Error(), "web1") {
		t.Fatalf("want a hardware error suggesting down, got %v", err)
	}
	// Nothing of the running lab was removed by the failed run.
	if inv, _ := host.DiscoverLab(conn, "", "tedu"); len(inv.Domains) != 4 || len(inv.Networks) != 3 || len(inv.Volumes) != 8 {
		t.Errorf("the failed up touched the lab: %+v", inv)
	}
}

func TestUpRefusesForeignObjects(t *testing.T) {
	conn := testConn(t)
	// An untagged network with a lab network's name.
	n, err := conn.NetworkDefineXML(`<network><name>tedu-private2</name><bridge name="virbr9"/></network>`)
	if err != nil {
		t.Fatal(err)
	}
	n.Free()
	_, err = Up(context.Background(), conn, mustLab(t, "tedu-nat"), testOptions(t, &fakeGuests{}))
	if err == nil || !strings.Contains(err.Error(), "has no lvslab tag") {
		t.Fatalf("got %v", err)
	}
	if inv, _ := host.DiscoverLab(conn, "", "tedu"); !inv.Empty() {
		t.Errorf("left behind %+v", inv)
	}
	if !slices.Contains(everything(t, conn), "network tedu-private2") {
		t.Error("the foreign network was removed")
	}
}

// TestFailureRemovesWhatThisRunMade injects a failure after each step and
// checks that nothing of the run remains, and that --retain keeps it.
func TestFailureRemovesWhatThisRunMade(t *testing.T) {
	for _, s := range upSteps() {
		t.Run(s.name, func(t *testing.T) {
			conn, opts := fresh(t)
			before := everything(t, conn)
			opts.AfterStep = failAfter(s.name)
			_, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts)
			if err == nil || !strings.Contains(err.Error(), "injected failure") {
				t.Fatalf("got %v", err)
			}
			if got := everything(t, conn); !slices.Equal(got, before) {
				t.Errorf("left behind:\nbefore %v\nafter  %v", before, got)
			}
			if _, err := os.Stat(opts.Paths.LabDir("tedu")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("state folder left: %v", err)
			}
		})
	}
	t.Run("ssh-timeout", func(t *testing.T) {
		conn := testConn(t)
		before := everything(t, conn)
		g := &fakeGuests{}
		opts := testOptions(t, g)
		g.waitErr = map[string]error{"web2": errors.New("node web2: no SSH login as root on 192.168.2.200:22")}
		_, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts)
		if err == nil || !strings.Contains(err.Error(), "web2") || !strings.Contains(err.Error(), "--retain") {
			t.Fatalf("got %v", err)
		}
		if got := everything(t, conn); !slices.Equal(got, before) {
			t.Errorf("left behind: %v", got)
		}
	})
	t.Run("retain", func(t *testing.T) {
		conn, opts := fresh(t)
		opts.AfterStep, opts.Retain = failAfter("start"), true
		if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err == nil {
			t.Fatal("no error")
		}
		if inv, _ := host.DiscoverLab(conn, "", "tedu"); len(inv.Domains) != 4 {
			t.Errorf("--retain removed the domains: %+v", inv)
		}
	})
	t.Run("reused-lab-kept", func(t *testing.T) {
		conn, opts := fresh(t)
		if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err != nil {
			t.Fatal(err)
		}
		before := everything(t, conn)
		opts.AfterStep = failAfter("configure")
		if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err == nil {
			t.Fatal("no error")
		}
		if got := everything(t, conn); !slices.Equal(got, before) {
			t.Errorf("a failed second up removed what it did not make:\n%v\n%v", before, got)
		}
	})
}

func TestStagesAreTheSteps(t *testing.T) {
	var names []string
	for _, s := range Stages() {
		if s.Doc == "" {
			t.Errorf("stage %s has no line for up --help", s.Name)
		}
		names = append(names, s.Name)
	}
	want := []string{"image", "identity", "pool", "upload", "mgmt", "networks", "plan", "prune", "disks", "seeds", "domains", "start", "ssh", "configure"}
	if !slices.Equal(names, want) {
		t.Errorf("stages %v, want %v", names, want)
	}
}

func TestConfigureRunsUnlessVMsOnly(t *testing.T) {
	conn, opts := fresh(t)
	opts.VMsOnly = false
	// The fake guests give no SSH client: configure must try every node and
	// fail, and the failed run must take its VMs away again.
	_, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts)
	if err == nil {
		t.Fatal("configure ran on no connection and passed")
	}
	for _, n := range []string{"client1", "lvs1", "web1", "web2"} {
		if !strings.Contains(err.Error(), n+": ") {
			t.Errorf("configure error does not name %s: %v", n, err)
		}
	}
	if inv, _ := host.DiscoverLab(conn, "", "tedu"); !inv.Empty() {
		t.Errorf("left behind %+v", inv)
	}
}

// A bare lab configures nothing (configure would fail on the fake guests)
// and its seeds hold access only: no lab address, no first-boot files.
func TestUpBare(t *testing.T) {
	conn := testConn(t)
	g := &fakeGuests{}
	opts := testOptions(t, g)
	opts.VMsOnly, opts.Bare = false, true
	if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err != nil {
		t.Fatal(err)
	}
	if len(g.seeds) != 4 {
		t.Fatalf("%d seeds", len(g.seeds))
	}
	for vol, iso := range g.seeds {
		files, _ := readISO(t, iso)
		init := files["lvslab-init.sh"]
		if strings.Contains(init, "192.168.") || strings.Contains(init, "sysctl") || strings.Contains(init, "ipvsadm") || !strings.Contains(init, "mgmt0") {
			t.Errorf("%s: a bare seed configures the exercise:\n%s", vol, init)
		}
	}
}

// up --node configures that node alone.
func TestUpNodeConfiguresOnlyIt(t *testing.T) {
	conn, opts := fresh(t)
	opts.VMsOnly, opts.Nodes = false, []string{"web1"}
	_, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts)
	if err == nil || !strings.Contains(err.Error(), "web1: ") {
		t.Fatalf("configure of web1 on no connection: %v", err)
	}
	for _, n := range []string{"client1", "lvs1", "web2"} {
		if strings.Contains(err.Error(), n+": ") {
			t.Errorf("configure touched %s: %v", n, err)
		}
	}
}

// The shared fixtures: the embedded labs, the mock libvirt, a seed read back.
var (
	mustLab            = rolestest.Lab
	testConn           = hosttest.Conn
	withClassroomHosts = rolestest.WithClassroomHosts
	readISO            = seedtest.ReadISO
)

// tedu-dr after tedu-keepalived-dr (same lab "tedu", one node fewer): up
// removes lvs2's VM, disks, console log and host key pins (a stray lvs2
// would take the VIP by VRRP), and the dry run said it would.
func TestUpRemovesNodesNoLongerInTheLab(t *testing.T) {
	conn, opts := upLab(t, mustLab(t, "tedu-keepalived-dr"))
	if !slices.Contains(everything(t, conn), "domain tedu-lvs2") {
		t.Fatal("tedu-keepalived-dr made no tedu-lvs2")
	}
	known := opts.Paths.KnownHostsFile("tedu")
	log := opts.Paths.ConsoleLog("tedu", "lvs2")
	if err := os.WriteFile(log, []byte("boot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(known); !strings.Contains(string(b), "tedu-lvs2 ") {
		t.Fatalf("no pin of tedu-lvs2 in known_hosts:\n%s", b)
	}
	dr := mustLab(t, "tedu-dr")
	plan, err := DryRun(context.Background(), conn, dr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Remove) != 1 || plan.Remove[0].Name != "tedu-lvs2" || plan.Remove[0].Action != ActionRemove {
		t.Errorf("dry run's removals %+v, want tedu-lvs2", plan.Remove)
	}
	if _, err := Up(context.Background(), conn, dr, opts); err != nil {
		t.Fatal(err)
	}
	for _, o := range everything(t, conn) {
		if strings.Contains(o, "lvs2") {
			t.Errorf("left after up tedu-dr: %s", o)
		}
	}
	if !slices.Contains(everything(t, conn), "domain tedu-lvs1") {
		t.Error("lvs1 removed too")
	}
	if _, err := os.Stat(log); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lvs2's console log: %v", err)
	}
	b, _ := os.ReadFile(known)
	if strings.Contains(string(b), "tedu-lvs2 ") || !strings.Contains(string(b), "tedu-lvs1 ") {
		t.Errorf("known_hosts after the prune:\n%s", b)
	}
	if plan, _ = DryRun(context.Background(), conn, dr, opts); len(plan.Remove) != 0 {
		t.Errorf("nothing left to remove, yet %+v", plan.Remove)
	}
}
