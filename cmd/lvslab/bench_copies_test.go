package main

// make bench-copies: how many students fit on one host. 1, 2 and 3 copies
// of tedu-nat brought up at once (one "lvslab up --as" each, in parallel)
// and verified, against the plain-virsh floor of the same number of VMs;
// then the smallest guest memory with which a copy still passes verify, and
// the host memory (QEMU RSS) one copy takes. Figures are printed, never
// asserted.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/localhost"
	"github.com/lvslab/lvslab/topology"
)

// TestBenchCopies runs TestBenchCopiesInner in the sandbox.
func TestBenchCopies(t *testing.T) { benchSandbox(t, "TestBenchCopiesInner") }

// envInts reads a comma-separated list of numbers from env, else def.
func envInts(t *testing.T, env string, def []int) []int {
	s := os.Getenv(env)
	if s == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want numbers like 1,2,3", env, s)
		}
		out = append(out, n)
	}
	return out
}

// copiesRow is one line of the copies table.
type copiesRow struct {
	copies           int
	floor, up        float64 // seconds: floor to SSH banners; all ups (boot + configure)
	verified, failed int
	rssMiB           float64 // QEMU RSS of one copy, the mean of those that came up
}

func TestBenchCopiesInner(t *testing.T) {
	e := benchInner(t)
	defer e.run("down", "--all")
	lab := loadBenchLab(t)
	counts := envInts(t, "LVSLAB_BENCH_COPIES", []int{1, 2, 3})
	mems := envInts(t, "LVSLAB_BENCH_MEMORY", []int{128, 192, 256})
	fmt.Printf("bench-copies: %s, copies %v, memory %v MiB; %s\n", benchLab, counts, mems, machineLoad())

	var rows []copiesRow
	for _, n := range counts {
		r := copiesRow{copies: n, floor: floorCopies(t, lab, n)}
		r.up, r.verified, r.failed, r.rssMiB = e.upCopies(n)
		rows = append(rows, r)
		e.must("down", "--all")
	}
	fmt.Printf("\nBENCH-COPIES  %s, 4 VMs per copy, %d MiB each (the lab file's), QEMU TCG unless KVM was offered; N=1\n", benchLab, lab.Nodes[0].Memory)
	fmt.Printf("  %-6s %5s %9s %12s %9s %9s %14s\n", "copies", "VMs", "floor s", "up all s", "up/floor", "verified", "RSS/copy MiB")
	for _, r := range rows {
		fmt.Printf("  %-6d %5d %9s %12s %9s %6d/%-2d %14.0f\n", r.copies, 4*r.copies, secs(r.floor), secs(r.up), ratio(r.up, r.floor), r.verified, r.copies, r.rssMiB)
	}
	fmt.Println("  floor s:  plain virsh define+start of every copy's VMs at once, until each sends its SSH banner")
	fmt.Println("  up all s: one \"lvslab up tedu-nat --as cN\" per copy, all at once, until the last is configured")

	e.memoryFloor(t, mems)
}

// floorCopies boots n copies' worth of the floor at once and returns the
// time until every SSH banner.
func floorCopies(t *testing.T, lab *topology.Lab, n int) float64 {
	t.Helper()
	fmt.Printf("\n== floor: %d copies (%d VMs) with plain virsh\n", n, 4*n)
	all := &floor{t: t, lab: lab}
	for i := 1; i <= n; i++ {
		c := *lab
		c.Name = fmt.Sprintf("f%d", i)
		f := prepareFloor(t, &c, filepath.Join(floorDir, c.Name), fmt.Sprintf("10.250.%d.0/24", 200+i))
		all.domains = append(all.domains, f.domains...)
		all.xmls = append(all.xmls, f.xmls...)
		all.addrs = append(all.addrs, f.addrs...)
		all.logs = append(all.logs, f.logs...)
		all.nets = append(all.nets, f.nets...)
	}
	defer all.down(true)
	r := all.boot()
	fmt.Printf("   floor of %d VMs: define %.1fs, start %.1fs, all SSH banners %.1fs; others took %s of the CPUs\n", 4*n, r.define, r.start, r.total, pct(r.busy))
	return r.total
}

