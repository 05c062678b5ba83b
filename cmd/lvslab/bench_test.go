package main

// The benchmarks: how far lvslab is from the floor of what libvirt and QEMU
// can do, in real QEMU guests. They run only with LVSLAB_BENCH=1 (make bench,
// make bench-up) and as root. Like the end-to-end test, the outer test starts
// "lvslab sandbox" around this very test binary and the inner test drives the
// lvslab binary (and, for the floor, plain virsh) inside it.
//
// The floor is the same four domains of tedu-nat, made from the same image
// with provision's own XML and seed builders, defined and started with plain
// virsh; its time runs from the first "virsh define" until every node's SSH
// server sends its banner. The overlays, seeds and networks are made before
// the clock starts, so the floor is the least any tool could take.
//
// Figures are printed, never asserted: a slow run is not a failed test. Only
// things that do not work (a command that fails, a verify that fails) fail it.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/localhost"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/seed"
	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/topology"
)

const (
	benchInnerEnv  = "LVSLAB_BENCH_INNER"
	benchRoundsEnv = "LVSLAB_BENCH_ROUNDS"
	benchLab       = "tedu-nat"
	// floorDir holds the floor's overlays, seeds and console logs: inside
	// the sandbox's private /var/lib/libvirt, next to lvslab's own pool.
	floorDir = "/var/lib/libvirt/images/lvslab-floor"
	// benchRequests is what each prober sends in the verify benchmark.
	benchRequests = 60
)

func benchBinary(t *testing.T) string {
	t.Helper()
	return gatedBinary(t, "LVSLAB_BENCH", "benchmark", "make bench, make bench-up, make bench-copies, make bench-class")
}

// benchSandbox runs the inner test named inner inside "lvslab sandbox"
// (sandboxArgs: "--hypervisors", "2").
func benchSandbox(t *testing.T, inner string, sandboxArgs ...string) {
	bin := benchBinary(t)
	if os.Getenv(benchInnerEnv) == "1" {
		t.Skip("already inside the sandbox")
	}
	fmt.Printf("machine before: %s\n", machineLoad())
	took, err := runInSandbox(t, bin, benchInnerEnv, inner, "55m", sandboxArgs...)
	fmt.Printf("machine after:  %s\n", machineLoad())
	if err != nil {
		t.Fatalf("benchmark run failed after %s: %v", took.Round(time.Second), err)
	}
	t.Logf("benchmark run took %s", took.Round(time.Second))
}

// benchInner sets up the inner test: the lvslab binary and a private
// LVSLAB_HOME, so that keys and known_hosts never meet another run's.
func benchInner(t *testing.T) *e2e {
	bin := benchBinary(t)
	if os.Getenv(benchInnerEnv) != "1" {
		t.Skip("runs inside the sandbox only (its outer test starts it)")
	}
	t.Setenv(paths.EnvHome, t.TempDir())
	return &e2e{t: t, bin: bin}
}

// machineLoad is the load average and how many QEMU guests run on the whole
// machine (other people's included): a busy machine slows every figure.
func machineLoad() string {
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			load = strings.Join(f[:3], " ")
		}
	}
	guests := 0
	for _, pid := range localhost.PIDs() {
		if comm, err := os.ReadFile(localhost.Proc(pid, "comm")); err == nil && strings.HasPrefix(string(comm), "qemu-system") {
			guests++
		}
	}
	return fmt.Sprintf("load average %s, %d QEMU guest(s) running", load, guests)
}

// cpuSnap is the machine's busy CPU time and that of this sandbox's QEMU
// guests, in clock ticks (USER_HZ, 100 on Linux).
type cpuSnap struct {
	at      time.Time
	machine int64
	guests  map[string]int64
}

