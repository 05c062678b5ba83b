package lab

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/engine"
	"github.com/lvslab/lvslab/roles/guest"
)

// NodeOutcome is what the configure phase did to one node.
type NodeOutcome struct {
	Node    string
	OS      string
	Result  engine.Result
	Elapsed time.Duration
	Err     error
}

// configuring is the configure phase of "lvslab up": each node brought to
// its desired state (roles) over the executor dial gives for it as soon as
// it answers SSH (the ssh step starts it), all nodes at once, over their
// management NICs; one that never answers holds no other. Its events are
// held until the phase is shown, after the SSH wait's own.
type configuring struct {
	ctx      context.Context
	dial     guest.Dialer
	node     configureFunc
	sink     *heldSink
	wg       sync.WaitGroup
	mu       sync.Mutex
	started  time.Time
	outcomes map[string]NodeOutcome
}

// configureFunc brings one node to its desired state.
type configureFunc func(ctx context.Context, dial guest.Dialer, st *roles.NodeState, sink progress.Sink) NodeOutcome

func newConfiguring(ctx context.Context, dial guest.Dialer, node configureFunc, sink progress.Sink) *configuring {
	if node == nil {
		node = nodeConfigurer(false)
	}
	return &configuring{ctx: ctx, dial: dial, node: node, sink: &heldSink{sink: sink}, outcomes: map[string]NodeOutcome{}}
}

// start configures st's node in the background.
func (c *configuring) start(st *roles.NodeState) {
	c.mu.Lock()
	if c.started.IsZero() {
		c.started = time.Now()
	}
	c.mu.Unlock()
	c.wg.Go(func() {
		o := c.node(c.ctx, c.dial, st, c.sink)
		c.mu.Lock()
		c.outcomes[st.Name] = o
		c.mu.Unlock()
	})
}

// finish shows the phase, waits for every node started and returns their
// outcomes in the order of states (a node never started has none).
func (c *configuring) finish(states []*roles.NodeState) ([]NodeOutcome, error) {
	var names []string
	for _, st := range states {
		names = append(names, st.Name)
	}
	c.sink.release(progress.ConfigureStarted{Nodes: names})
	c.wg.Wait()
	var res []NodeOutcome
	var errs []error
	for _, st := range states {
		o, ok := c.outcomes[st.Name]
		if !ok {
			continue
		}
		res = append(res, o)
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.Node, o.Err))
		}
	}
	if !c.started.IsZero() {
		c.sink.Emit(progress.ConfigureDone{Elapsed: progress.Since(c.started)})
	}
	return res, errors.Join(errs...)
}

// wait waits for the nodes under way (a failed run, before it removes
// what it made).
func (c *configuring) wait() {
	if c != nil {
		c.wg.Wait()
	}
}

// nodeConfigurer is configureNode as a configureFunc. nameNICs: the image
// is not lvslab's own, which names the lab NICs at its first boot: they are
// named by MAC first.
func nodeConfigurer(nameNICs bool) configureFunc {
	return func(ctx context.Context, dial guest.Dialer, st *roles.NodeState, sink progress.Sink) NodeOutcome {
		return configureNode(ctx, dial, st, sink, nameNICs)
	}
}

func configureNode(ctx context.Context, dial guest.Dialer, st *roles.NodeState, sink progress.Sink, nameNICs bool) NodeOutcome {
	o := NodeOutcome{Node: st.Name}
	start := time.Now()
	x, err := dial(st.Name)
	if err != nil {
		o.Err, o.Elapsed = err, time.Since(start)
		return o
	}
	log := func(ev engine.Event) {
		sink.Emit(progress.ConfigureStep{Node: st.Name, Step: ev.Step, Status: ev.Status, Detail: ev.Detail})
	}
	if nameNICs {
		if o.Result, o.Err = engine.Apply(ctx, x, catalog.NICNameSteps(st), log); o.Err != nil {
			o.Err = fmt.Errorf("naming its NICs by MAC: %w", o.Err)
		}
	}
	if o.Err == nil {
		// The OS family and the network owner come from the first survey:
		// one round trip on a node with nothing to change.
		stepsFor := func(osFamily, owner string) []catalog.Step { return catalog.StepsFor(st, osFamily, owner) }
		o.OS, o.Result, o.Err = engine.Configure(ctx, x, stepsFor, log)
	}
	o.Elapsed = time.Since(start)
	sink.Emit(progress.NodeConfigured{Node: st.Name, OS: o.OS, Changed: o.Result.ChangedSteps(), Checked: len(o.Result.Steps),
		Elapsed: progress.Duration(o.Elapsed), Error: progress.ErrorText(o.Err)})
	return o
}

// heldSink keeps the events emitted to it until release, then passes them
// on, in order, and those that follow.
type heldSink struct {
	mu       sync.Mutex
	sink     progress.Sink
	held     []progress.Event
	released bool
}

func (h *heldSink) Emit(ev progress.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.released {
		h.held = append(h.held, ev)
		return
	}
	h.sink.Emit(ev)
}

// release emits first, then what was held, and passes on what follows.
func (h *heldSink) release(first progress.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.released = true
	h.sink.Emit(first)
	for _, ev := range h.held {
		h.sink.Emit(ev)
	}
	h.held = nil
}
