package lab

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host/agenttest"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/guest"
)

// The management addresses up gives tedu-nat's nodes, by domain.
var teduMgmt = map[string]string{"tedu-client1": "10.250.0.10", "tedu-lvs1": "10.250.0.11", "tedu-web1": "10.250.0.12", "tedu-web2": "10.250.0.13"}

// recordConfigure stands for the engine: it sends each node it configures
// on the channel.
func recordConfigure(configured chan<- string) configureFunc {
	return func(_ context.Context, _ guest.Dialer, st *roles.NodeState, _ progress.Sink) NodeOutcome {
		configured <- st.Name
		return NodeOutcome{Node: st.Name}
	}
}

// A node that answers SSH late holds no other: the others are configured
// while it still waits.
func TestUpConfiguresEachNodeAsSoonAsItAnswers(t *testing.T) {
	conn, opts := fresh(t)
	opts.VMsOnly = false
	configured := make(chan string, 4)
	opts.configureNode = recordConfigure(configured)
	opts.Connector = access.ConnectFunc(func(ctx context.Context, cfg sshx.Config, _ sshx.Retry) (*sshx.Client, error) {
		if cfg.Node != "web2" {
			return nil, nil
		}
		// web2 answers only once the three others are configured.
		var early []string
		for len(early) < 3 {
			select {
			case n := <-configured:
				early = append(early, n)
			case <-time.After(5 * time.Second):
				return nil, errors.New("web2 waited 5 s and only " + strings.Join(early, ", ") + " were configured meanwhile")
			}
		}
		slices.Sort(early)
		if !slices.Equal(early, []string{"client1", "lvs1", "web1"}) {
			return nil, errors.New("configured while web2 waited: " + strings.Join(early, ", "))
		}
		return nil, nil
	})
	res, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := <-configured; got != "web2" {
		t.Errorf("configured %s last, want web2", got)
	}
	var order []string
	for _, o := range res.Configured {
		order = append(order, o.Node)
	}
	if !slices.Equal(order, []string{"client1", "lvs1", "web1", "web2"}) {
		t.Errorf("outcomes %v, want the lab file's order", order)
	}
}

// A node that never answers fails alone, by name: the others are
// configured all the same.
func TestUpFailsTheNodeThatNeverAnswersAlone(t *testing.T) {
	conn, opts := upLab(t, mustLab(t, "tedu-nat"))
	opts.VMsOnly = false
	configured := make(chan string, 4)
	opts.configureNode = recordConfigure(configured)
	opts.Connector = access.ConnectFunc(func(_ context.Context, cfg sshx.Config, _ sshx.Retry) (*sshx.Client, error) {
		if cfg.Node == "lvs1" {
			return nil, errors.New("gave up after 1 tries in 10s: dial tcp " + cfg.Addr + ": i/o timeout")
		}
		return nil, nil
	})
	_, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts)
	if err == nil || !strings.HasPrefix(err.Error(), "node lvs1: no SSH login as root on 10.250.0.11") {
		t.Fatalf("got %v", err)
	}
	for _, n := range []string{"client1", "web1", "web2"} {
		if strings.Contains(err.Error(), n) {
			t.Errorf("the error names %s: %v", n, err)
		}
	}
	close(configured)
	var got []string
	for n := range configured {
		got = append(got, n)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"client1", "web1", "web2"}) {
		t.Errorf("configured %v, want every node but lvs1", got)
	}
	// test:///default runs no guest agent: the error names the console.
	if !strings.Contains(err.Error(), `no guest agent answers on lvs1 either`) || !strings.Contains(err.Error(), `"lvslab console lvs1 --lab tedu"`) {
		t.Errorf("no way to the console: %v", err)
	}
}

// A second up of a lab whose web1 the student cut off (mgmt0 down, sshd
// stopped) restores lvslab's access through the guest agent and goes on.
func TestUpRestoresACutOffNode(t *testing.T) {
	conn, opts := upLab(t, mustLab(t, "tedu-nat"))
	g := agenttest.CutOffGuest("tedu-web1", teduMgmt)
	opts.Agent = g
	opts.Connector = access.ConnectFunc(func(ctx context.Context, cfg sshx.Config, r sshx.Retry) (*sshx.Client, error) {
		for cfg.Node == "web1" && !g.Repaired() {
			if stop := r.Attempt(cfg.Addr, errors.New("dial tcp "+cfg.Addr+": i/o timeout")); stop != nil {
				return nil, stop
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(r.Poll):
			}
		}
		return nil, nil
	})
	rec := &recorder{}
	opts.Progress = rec
	start := time.Now()
	if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("up took %s", took)
	}
	var restored []progress.NodeRestored
	for _, ev := range rec.events {
		if e, ok := ev.(progress.NodeRestored); ok {
			restored = append(restored, e)
		}
	}
	if len(restored) != 1 || restored[0].Node != "web1" || !slices.Equal(restored[0].Causes, []string{"mgmt0 is down", "sshd is stopped"}) {
		t.Errorf("the restore is told as %+v", restored)
	}
	var repairs []string
	for _, p := range g.Ran() {
		if strings.Contains(p.Script(), "ip link set") {
			repairs = append(repairs, p.Domain)
		}
	}
	if !slices.Equal(repairs, []string{"tedu-web1"}) {
		t.Errorf("repairs ran on %v, want web1 alone", repairs)
	}
}

// status names what cut a node off, in its sentence and in JSON, and the
// serial console where no guest agent answers.
func TestStatusNamesWhatCutANodeOff(t *testing.T) {
	conn, opts := upLab(t, mustLab(t, "tedu-nat"))
	g := agenttest.CutOffGuest("tedu-web1", teduMgmt)
	g.Silent = map[string]bool{"tedu-web2": true}
	var mu sync.Mutex
	probe := func(_ context.Context, cfg sshx.Config, _ sshx.Retry) (*sshx.Client, error) {
		mu.Lock()
		defer mu.Unlock()
		if cfg.Node == "web1" || cfg.Node == "web2" {
			return nil, errors.New("dial tcp " + cfg.Addr + ": connect: connection refused")
		}
		return nil, nil
	}
	start := time.Now()
	st, err := Status(context.Background(), conn, "tedu", StatusOptions{Paths: opts.Paths, Connector: access.ConnectFunc(probe), Agent: g})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("status took %s", took)
	}
	var down []string
	for _, n := range st.Nodes {
		if why := n.Down(); why != "" {
			down = append(down, why)
		}
	}
	want := []string{"web1 does not answer SSH: mgmt0 is down and sshd is stopped",
		`web2 does not answer SSH, and no guest agent answers either: "lvslab console web2 --lab tedu" logs in on its serial console`}
	if !slices.Equal(down, want) {
		t.Errorf("down %q\nwant %q", down, want)
	}
	if !st.Nodes[2].CutOff() || st.Nodes[3].CutOff() || st.Nodes[0].CutOff() {
		t.Errorf("cut off: %v %v %v", st.Nodes[0].CutOff(), st.Nodes[2].CutOff(), st.Nodes[3].CutOff())
	}
	data, err := json.Marshal(st.Nodes)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{`"node":"web1"`, `"causes":[{"kind":"mgmt0-down","text":"mgmt0 is down","fix":"ip link set mgmt0 up"},{"kind":"sshd-stopped","text":"sshd is stopped"`,
		`"node":"lvs1"`, `"causes":[]`, `"no_agent":"no guest agent answers either`} {
		if !strings.Contains(string(data), part) {
			t.Errorf("JSON lacks %s:\n%s", part, data)
		}
	}
}