// snapCPU reads /proc/stat and the CPU time of every QEMU process in this
// network namespace (the guests being measured).
func snapCPU() cpuSnap {
	c := cpuSnap{at: time.Now(), guests: map[string]int64{}}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		// cpu user nice system idle iowait irq softirq steal ...
		for i := 1; i < len(f); i++ {
			if i == 4 || i == 5 {
				continue
			}
			v, _ := strconv.ParseInt(f[i], 10, 64)
			c.machine += v
		}
	}
	self, _ := os.Readlink("/proc/self/ns/net")
	for _, pid := range localhost.PIDs() {
		if comm, err := os.ReadFile(localhost.Proc(pid, "comm")); err != nil || !strings.HasPrefix(string(comm), "qemu-system") {
			continue
		}
		if ns, err := os.Readlink(localhost.Proc(pid, "ns", "net")); err != nil || ns != self {
			continue
		}
		stat, err := os.ReadFile(localhost.Proc(pid, "stat"))
		if err != nil {
			continue
		}
		// After the ")" that ends comm, utime and stime are the 12th and 13th fields.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		c.guests[strconv.Itoa(pid)] = u + k
	}
	return c
}

// othersShare is the share of the machine's CPUs (in %) that went to
// anything but this sandbox's guests since before: other people's guests
// and builds, and lvslab, libvirtd and virsh themselves. Read when the
// measured guests still run.
func othersShare(before cpuSnap) float64 {
	now := snapCPU()
	var ours int64
	for pid, v := range now.guests {
		ours += v - before.guests[pid]
	}
	wall := now.at.Sub(before.at).Seconds()
	if wall <= 0 {
		return -1
	}
	// Ticks are hundredths of a second, so ticks per CPU-second is a percentage.
	return float64(now.machine-before.machine-ours) / (wall * float64(runtime.NumCPU()))
}

// timed runs lvslab args, fails the test on a non-zero exit, and returns
// the output and the wall time.
func (e *e2e) timed(args ...string) (string, float64) {
	e.t.Helper()
	start := time.Now()
	out := e.must(args...)
	return out, time.Since(start).Seconds()
}

var stepRe = regexp.MustCompile(`(?m)^\s+(\S+)\s+done in (\S+)$`)

// stepSeconds is how long up said its step took ("  configure  done in
// 12.3s"), or -1.
func stepSeconds(out, step string) float64 {
	for _, m := range stepRe.FindAllStringSubmatch(out, -1) {
		if m[1] == step {
			if d, err := time.ParseDuration(m[2]); err == nil {
				return d.Seconds()
			}
		}
	}
	return -1
}

// ---- the floor ----

// floor is one lab made by hand on one libvirt: every file ready, nothing
// defined.
type floor struct {
	t       *testing.T
	lab     *topology.Lab
	host    *floorHost // nil: the sandbox's own libvirtd
	domains []string
	xmls    []string
	addrs   []string // host:22 of each node, where its SSH server answers
	logs    []string // each node's console log
	nets    []string
	vols    []string // on a remote host: the overlays and seeds in its pool
}

// floorHost is a remote hypervisor the floor boots on through the same
// qemu+ssh URI lvslab uses: plain virsh against it, the disks volumes of
// lvslab's pool there (backed by the image volumes lvslab uploaded), and
// the SSH banners read through the host, as lvslab reaches the nodes.
type floorHost struct {
	uri  string
	jump *sshx.Jump
}

func newFloorHost(t *testing.T, uri string) *floorHost {
	t.Helper()
	r, err := host.ParseRemote(uri)
	if err != nil || r == nil {
		t.Fatalf("floor host %q: not a remote URI (%v)", uri, err)
	}
	return &floorHost{uri: uri, jump: access.JumpFor(r)}
}

// uri is the libvirt the floor's virsh talks to.
func (f *floor) uri() string {
	if f.host != nil {
		return f.host.uri
	}
	return "qemu:///system"
}

// virsh runs virsh against the floor's libvirt and returns its output.
func (f *floor) virsh(args ...string) string {
	f.t.Helper()
	return strings.TrimSpace(virshOn(f.t, f.uri(), args...))
}

// prepareFloor builds what the floor boots on the sandbox's libvirtd.
func prepareFloor(t *testing.T, lab *topology.Lab, dir, mgmtNet string) *floor {
	t.Helper()
	return prepareFloorOn(t, lab, dir, mgmtNet, nil)
}

