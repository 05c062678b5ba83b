package check

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mvdan.cc/sh/v3/syntax"

	"github.com/lvslab/lvslab/provision/verify"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology/ipvs/ipvstest"
)

// The cost model of a guest under QEMU TCG, as measured on lvslab's lab
// VMs (roles/engine's budget: 35-200 ms a process): every SSH session on
// an open connection starts sshd's child and the user's shell, every
// external command a process, every HTTP request of verify's loop a
// connection through the director. A guest has one vCPU: what runs on it
// runs in turn; guests run at once. The figures are set so that the
// check of the code before the quick check (two round trips and 11-17
// processes a node, verify's full proof) lands at the 12.6 s measured in
// TCG guests.
var (
	tcgSession = 400 * time.Millisecond
	tcgProcess = 200 * time.Millisecond
	tcgRequest = 50 * time.Millisecond
)

// tcgFree turns the costs off, for tests.
var tcgFree = false

// tcgGuest is a simulated guest that costs what a TCG guest costs. For
// timing only: verify's commands the simulated guest does not model
// answer nothing (the director's ipvsadm answers from its kernel).
type tcgGuest struct {
	g   *simGuest
	cpu *sync.Mutex
	// sessions and procs count what the guest was asked.
	sessions, procs, requests int
}

// spend costs the guest's time; the caller holds x.cpu.
func (x *tcgGuest) spend(sessions, procs, requests int) {
	x.sessions += sessions
	x.procs += procs
	x.requests += requests
	if tcgFree {
		return
	}
	time.Sleep(time.Duration(sessions)*tcgSession + time.Duration(procs)*tcgProcess + time.Duration(requests)*tcgRequest)
}

func (x *tcgGuest) Run(ctx context.Context, cmd string) (string, error) {
	x.cpu.Lock()
	defer x.cpu.Unlock()
	x.spend(1, processes(cmd), strings.Count(cmd, "http://"))
	if ipvstest.Handles(cmd) {
		if out, err := x.g.kernel.Run(cmd); err == nil {
			return out, nil
		}
	}
	out, err := x.g.Run(ctx, cmd)
	if err != nil {
		return "", nil
	}
	return out, nil
}

func (x *tcgGuest) ReadFile(ctx context.Context, p string) ([]byte, bool, error) {
	x.cpu.Lock()
	defer x.cpu.Unlock()
	x.spend(1, 1, 0) // an SFTP session: sftp-server
	return x.g.ReadFile(ctx, p)
}

func (x *tcgGuest) WriteFile(ctx context.Context, p string, data []byte, mode fsMode) error {
	return x.g.WriteFile(ctx, p, data, mode)
}

// processes counts the processes a shell command starts: its external
// commands, a loop's body once per word, the script of sh -c.
func processes(script string) int {
	f, err := syntax.NewParser().Parse(strings.NewReader(script), "")
	if err != nil {
		return 1
	}
	return countProcesses(f)
}

var shellBuiltins = []string{"printf", "echo", "[", "test", "true", ":", "read", "set", "exit", "cd", "export", "local", "return", "break", "continue", "wait", "trap", "shift", "eval", "exec"}

func countProcesses(n syntax.Node) int {
	total := 0
	syntax.Walk(n, func(m syntax.Node) bool {
		switch x := m.(type) {
		case *syntax.ForClause:
			iter := 1
			if wi, ok := x.Loop.(*syntax.WordIter); ok {
				iter = len(wi.Items)
			}
			for _, st := range x.Do {
				total += iter * countProcesses(st)
			}
			return false
		case *syntax.CallExpr:
			if len(x.Args) == 0 {
				return true
			}
			if !slices.Contains(shellBuiltins, x.Args[0].Lit()) {
				total++
			}
			for i := 1; i+1 < len(x.Args); i++ {
				if sh := path.Base(x.Args[i-1].Lit()); (sh == "sh" || sh == "bash") && x.Args[i].Lit() == "-c" {
					if i-1 > 0 {
						total++ // timeout N sh -c: sh is a process too
					}
					total += processes(wordText(x.Args[i+1]))
				}
			}
		}
		return true
	})
	return total
}

// wordText is a word's text, quotes removed.
func wordText(w *syntax.Word) string {
	var b strings.Builder
	for _, p := range w.Parts {
		switch q := p.(type) {
		case *syntax.SglQuoted:
			b.WriteString(q.Value)
		case *syntax.Lit:
			b.WriteString(q.Value)
		case *syntax.DblQuoted:
			for _, in := range q.Parts {
				if l, ok := in.(*syntax.Lit); ok {
					b.WriteString(l.Value)
				}
			}
		}
	}
	return b.String()
}

