package verify

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// BenchmarkProbers measures both probers on this machine against a local
// web server: the gap is curl's process start-up per request, which a TCG
// guest multiplies (~0.16 s per curl there).
func BenchmarkProbers(b *testing.B) {
	for _, p := range Probers {
		b.Run(p, func(b *testing.B) {
			if _, err := exec.LookPath("curl"); err != nil {
				b.Skip("curl not installed")
			}
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

func TestBenchURL(t *testing.T) {
	needCurl(t)
	srv, _ := alternating(t)
	rs, err := BenchURL(context.Background(), localExec{}, srv.URL+"/", 20)
	if err != nil || len(rs) != 2 {
		t.Fatalf("%v %v", rs, err)
	}
	for _, r := range rs {
		if r.Failures != 0 || r.PerSecond <= 0 {
			t.Errorf("%+v", r)
		}
	}
	var b bytes.Buffer
	if err := WriteBench(&b, rs); err != nil || !strings.Contains(b.String(), "requests/s") {
		t.Errorf("%v %s", err, b.String())
	}
	t.Logf("\n%s", b.String())
}
