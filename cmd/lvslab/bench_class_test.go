package main

// make bench-class: a class of three tedu-nat copies over two simulated
// hypervisors (lvslab sandbox --hypervisors 2, reached only over qemu+ssh).
// Time to all verified ("class up" then "class verify") against the floor:
// the same twelve VMs, placed on the same hosts, defined and started with
// plain virsh over the same URIs until each sends its SSH banner (read
// through the host, as lvslab reaches the nodes). Per copy: the up's steps
// (upload, boot, configure), verify and down, and the peak QEMU RSS. The
// class runs first: its up uploads the image into each host's pool, and the
// floor's overlays are backed by those volumes (so the floor also finds
// them in the host's page cache). Figures are printed, never asserted.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/class"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
)

const (
	benchClass       = "bench"
	benchClassCopies = 3
)

// TestBenchClass runs TestBenchClassInner in lvslab sandbox --hypervisors 2.
func TestBenchClass(t *testing.T) {
	benchSandbox(t, "TestBenchClassInner", "--hypervisors", "2")
}

// classStepRe is a copy's step in class output: "[s1]   upload     done in
// 41.2s", and its end: "[s1] up done in 2m3.4s".
var classStepRe = regexp.MustCompile(`(?m)^\[(\S+)\]\s+(\S+)\s+done in (\S+)$`)

// classUploadRe is a copy's upload figures: "[s1]   uploaded 3 files, 271 MiB in 9.8 s (28 MiB/s)".
var classUploadRe = regexp.MustCompile(`(?m)^\[(\S+)\]\s+uploaded \d+ files, (\d+) MiB in ([\d.]+) s`)

// classSteps reads each copy's step times from class output: student ->
// step -> seconds.
func classSteps(out string, into map[string]map[string]float64) {
	for _, m := range classStepRe.FindAllStringSubmatch(out, -1) {
		d, err := time.ParseDuration(m[3])
		if err != nil {
			continue
		}
		if into[m[1]] == nil {
			into[m[1]] = map[string]float64{}
		}
		into[m[1]][m[2]] = d.Seconds()
	}
}