// BenchmarkCheckTCG prints how long "lvslab check" of a 4-node copy takes
// under the TCG cost model, full and quick ("check my work"), for tedu-nat
// and tedu-dr, with the sessions and processes each node was asked for.
// Verify's counters are read once (verify.CounterSettle 0): a real
// director's may take up to 2 s more to catch up in the full proof; the
// quick proof does not read them.
//
// Figures on the session's machine (2 shared cores), s per check:
//
//	                 main (full)  full   quick
//	tedu-nat         12.9         10.0   2.3
//	tedu-dr          13.5         9.2    2.4
//
// main's row is this benchmark run on main's code (every row its full
// check): the model lands at the 12.6 s measured there in TCG guests.
//
//	go test ./provision/check -run '^$' -bench CheckTCG -benchtime 1x
func BenchmarkCheckTCG(b *testing.B) {
	settle := verify.CounterSettle
	verify.CounterSettle = 0
	defer func() { verify.CounterSettle = settle }()
	for _, labName := range []string{"tedu-nat", "tedu-dr"} {
		for _, quick := range []bool{false, true} {
			mode := map[bool]string{false: "full", true: "quick"}[quick]
			b.Run(labName+"/"+mode, func(b *testing.B) {
				lab := rolestest.Lab(b, labName)
				var took time.Duration
				var guests map[string]*tcgGuest
				for i := 0; i < b.N; i++ {
					guests = map[string]*tcgGuest{}
					for _, st := range roles.Desired(lab) {
						guests[st.Name] = &tcgGuest{g: configured(st, catalog.Debian), cpu: &sync.Mutex{}}
					}
					dial := func(node string) (guest.Executor, error) { return guests[node], nil }
					start := time.Now()
					rep, err := checkRun(context.Background(), lab, dial, quick)
					took += time.Since(start)
					if err != nil || rep == nil {
						b.Fatalf("check: %v", err)
					}
				}
				per := took / time.Duration(b.N)
				b.ReportMetric(per.Seconds(), "s/check")
				var load []string
				for _, n := range slices.Sorted(func(yield func(string) bool) {
					for k := range guests {
						if !yield(k) {
							return
						}
					}
				}) {
					g := guests[n]
					load = append(load, fmt.Sprintf("%s %d sessions %d processes %d requests", n, g.sessions, g.procs, g.requests))
				}
				fmt.Printf("CHECK-TCG %s %s: %.1f s (%s)\n", labName, mode, per.Seconds(), strings.Join(load, "; "))
			})
		}
	}
}

// Quick, the class server's "check my work": every node's facts in one
// read each, verify's quick proof at the same time (it reads no sockets,
// no connection table, no lanes), the report saying what it skipped.
func TestQuick(t *testing.T) {
	tcgFree = true
	defer func() { tcgFree = false }()
	lab := rolestest.Lab(t, "tedu-nat")
	guests := map[string]*tcgGuest{}
	for _, st := range roles.Desired(lab) {
		guests[st.Name] = &tcgGuest{g: configured(st, catalog.RHEL), cpu: &sync.Mutex{}}
	}
	rep, err := Quick(context.Background(), lab, func(node string) (guest.Executor, error) { return guests[node], nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range rep.Nodes {
		if n.Error != "" || len(failed(n)) > 0 || n.OS != catalog.RHEL {
			t.Errorf("%s (%s): %s %v", n.Node, n.OS, n.Error, failed(n))
		}
		if g := guests[n.Node]; n.Role != "client" && n.Role != "director" && g.sessions != 1 {
			t.Errorf("%s: %d sessions, want the one read", n.Node, g.sessions)
		}
	}
	if rep.Verify == nil || rep.Verify.Quick != verify.QuickSkips {
		t.Fatalf("verify %+v (%s)", rep.Verify, rep.VerifyError)
	}
	for _, c := range guests["client1"].g.ran {
		if strings.Contains(c, verify.SocketsCommand) {
			t.Errorf("the quick proof read the client's sockets")
		}
	}
	var b strings.Builder
	if err := WriteText(&b, rep); err != nil || !strings.Contains(b.String(), "not in a quick run") {
		t.Errorf("%v\n%s", err, b.String())
	}
}
