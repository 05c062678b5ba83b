package serve

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestBenchTerminals (LVSLAB_BENCH=1): 30 students type at once, each in a
// terminal websocket through the server on loopback to a fake echo shell.
// Prints the keystroke-to-echo time (median, p99) against the same echo
// called directly, and the memory the 30 sessions hold. Figures, not
// assertions.
func TestBenchTerminals(t *testing.T) {
	if os.Getenv("LVSLAB_BENCH") != "1" {
		t.Skip("a benchmark: LVSLAB_BENCH=1 runs it")
	}
	const students, keys = 30, 300
	think := 10 * time.Millisecond // a fast typist: 100 keys a second each
	var names []string
	for i := 0; i < students; i++ {
		names = append(names, fmt.Sprintf("s%02d", i))
	}
	e := newEnv(t, func(c *Config) { c.Now = time.Now; c.Logf = func(string, ...any) {} }, names...)

	// The echo alone, for the baseline.
	direct := func() []time.Duration {
		sh := newEcho("web1", nil)
		defer sh.Close()
		buf := make([]byte, 256)
		sh.Read(buf) // prompt
		var d []time.Duration
		for i := 0; i < keys; i++ {
			t0 := time.Now()
			go sh.Write([]byte("a")) // the pipe gives it to the reader
			sh.Read(buf)
			d = append(d, time.Since(t0))
		}
		return d
	}()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goBefore := runtime.NumGoroutine()

	conns := make([]*websocket.Conn, students)
	for i, n := range names {
		c := e.login(n)
		conn, _, err := c.ws("/s/"+n+"/term/web1", e.ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetReadLimit(1 << 20)
		defer conn.CloseNow()
		readUntil(t, conn, "# ")
		conns[i] = conn
	}
	runtime.GC()
	var open runtime.MemStats
	runtime.ReadMemStats(&open)
	goOpen := runtime.NumGoroutine()

	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for _, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			var mine []time.Duration
			for k := 0; k < keys; k++ {
				t0 := time.Now()
				if err := conn.Write(ctx, websocket.MessageBinary, []byte("a")); err != nil {
					t.Error(err)
					return
				}
				if _, _, err := conn.Read(ctx); err != nil {
					t.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
				time.Sleep(think)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	q := func(d []time.Duration, p float64) time.Duration {
		s := append([]time.Duration(nil), d...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[min(len(s)-1, int(p*float64(len(s))))]
	}
	t.Logf("%d terminals x %d keystrokes (one every %v each) in %v on %d CPUs", students, keys, think, elapsed.Round(time.Millisecond), runtime.NumCPU())
	t.Logf("keystroke to echo through the server: median %v, p99 %v, max %v", q(all, .5), q(all, .99), q(all, 1))
	t.Logf("the echo alone:                        median %v, p99 %v", q(direct, .5), q(direct, .99))
	t.Logf("added by the server (websocket, bridge, loopback): median %v, p99 %v",
		q(all, .5)-q(direct, .5), q(all, .99)-q(direct, .99))
	t.Logf("memory with the %d sessions open (server and the test's clients in one process): heap in use +%.1f MiB (%.0f KiB a session), %d goroutines (+%d), process total from the runtime %.1f MiB; after typing heap in use %.1f MiB",
		students, float64(open.HeapInuse-before.HeapInuse)/(1<<20), float64(open.HeapInuse-before.HeapInuse)/1024/students,
		goOpen, goOpen-goBefore, float64(open.Sys)/(1<<20), float64(after.HeapInuse)/(1<<20))
}
