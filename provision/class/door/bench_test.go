package door

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkJumpKeystrokeEcho measures what the door adds to a keystroke's
// round trip: a byte typed in an inner (ssh -J) session goes through both
// SSH layers and the bridge to an in-process shell that echoes it at once.
// With 30 sessions typing at once; it reports the median and p99 round
// trip and the heap in use with the sessions open.
func BenchmarkJumpKeystrokeEcho(b *testing.B) {
	for _, n := range []int{1, 30} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) { benchEcho(b, n) })
	}
}

func benchEcho(b *testing.B, sessions int) {
	cfg := testConfig(b)
	cfg.MaxChannelsPerConn, cfg.MaxShellsPerStudent = 2*sessions, 2*sessions
	tc := startClass(b, cfg, nil)
	c := tc.login(b, "alice")
	type term struct {
		in  io.Writer
		out io.Reader
	}
	terms := make([]term, sessions)
	for i := range terms {
		ic, err := tc.jump(c, "web1:22")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ic.Close() })
		s, err := ic.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.RequestPty("xterm", 24, 80, nil); err != nil {
			b.Fatal(err)
		}
		in, _ := s.StdinPipe()
		out, _ := s.StdoutPipe()
		if err := s.Shell(); err != nil {
			b.Fatal(err)
		}
		prompt := make([]byte, 2)
		if _, err := io.ReadFull(out, prompt); err != nil {
			b.Fatal(err)
		}
		terms[i] = term{in, out}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	per := max(b.N/sessions, 1)
	lat := make([][]time.Duration, sessions)
	var wg sync.WaitGroup
	b.ResetTimer()
	for i := range terms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			echo := make([]byte, 1)
			for range per {
				start := time.Now()
				if _, err := terms[i].in.Write([]byte{'x'}); err != nil {
					b.Error(err)
					return
				}
				if _, err := io.ReadFull(terms[i].out, echo); err != nil {
					b.Error(err)
					return
				}
				lat[i] = append(lat[i], time.Since(start))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	}
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(0, "ns/op")
}