// prepareFloorOn builds what the floor boots on hv (nil: the local
// libvirtd): networks (defined and started), per node a qcow2 overlay of the
// image, a seed ISO and the domain XML, all with provision's own builders,
// so the guests are lvslab's guests. dir holds the local files.
func prepareFloorOn(t *testing.T, lab *topology.Lab, dir, mgmtNet string, hv *floorHost) *floor {
	t.Helper()
	img, err := image.Resolve(paths.Local().Images, lab.Image)
	if err != nil {
		t.Fatalf("image %s: %v (run lvslab image build)", lab.Image, err)
	}
	f := &floor{t: t, lab: lab, host: hv}
	bootImg := img
	if hv != nil {
		bootImg = f.remoteImage(img)
	}
	domType := host.DomainQEMU
	if exec.Command("virsh", "-c", f.uri(), "domcapabilities", "--virttype", "kvm", "--arch", "x86_64").Run() == nil {
		domType = host.DomainKVM
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, authKey, err := sshx.EnsureKey(filepath.Join(dir, "key", "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	// The same networks as lvslab's: the lab's, and a management network
	// that every node's SSH answers on.
	mgmt := netip.MustParsePrefix(mgmtNet)
	mx, err := host.MgmtNetworkXML(lab.Name, "", mgmt)
	if err != nil {
		t.Fatal(err)
	}
	f.defineNetwork(dir, paths.MgmtNetworkName(lab.Name), mx)
	for _, nw := range lab.Networks {
		x, err := host.NetworkXML(lab, nw)
		if err != nil {
			t.Fatal(err)
		}
		f.defineNetwork(dir, paths.NetworkName(lab.Name, nw.Name), x)
	}
	mgmtAddr := mgmt.Addr()
	for range 10 {
		mgmtAddr = mgmtAddr.Next()
	}
	for _, node := range lab.Nodes {
		domain := paths.DomainName(lab.Name, node.Name)
		priv, pub, err := sshx.GenerateHostKey()
		if err != nil {
			t.Fatal(err)
		}
		// The same first boot as lvslab's seed: its files and commands.
		files, cmds := catalog.FirstBoot(roles.DesiredFor(lab, node))
		iid := fmt.Sprintf("%s-floor-%d", domain, time.Now().UnixNano())
		iso, err := seed.BuildISO(seed.Config{
			Lab: lab, Node: node, InstanceID: iid, AuthorizedKey: authKey,
			HostKeyPrivate: string(priv), HostKeyPublic: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + domain,
			Files: files, Commands: cmds, Mgmt: netip.PrefixFrom(mgmtAddr, mgmt.Bits()),
		})
		if err != nil {
			t.Fatal(err)
		}
		seed := filepath.Join(dir, node.Name+".seed.iso")
		if err := os.WriteFile(seed, iso, 0o644); err != nil {
			t.Fatal(err)
		}
		overlay, log := filepath.Join(dir, node.Name+".qcow2"), filepath.Join(dir, node.Name+".log")
		if hv == nil {
			if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-b", img.Disk, "-F", img.Format, overlay).CombinedOutput(); err != nil {
				t.Fatalf("qemu-img create %s: %v\n%s", overlay, err, out)
			}
		} else {
			overlay, seed = f.remoteDisks(domain, img, bootImg.Disk, seed)
			// libvirt's own log folder, which every host has.
			log = "/var/log/libvirt/qemu/" + domain + ".floor.log"
		}
		x, err := host.DomainXML(lab, node, host.DomainSpec{
			Type: domType, Image: bootImg, Overlay: overlay, Seed: seed,
			ConsoleLog: log, InstanceID: iid, Mgmt: mgmtAddr.String(),
		})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, node.Name+".xml")
		if err := os.WriteFile(path, []byte(x), 0o644); err != nil {
			t.Fatal(err)
		}
		f.domains = append(f.domains, domain)
		f.logs = append(f.logs, log)
		f.xmls = append(f.xmls, path)
		f.addrs = append(f.addrs, net.JoinHostPort(mgmtAddr.String(), "22"))
		mgmtAddr = mgmtAddr.Next()
	}
	return f
}

// remoteImage is img as the host's pool holds it: the volumes lvslab's up
// uploaded (image-NAME-VERSION.*).
func (f *floor) remoteImage(img image.Image) image.Image {
	f.t.Helper()
	version, err := img.Version()
	if err != nil {
		f.t.Fatal(err)
	}
	parts, err := img.Parts()
	if err != nil {
		f.t.Fatal(err)
	}
	remote := img
	for _, p := range parts {
		path := f.virsh("vol-path", "--pool", paths.DefaultPool, image.VolumeBase(img.Name, version)+p.Suffix)
		switch p.Path {
		case img.Disk:
			remote.Disk = path
		case img.Kernel:
			remote.Kernel = path
		case img.Initrd:
			remote.Initrd = path
		}
	}
	return remote
}

// remoteDisks makes domain's overlay of backing and its seed (uploaded from
// the local file seed) as volumes of the host's pool, and returns their
// paths there.
func (f *floor) remoteDisks(domain string, img image.Image, backing, seed string) (overlay, seedPath string) {
	f.t.Helper()
	if img.Manifest == nil || img.Manifest.VirtualBytes <= 0 {
		f.t.Fatalf("image %s has no virtual size in its manifest", img.Name)
	}
	pool := paths.DefaultPool
	disk, iso := "floor-"+domain+".qcow2", "floor-"+domain+".seed.iso"
	f.virsh("vol-create-as", pool, disk, strconv.FormatInt(img.Manifest.VirtualBytes, 10), "--format", "qcow2", "--backing-vol", backing, "--backing-vol-format", img.Format)
	f.vols = append(f.vols, disk)
	st, err := os.Stat(seed)
	if err != nil {
		f.t.Fatal(err)
	}
	f.virsh("vol-create-as", pool, iso, strconv.FormatInt(st.Size(), 10), "--format", "raw")
	f.vols = append(f.vols, iso)
	f.virsh("vol-upload", "--pool", pool, iso, seed)
	return f.virsh("vol-path", "--pool", pool, disk), f.virsh("vol-path", "--pool", pool, iso)
}

// floorMgmt is the floor's management subnet (lvslab's first, free while
// the floor runs).
const floorMgmt = "10.250.0.0/24"

// defineNetwork defines and starts one of the floor's networks.
func (f *floor) defineNetwork(dir, name, x string) {
	path := filepath.Join(dir, "net-"+name+".xml")
	if err := os.WriteFile(path, []byte(x), 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.virsh("net-define", path)
	f.nets = append(f.nets, name)
	f.virsh("net-start", name)
}

// floorResult is one timed floor boot.
type floorResult struct {
	define, start, total float64   // seconds: define all, start all, until every banner
	ready                []float64 // per node, from the first define
	busy                 float64   // % of the CPUs that went to anything else meanwhile
}

// boot boots the floor alone.
func (f *floor) boot() floorResult { return bootFloors(f.t, []*floor{f}) }

// bootFloors defines the floors' domains one by one, starts them all at
// once (as lvslab does), and waits until every node's SSH server sends its
// banner; ready lists the nodes floor by floor.
func bootFloors(t *testing.T, floors []*floor) floorResult {
	t.Helper()
	type vm struct {
		f                 *floor
		domain, addr, xml string
		log, uri          string
	}
	var vms []vm
	for _, f := range floors {
		for i, d := range f.domains {
			vms = append(vms, vm{f: f, domain: d, addr: f.addrs[i], xml: f.xmls[i], log: f.logs[i], uri: f.uri()})
		}
	}
	var r floorResult
	before := snapCPU()
	t0 := time.Now()
	for _, v := range vms {
		v.f.virsh("define", v.xml)
	}
	r.define = time.Since(t0).Seconds()
	var wg sync.WaitGroup
	errs := make([]error, len(vms))
	for i, v := range vms {
		wg.Go(func() {
			if out, err := exec.Command("virsh", "-c", v.uri, "start", v.domain).CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("virsh -c %s start %s: %v\n%s", v.uri, v.domain, err, out)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r.start = time.Since(t0).Seconds() - r.define
	r.ready = make([]float64, len(vms))
	// A minute per VM beyond ten: a dozen TCG guests on two cores take long.
	limit := time.Duration(max(10, len(vms))) * time.Minute
	deadline := t0.Add(limit)
	for i, v := range vms {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if v.f.banner(v.addr) {
					r.ready[i] = time.Since(t0).Seconds()
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			errs[i] = fmt.Errorf("floor: no SSH banner from %s (%s) within %s; console log %s on %s", v.domain, v.addr, limit, v.log, v.uri)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r.total = time.Since(t0).Seconds()
	r.busy = othersShare(before)
	return r
}

// banner tells whether addr answers TCP with an SSH-2.0 banner: directly
// on the local libvirtd's networks, through the host on a remote one.
func (f *floor) banner(addr string) bool {
	dial, limit := (&net.Dialer{}).DialContext, time.Second
	if f.host != nil {
		// The first try also logs in to the host: give it time.
		dial, limit = f.host.jump.DialContext, 10*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c, err := dial(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0")
}

// down removes the floor's domains (destroy, undefine) and returns how long
// that took; with nets it also removes the networks and files.
func (f *floor) down(nets bool) float64 {
	t0 := time.Now()
	for _, d := range f.domains {
		_ = exec.Command("virsh", "-c", f.uri(), "destroy", d).Run()
		_ = exec.Command("virsh", "-c", f.uri(), "undefine", d).Run()
	}
	took := time.Since(t0).Seconds()
	if nets {
		for _, n := range f.nets {
			_ = exec.Command("virsh", "-c", f.uri(), "net-destroy", n).Run()
			_ = exec.Command("virsh", "-c", f.uri(), "net-undefine", n).Run()
		}
		for _, v := range f.vols {
			_ = exec.Command("virsh", "-c", f.uri(), "vol-delete", "--pool", paths.DefaultPool, v).Run()
		}
		f.nets, f.vols = nil, nil
		_ = os.RemoveAll(floorDir)
	}
	return took
}

// runFloor prepares, boots and removes the floor once.
func runFloor(t *testing.T, lab *topology.Lab) (floorResult, float64) {
	t.Helper()
	fmt.Println("\n== floor: plain virsh define + start of the four domains, until each sends an SSH banner")
	f := prepareFloor(t, lab, floorDir, floorMgmt)
	defer f.down(true)
	r := f.boot()
	for i, d := range f.domains {
		fmt.Printf("   %-14s SSH banner after %5.1fs\n", d, r.ready[i])
	}
	down := f.down(false)
	fmt.Printf("   floor: define %.1fs, start %.1fs, all SSH banners %.1fs; virsh destroy+undefine %.1fs; %.0f%% of the CPUs went to anything else meanwhile\n", r.define, r.start, r.total, down, r.busy)
	return r, down
}

func loadBenchLab(t *testing.T) *topology.Lab {
	t.Helper()
	lab, err := labs.Load(benchLab)
	if err != nil {
		t.Fatal(err)
	}
	return lab
}

func ratio(a, b float64) string {
	if a < 0 || b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func secs(s float64) string {
	if s < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", s)
}

func pct(p float64) string {
	if p < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", p)
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// ---- make bench-up ----

// TestBenchUp: the floor against "lvslab up --vms-only", and "lvslab down".
func TestBenchUp(t *testing.T) { benchSandbox(t, "TestBenchUpInner") }

func TestBenchUpInner(t *testing.T) {
	e := benchInner(t)
	defer e.run("down", "--all")
	lab := loadBenchLab(t)
	rounds := 2
	if s := os.Getenv(benchRoundsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", benchRoundsEnv, s)
		}
		rounds = n
	}
	fmt.Printf("bench-up: lab %s, %d round(s), alternating order (odd rounds floor first, even rounds lvslab first); %s\n", benchLab, rounds, machineLoad())
	type round struct {
		order                      string
		floor, up, sshReady, down  float64
		floorDefStart, floorRemove float64
		floorBusy, upBusy          float64
		load                       string
	}
	var rs []round
	for i := 1; i <= rounds; i++ {
		var r round
		doFloor := func() {
			fr, rm := runFloor(t, lab)
			r.floor, r.floorDefStart, r.floorRemove, r.floorBusy = fr.total, fr.define+fr.start, rm, fr.busy
		}
		doUp := func() {
			fmt.Println("\n== lvslab up --vms-only, then down")
			before := snapCPU()
			out, took := e.timed("up", benchLab, "--vms-only")
			r.up, r.sshReady, r.upBusy = took, stepSeconds(out, "ssh"), othersShare(before)
			_, r.down = e.timed("down", "tedu")
		}
		if i%2 == 1 {
			r.order = "floor, up"
			doFloor()
			doUp()
		} else {
			r.order = "up, floor"
			doUp()
			doFloor()
		}
		r.load = machineLoad()
		rs = append(rs, r)
	}
	fmt.Printf("\nBENCH-UP  lab %s, 4 domains, QEMU TCG unless KVM was offered; N=%d\n", benchLab, rounds)
	fmt.Printf("  %-5s %-10s %8s %8s %8s %10s %8s %17s  %s\n", "round", "order", "floor s", "up s", "up/floor", "ssh-step s", "down s", "others% f/u", "machine after the round")
	var fl, up, dn []float64
	for i, r := range rs {
		fmt.Printf("  %-5d %-10s %8s %8s %8s %10s %8s %17s  %s\n", i+1, r.order, secs(r.floor), secs(r.up), ratio(r.up, r.floor), secs(r.sshReady), secs(r.down), pct(r.floorBusy)+" / "+pct(r.upBusy), r.load)
		fl, up, dn = append(fl, r.floor), append(up, r.up), append(dn, r.down)
	}
	if len(rs) > 1 {
		fmt.Printf("  %-5s %-10s %8s %8s %8s %10s %8s\n", "mean", "", secs(mean(fl)), secs(mean(up)), ratio(mean(up), mean(fl)), "", secs(mean(dn)))
	}
	fmt.Println("  floor s: first virsh define until every node sent its SSH banner (networks, overlays, seeds made beforehand)")
	fmt.Println("  up s:    wall time of \"lvslab up tedu-nat --vms-only\" (everything from nothing, until every node accepts the SSH login)")
	fmt.Println("  down s:  wall time of \"lvslab down tedu\"")
	fmt.Println("  others%: share of the machine's CPUs that went to anything but the measured guests during the floor / the up")
	fmt.Println("           (other people's guests and builds; lvslab, libvirtd, virsh themselves): high means the figure is slowed")
	fmt.Println("  figures only: no time is asserted (the README's performance table keeps them)")
}

// ---- make bench ----

// TestBench: the whole life of the tedu lab, timed, against the floor.
func TestBench(t *testing.T) { benchSandbox(t, "TestBenchInner") }

// verifyRate runs verify with a prober and returns requests per second.
func (e *e2e) verifyRate(lab, prober string) (wall, perSecond float64, pass bool) {
	e.t.Helper()
	start := time.Now()
	out, code := e.run("verify", lab, "--prober", prober, "--requests", strconv.Itoa(benchRequests), "--output", "json")
	wall = time.Since(start).Seconds()
	var r struct {
		Pass     bool `json:"pass"`
		Requests int  `json:"requests"`
		Services []struct {
			Seconds float64 `json:"seconds"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		e.t.Errorf("verify %s --prober %s (exit %d): output is not JSON: %v", lab, prober, code, err)
		return wall, -1, false
	}
	if code != 0 || !r.Pass {
		e.t.Errorf("verify %s --prober %s failed (exit %d)", lab, prober, code)
	}
	perSecond = -1
	if len(r.Services) > 0 && r.Services[0].Seconds > 0 {
		perSecond = float64(r.Requests) / r.Services[0].Seconds
	}
	return wall, perSecond, code == 0 && r.Pass
}

func TestBenchInner(t *testing.T) {
	e := benchInner(t)
	defer e.run("down", "--all")
	lab := loadBenchLab(t)
	fmt.Printf("bench: lab %s, N=1 (QEMU TCG is slow; one run of each); %s\n", benchLab, machineLoad())

	fr, floorRemove := runFloor(t, lab)

	fmt.Println("\n== lvslab up --vms-only")
	before := snapCPU()
	upOut, upWall := e.timed("up", benchLab, "--vms-only")
	upSSH, upBusy := stepSeconds(upOut, "ssh"), othersShare(before)

	fmt.Println("\n== lvslab up (configure, first time)")
	cfgOut, cfgWall := e.timed("up", benchLab)
	cfg := stepSeconds(cfgOut, "configure")
	// The seed of --vms-only wrote every file: the first configure finds
	// nothing to change (asserted; its time is a figure).
	if n := strings.Count(cfgOut, "unchanged"); n < 4 {
		t.Errorf("the first configure after up --vms-only should report every node unchanged, saw %d", n)
	}

	fmt.Println("\n== lvslab up again (nothing to change)")
	reOut, reWall := e.timed("up", benchLab)
	re := stepSeconds(reOut, "configure")
	if n := strings.Count(reOut, "unchanged"); n < 4 {
		t.Errorf("the re-run of up should report every node unchanged, saw %d", n)
	}

	fmt.Println("\n== lvslab up tedu-dr (switch NAT -> DR in place)")
	drOut, drWall := e.timed("up", "tedu-dr")
	dr := stepSeconds(drOut, "configure")

	fmt.Println("\n== lvslab verify tedu-dr, both probers")
	curlWall, curlRate, curlPass := e.verifyRate("tedu-dr", "curl")
	fastWall, fastRate, fastPass := e.verifyRate("tedu-dr", "fast")

	fmt.Println("\n== lvslab down tedu")
	_, downWall := e.timed("down", "tedu")
	load := machineLoad()

	rate := func(r float64) string {
		if r < 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f req/s", r)
	}
	passed := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	fmt.Printf("\nBENCH  lab %s, 4 domains, N=1; machine at the end: %s\n", benchLab, load)
	fmt.Printf("  %-44s %8s %12s %8s  %s\n", "phase", "wall s", "phase s", "/floor", "note")
	row := func(name string, wall, phase float64, vsFloor bool, note string) {
		r := "-"
		if vsFloor {
			r = ratio(wall, fr.total)
		}
		fmt.Printf("  %-44s %8s %12s %8s  %s\n", name, secs(wall), secs(phase), r, note)
	}
	row("floor: virsh define+start, SSH banners", fr.total, fr.define+fr.start, true, fmt.Sprintf("phase = define %.1fs + start %.1fs; others %s of CPU", fr.define, fr.start, pct(fr.busy)))
	row("up --vms-only (to SSH login)", upWall, upSSH, true, fmt.Sprintf("phase = up's ssh step; others %s of CPU", pct(upBusy)))
	row("up, first configure", cfgWall, cfg, false, "phase = up's configure step (every node unchanged, asserted)")
	row("up --vms-only + first configure", upWall+cfgWall, -1, true, "from nothing to a configured NAT lab")
	row("up again (unchanged)", reWall, re, false, fmt.Sprintf("phase = configure step (every node unchanged, asserted); up's ssh step %ss", secs(stepSeconds(reOut, "ssh"))))
	row("up tedu-dr (NAT -> DR switch)", drWall, dr, false, "phase = configure step")
	row(fmt.Sprintf("verify tedu-dr --prober curl (%d req)", benchRequests), curlWall, -1, false, rate(curlRate)+", "+passed(curlPass))
	row(fmt.Sprintf("verify tedu-dr --prober fast (%d req)", benchRequests), fastWall, -1, false, rate(fastRate)+", "+passed(fastPass))
	row("down tedu", downWall, -1, false, fmt.Sprintf("floor's virsh destroy+undefine: %.1fs", floorRemove))
	fmt.Println("  /floor: wall time over the floor's time; req/s from verify's own probe time")
	fmt.Println("  figures only: no time is asserted (the README's performance table keeps them)")
}
