package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/guest"
)

// recorder is a Sink that keeps the events it is given.
type recorder struct {
	mu     sync.Mutex
	events []progress.Event
}

func (r *recorder) Emit(ev progress.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// split is the events of the wait's nodes, by node, and the others in
// order (the nodes wait at once: only each node's own order is fixed).
func (r *recorder) split() (main []string, nodes map[string][]string) {
	nodes = map[string][]string{}
	for _, ev := range r.events {
		switch e := ev.(type) {
		case progress.NodeWaiting:
			nodes[e.Node] = append(nodes[e.Node], e.Kind()+" "+e.Addr)
		case progress.NodeReady:
			nodes[e.Node] = append(nodes[e.Node], e.Kind()+" "+e.Addr)
		case progress.NodeFailed:
			nodes[e.Node] = append(nodes[e.Node], e.Kind())
		case progress.StepStarted:
			main = append(main, e.Kind()+" "+e.Step)
		case progress.StepDone:
			main = append(main, e.Kind()+" "+e.Step)
		case progress.StepFailed:
			main = append(main, e.Kind()+" "+e.Step)
		case progress.NetworkCreated:
			main = append(main, e.Kind()+" "+e.Name)
		default:
			main = append(main, ev.Kind())
		}
	}
	return main, nodes
}

// stepEvents is a step's start and done around what it emits.
func stepEvents(step string, within ...string) []string {
	return slices.Concat([]string{"step.started " + step}, within, []string{"step.done " + step})
}

// up's events in order, on the fake guests: a fresh lab, then the same
// lab again (nothing made); its dry run emits none (its plan is what it
// says).
func TestUpEmitsItsEventsInOrder(t *testing.T) {
	conn, opts := fresh(t)
	rec := &recorder{}
	opts.Progress = rec
	if _, err := DryRun(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err != nil || len(rec.events) != 0 {
		t.Fatalf("dry run: %v, events %v", err, rec.events)
	}
	if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err != nil {
		t.Fatal(err)
	}
	main, nodes := rec.split()
	want := slices.Concat([]string{"up.started"},
		stepEvents("image", "image.chosen"), stepEvents("identity"), stepEvents("pool"), stepEvents("upload"),
		stepEvents("mgmt", "network.created tedu_mgmt"), stepEvents("networks", "network.created tedu-private1", "network.created tedu-private2"),
		stepEvents("plan"), stepEvents("prune"), stepEvents("disks"), stepEvents("seeds"), stepEvents("domains"), stepEvents("start"),
		stepEvents("ssh", "wait.started", "wait.done"), stepEvents("configure"))
	if !slices.Equal(main, want) {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(main, "\n"), strings.Join(want, "\n"))
	}
	for node, addr := range map[string]string{"client1": "10.250.0.10:22", "lvs1": "10.250.0.11:22", "web1": "10.250.0.12:22", "web2": "10.250.0.13:22"} {
		if got := nodes[node]; !slices.Equal(got, []string{"node.waiting " + addr, "node.ready " + addr}) {
			t.Errorf("%s: %v", node, got)
		}
	}

	// Again: everything is reused, so nothing is made; web2 fails its wait
	// and the ssh step fails.
	rec.events = nil
	g := &fakeGuests{waitErr: map[string]error{"web2": errors.New("no SSH login as root")}}
	again := testOptions(t, g)
	again.Paths, again.Progress = opts.Paths, rec
	if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), again); err == nil {
		t.Fatal("up passed with web2 failing its wait")
	}
	main, nodes = rec.split()
	want = slices.Concat([]string{"up.started"}, stepEvents("image", "image.chosen"), stepEvents("identity"), stepEvents("pool"),
		stepEvents("upload"), stepEvents("mgmt"), stepEvents("networks"), stepEvents("plan"), stepEvents("prune"), stepEvents("disks"), stepEvents("seeds"),
		stepEvents("domains"), stepEvents("start"), []string{"step.started ssh", "wait.started", "wait.done", "step.failed ssh"})
	if !slices.Equal(main, want) {
		t.Errorf("events of the second up\n%s\nwant\n%s", strings.Join(main, "\n"), strings.Join(want, "\n"))
	}
	if got := nodes["web2"]; !slices.Equal(got, []string{"node.waiting 10.250.0.13:22", "node.failed"}) {
		t.Errorf("web2: %v", got)
	}
}

// configureNodes is up's configure phase where every node answered at
// once: each started, then the phase shown and waited for.
func configureNodes(ctx context.Context, dial guest.Dialer, states []*roles.NodeState, sink progress.Sink) ([]NodeOutcome, error) {
	c := newConfiguring(ctx, dial, nil, sink)
	for _, st := range states {
		c.start(st)
	}
	return c.finish(states)
}

// configure's events: each node's steps as the engine reports them, then
// its outcome, all after the phase is shown (those of nodes started
// earlier are held); a node that cannot be reached has none; the plain
// lines show only what changed.
func TestConfigureEmitsEachNodesSteps(t *testing.T) {
	var states []*roles.NodeState
	fakes := map[string]*surveyFake{}
	for _, st := range roles.Desired(mustLab(t, "tedu-nat")) {
		if st.Name == "lvs1" || st.Name == "web1" {
			states = append(states, st)
			fakes[st.Name] = newSurveyFake(t, st, true)
		}
	}
	dial := func(node string) (guest.Executor, error) {
		if node == "web1" {
			return nil, errors.New("connection refused")
		}
		return fakes[node], nil
	}
	rec := &recorder{}
	var text bytes.Buffer
	plain := progress.Plain(&text)
	res, err := configureNodes(context.Background(), dial, states, progress.Func(func(ev progress.Event) { rec.Emit(ev); plain.Emit(ev) }))
	if err == nil || !strings.Contains(err.Error(), "web1: connection refused") || len(res) != 2 {
		t.Fatalf("configure: %v, %+v", err, res)
	}
	var steps []string
	var outcome progress.NodeConfigured
	for i, ev := range rec.events {
		switch e := ev.(type) {
		case progress.ConfigureStarted:
			if i != 0 || !slices.Equal(e.Nodes, []string{"lvs1", "web1"}) {
				t.Errorf("event %d: %+v", i, e)
			}
		case progress.ConfigureStep:
			if e.Node != "lvs1" || e.Status != "unchanged" || outcome.Node != "" {
				t.Errorf("event %d: %+v", i, e)
			}
			steps = append(steps, e.Step)
		case progress.NodeConfigured:
			outcome = e
		case progress.ConfigureDone:
			if i != len(rec.events)-1 {
				t.Errorf("configure.done is event %d of %d", i, len(rec.events))
			}
		default:
			t.Errorf("event %d: %T", i, ev)
		}
	}
	if len(steps) == 0 || outcome.Node != "lvs1" || outcome.Checked != len(steps) || len(outcome.Changed) != 0 || outcome.OS != "debian" || outcome.Error != "" {
		t.Errorf("lvs1: steps %v, outcome %+v", steps, outcome)
	}
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	wantLine := fmt.Sprintf("   lvs1       unchanged (%d steps checked, debian) in ", len(steps))
	if len(lines) != 3 || lines[0] != "configure: 2 nodes" || !strings.HasPrefix(lines[1], wantLine) || !strings.HasPrefix(lines[2], "configure: done in ") {
		t.Errorf("plain lines:\n%s", text.String())
	}
}