// rssPeaks samples the QEMU RSS of each lab every two seconds until the
// returned stop is called, which gives each lab's peak in MiB.
func rssPeaks(labs []string) (stop func() map[string]float64) {
	peaks := map[string]float64{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			for _, l := range labs {
				peaks[l] = max(peaks[l], qemuRSS(l))
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() map[string]float64 {
		close(done)
		wg.Wait()
		return peaks
	}
}

func TestBenchClassInner(t *testing.T) {
	e := benchInner(t)
	_, uris := onTwoHosts(t, benchInnerEnv, "TestBenchClass")
	lab := loadBenchLab(t)
	batch := envInts(t, "LVSLAB_BENCH_BATCH", []int{benchClassCopies})[0]
	file := filepath.Join(t.TempDir(), "class.yaml")
	spec := fmt.Sprintf("name: %s\nlab: %s\ncount: %d\nbatch: %d\nhosts:\n", benchClass, benchLab, benchClassCopies, batch)
	for _, u := range uris {
		spec += fmt.Sprintf("  - uri: '%s'\n", u)
	}
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			e.run("class", "down", file)
		}
	}()
	fmt.Printf("bench-class: %d copies of %s over %d hosts, batch %d; %s\n", benchClassCopies, benchLab, len(uris), batch, machineLoad())

	// The class's copies, as the class file names them.
	cls, err := class.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var copies []string
	for _, s := range cls.Students {
		copies = append(copies, cls.Copy(s))
	}

	fmt.Println("\n== class up, class verify")
	steps := map[string]map[string]float64{}
	stop := rssPeaks(copies)
	upOut, upWall := e.timedClass("up", "--timeout", "20m", file)
	verifyOut, verifyWall := e.timedClass("verify", file)
	classRSS := stop()
	classSteps(upOut, steps)
	classSteps(verifyOut, steps)
	uploads := map[string]string{}
	for _, m := range classUploadRe.FindAllStringSubmatch(upOut, -1) {
		uploads[m[1]] = m[2] + " MiB in " + m[3] + " s"
	}
	rec, err := class.ReadRecord(paths.Local(), benchClass)
	if err != nil {
		t.Fatal(err)
	}
	placed := rec.Placement()

	fmt.Println("\n== class down")
	downOut, downWall := e.timedClass("down", file)
	classSteps(downOut, steps)

	// The floor: copy i's VMs on the host the class put copy i on.
	fmt.Printf("\n== floor: the same %d VMs with plain virsh over the same URIs\n", 4*benchClassCopies)
	hosts := map[string]*floorHost{}
	for _, u := range uris {
		hosts[u] = newFloorHost(t, u)
	}
	var floors []*floor
	var floorLabs []string
	for i, s := range cls.Students {
		c := *lab
		c.Name = fmt.Sprintf("f%d", i+1)
		f := prepareFloorOn(t, &c, filepath.Join(floorDir, c.Name), fmt.Sprintf("10.250.%d.0/24", 201+i), hosts[placed[s]])
		defer f.down(true)
		floors = append(floors, f)
		floorLabs = append(floorLabs, c.Name)
	}
	stopFloor := rssPeaks(floorLabs)
	fr := bootFloors(t, floors)
	floorRSS := stopFloor()
	n := 0
	for _, f := range floors {
		for _, d := range f.domains {
			fmt.Printf("   %-12s on %-16s SSH banner after %5.1fs\n", d, hostLabel(f.uri()), fr.ready[n])
			n++
		}
	}
	floorDown := 0.0
	for _, f := range floors {
		floorDown += f.down(false)
	}
	// No CPU share of "others" here: the guests run in the hosts' network
	// namespaces, where snapCPU does not count them as the measured ones.
	fmt.Printf("   floor: define %.1fs, start %.1fs, all SSH banners %.1fs; virsh destroy+undefine %.1fs\n", fr.define, fr.start, fr.total, floorDown)

	verified := upWall + verifyWall
	var where []string
	for _, u := range uris {
		var on []string
		for _, s := range cls.Students {
			if placed[s] == u {
				on = append(on, s)
			}
		}
		where = append(where, strings.Join(on, ",")+" on "+hostLabel(u))
	}
	fmt.Printf("\nBENCH-CLASS  %s × %d copies (%d VMs of %d MiB) over %d hosts (%s), batch %d, QEMU TCG unless KVM was offered; N=1; machine at the end: %s\n",
		benchLab, benchClassCopies, 4*benchClassCopies, lab.Nodes[0].Memory, len(uris), strings.Join(where, "; "), batch, machineLoad())
	fmt.Printf("  %-46s %8s %8s  %s\n", "phase", "wall s", "/floor", "note")
	row := func(name string, wall float64, vsFloor bool, note string) {
		r := "-"
		if vsFloor {
			r = ratio(wall, fr.total)
		}
		fmt.Printf("  %-46s %8s %8s  %s\n", name, secs(wall), r, note)
	}
	row("floor: virsh define+start, SSH banners", fr.total, true, fmt.Sprintf("define %.1fs + start %.1fs", fr.define, fr.start))
	row("class up (upload, boot, configure)", upWall, true, "")
	row("class verify", verifyWall, false, "")
	row("time to all verified (class up + verify)", verified, true, "")
	row("class down", downWall, false, fmt.Sprintf("the floor's virsh destroy+undefine: %.1fs", floorDown))

	fmt.Printf("\n  per copy (seconds; from each copy's progress lines)\n")
	fmt.Printf("  %-5s %-16s %8s %-22s %8s %8s %8s %10s %8s %8s %8s %10s %10s\n", "copy", "host", "upload", "(uploaded)", "domains", "start", "ssh", "configure", "up", "verify", "down", "RSS MiB", "floor RSS")
	names := append([]string(nil), cls.Students...)
	sort.Strings(names)
	peak := 0.0
	for i, s := range names {
		st := steps[s]
		get := func(k string) float64 {
			if v, ok := st[k]; ok {
				return v
			}
			return -1
		}
		rss := classRSS[cls.Copy(s)]
		peak = max(peak, rss)
		fmt.Printf("  %-5s %-16s %8s %-22s %8s %8s %8s %10s %8s %8s %8s %10.0f %10.0f\n", s, hostLabel(placed[s]), secs(get("upload")), dash(uploads[s]),
			secs(get("domains")), secs(get("start")), secs(get("ssh")), secs(get("configure")), secs(get("up")), secs(get("verify")), secs(get("down")),
			rss, floorRSS[floorLabs[i]])
	}
	fmt.Println("  upload: up's upload step (a copy that finds its host's upload under way waits for it); start: virsh start of its VMs;")
	fmt.Println("  ssh: until every node accepted lvslab's login (the boot); RSS: peak QEMU RSS of the copy's 4 VMs during up+verify (sampled every 2 s);")
	fmt.Println("  floor RSS: the same during the floor's boot only")
	if peak > 0 {
		perHost := int(64 * 1024 / peak)
		fmt.Printf("\n  memory: peak QEMU RSS %.0f MiB per copy (%d guests of %d MiB): %d copies fit a 64 GiB host by memory alone;\n", peak, len(lab.Nodes), lab.Nodes[0].Memory, perHost)
		fmt.Printf("  30 students on 3 hosts of 64 GiB: 10 copies per host take %.1f GiB of QEMU RSS (%d copies on 3 hosts by memory alone)\n", 10*peak/1024, 3*perHost)
	}
	fmt.Println("  /floor: wall time over the floor's; the floor boots after the class (image volumes already in each pool and in its page cache)")
}

// timedClass runs "lvslab class command args" and returns its output and
// wall time. A class command that fails (a copy that does not come up or
// verify) fails the test but not the run: the figures are still printed.
func (e *e2e) timedClass(command string, args ...string) (string, float64) {
	e.t.Helper()
	start := time.Now()
	out, code := e.run(append([]string{"class", command}, args...)...)
	if code != 0 {
		e.t.Errorf("lvslab class %s exited %d", command, code)
	}
	return out, time.Since(start).Seconds()
}

// hostLabel is a libvirt URI's host as messages name it ("root@10.253.1.2").
func hostLabel(uri string) string {
	if r, err := host.ParseRemote(uri); err == nil && r != nil {
		return r.Label()
	}
	return uri
}