// upCopies brings n copies up at once and verifies each; it returns the
// wall time of the ups, how many copies verified and failed, and the QEMU
// RSS of one copy (the mean of the copies that came up).
func (e *e2e) upCopies(n int) (wall float64, verified, failed int, rssMiB float64) {
	e.t.Helper()
	fmt.Printf("\n== lvslab: %d copies at once\n", n)
	start := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			// Staggered by a second: the first makes the shared pool.
			time.Sleep(time.Duration(i) * time.Second)
			// Booting n copies at once takes n times as long under TCG:
			// the SSH wait gets up's default (5 minutes) per copy.
			_, codes[i] = e.run("up", benchLab, "--as", fmt.Sprintf("c%d", i+1), "--timeout", fmt.Sprintf("%dm", 5*n))
		})
	}
	wg.Wait()
	wall = time.Since(start).Seconds()
	up := 0
	for i := range n {
		name := fmt.Sprintf("c%d", i+1)
		if codes[i] != 0 {
			e.t.Errorf("up of copy %s exited %d", name, codes[i])
			failed++
			continue
		}
		if _, code := e.run("verify", name, "--requests", "12"); code == 0 {
			verified++
		} else {
			e.t.Errorf("verify of copy %s exited %d", name, code)
			failed++
		}
		rssMiB += qemuRSS(name)
		up++
	}
	if up > 0 {
		rssMiB /= float64(up)
	}
	return wall, verified, failed, rssMiB
}

// memoryFloor finds the smallest guest memory with which a copy still
// verifies, and the host memory one copy takes then.
func (e *e2e) memoryFloor(t *testing.T, mems []int) {
	src := e.must("labs", "--show", benchLab)
	fmt.Printf("\nBENCH-MEMORY  one copy of %s per guest memory size\n", benchLab)
	fmt.Printf("  %-10s %-8s %14s\n", "guest MiB", "verify", "RSS/copy MiB")
	smallest, smallestRSS := 0, 0.0
	for _, m := range mems {
		file := filepath.Join(t.TempDir(), fmt.Sprintf("tedu-nat-%d.yaml", m))
		// Every node's memory: the line after its role.
		text := strings.ReplaceAll(src, "\n    role: ", fmt.Sprintf("\n    memory: %d\n    role: ", m))
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("m%d", m)
		verdict := "FAIL (up)"
		rss := 0.0
		if _, code := e.run("up", file, "--as", name, "--timeout", "4m"); code == 0 {
			rss = qemuRSS(name)
			verdict = "FAIL"
			if _, code := e.run("verify", name, "--requests", "12"); code == 0 {
				verdict = "PASS"
				if smallest == 0 {
					smallest, smallestRSS = m, rss
				}
			}
		}
		e.run("down", name)
		fmt.Printf("  %-10d %-8s %14.0f\n", m, verdict, rss)
	}
	if smallest > 0 && smallestRSS > 0 {
		fmt.Printf("  smallest passing: %d MiB per guest, %.0f MiB of host memory per copy: %d copies on a 64 GiB server (memory alone)\n",
			smallest, smallestRSS, int(64*1024/smallestRSS))
	}
}

// qemuRSS is the resident memory of the QEMU processes of lab, in MiB.
func qemuRSS(lab string) float64 {
	total := 0.0
	for _, pid := range localhost.PIDs() {
		cmd, err := os.ReadFile(localhost.Proc(pid, "cmdline"))
		if err != nil || !strings.Contains(string(cmd), "guest="+lab+"-") {
			continue
		}
		status, err := os.ReadFile(localhost.Proc(pid, "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kib, _ := strconv.ParseFloat(f[1], 64)
				total += kib / 1024
			}
		}
	}
	return total
}
