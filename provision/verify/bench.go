package verify

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
)

// BenchResult is one prober's speed.
type BenchResult struct {
	Prober    string  `json:"prober"`
	URL       string  `json:"url"`
	Requests  int     `json:"requests"`
	Failures  int     `json:"failures"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
}

// BenchURL times every prober sending n requests to url from one node.
func BenchURL(ctx context.Context, x guest.Executor, url string, n int) ([]BenchResult, error) {
	var out []BenchResult
	for _, p := range []string{ProberCurl, ProberFast} {
		replies, took, err := Probe(ctx, x, p, []string{url}, nil, n, DefaultTimeout(p, n))
		if err != nil {
			return out, err
		}
		r := BenchResult{Prober: p, URL: url, Requests: n, Seconds: took.Seconds()}
		for _, rep := range replies {
			if !rep.OK() {
				r.Failures++
			}
		}
		if took > 0 {
			r.PerSecond = float64(n) / took.Seconds()
		}
		out = append(out, r)
	}
	return out, nil
}

// Bench times both probers from the lab's client against its first TCP
// service (what "make bench" prints). Wall time includes one SSH command.
func Bench(ctx context.Context, lab *topology.Lab, dial guest.Dialer, n int) ([]BenchResult, error) {
	if n < MinRequests || n > MaxRequests {
		return nil, cannot("%d requests is out of range %d..%d", n, MinRequests, MaxRequests)
	}
	client, err := pickClient(lab, "")
	if err != nil {
		return nil, err
	}
	var url string
	for _, s := range lab.Services {
		if s.FWMark == 0 && s.Protocol != "udp" {
			url = URL(s.VIP.String(), s.Port)
			break
		}
	}
	if url == "" {
		return nil, cannot("lab %s has no TCP service with a VIP", lab.Name)
	}
	x, err := dial(client.Name)
	if err != nil {
		return nil, cannot("cannot reach client %s: %v", client.Name, err)
	}
	return BenchURL(ctx, x, url, n)
}

// WriteBench prints bench results as a table.
func WriteBench(w io.Writer, rs []BenchResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "prober\trequests\tfailures\tseconds\trequests/s\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.1f\t\n", r.Prober, r.Requests, r.Failures, r.Seconds, r.PerSecond)
	}
	return tw.Flush()
}
