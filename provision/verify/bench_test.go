package verify

import (
	"context"
	"testing"

	"github.com/lvslab/lvslab/topology/testkit/shtest"
)

// BenchmarkProbers measures both probers on this machine against a local
// web server: the gap is curl's process start-up per request, which a TCG
// guest multiplies (~0.16 s per curl there).
func BenchmarkProbers(b *testing.B) {
	for _, p := range Probers {
		b.Run(p, func(b *testing.B) {
			shtest.Need(b, "curl")
			srv, _ := alternating(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				replies, _, err := Probe(context.Background(), localExec{}, p, []string{srv.URL + "/"}, nil, 100, DefaultTimeout(p, 100))
				if err != nil || len(replies) != 100 || !replies[99].OK() {
					b.Fatalf("%v %d", err, len(replies))
				}
			}
			b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "requests/s")
		})
	}
}
