package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/engine"
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
// its desired state (roles) over its executor from acc as soon as it
// answers SSH (the ssh step starts it), all nodes at once, over their
// management NICs; one that never answers holds no other. The lines it
// prints are held until the phase is shown, after the SSH wait's own.
type configuring struct {
	ctx      context.Context
	acc      *access.Access
	node     configureFunc
	out      *heldWriter
	wg       sync.WaitGroup
	mu       sync.Mutex
	started  time.Time
	outcomes map[string]NodeOutcome
}

// configureFunc brings one node to its desired state.
type configureFunc func(ctx context.Context, acc *access.Access, st *roles.NodeState, w io.Writer) NodeOutcome

func newConfiguring(ctx context.Context, acc *access.Access, node configureFunc, out io.Writer) *configuring {
	if node == nil {
		node = configureNode
	}
	return &configuring{ctx: ctx, acc: acc, node: node, out: &heldWriter{w: out}, outcomes: map[string]NodeOutcome{}}
}

// start configures st's node in the background.
func (c *configuring) start(st *roles.NodeState) {
	c.mu.Lock()
	if c.started.IsZero() {
		c.started = time.Now()
	}
	c.mu.Unlock()
	c.wg.Go(func() {
		o := c.node(c.ctx, c.acc, st, c.out)
		c.mu.Lock()
		c.outcomes[st.Name] = o
		c.mu.Unlock()
	})
}

// finish shows the phase, waits for every node started and returns their
// outcomes in the order of states (a node never started has none).
func (c *configuring) finish(states []*roles.NodeState) ([]NodeOutcome, error) {
	c.out.release(fmt.Sprintf("configure: %d nodes\n", len(states)))
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
		fmt.Fprintf(c.out, "configure: done in %s\n", time.Since(c.started).Round(100*time.Millisecond))
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

func configureNode(ctx context.Context, acc *access.Access, st *roles.NodeState, w io.Writer) NodeOutcome {
	o := NodeOutcome{Node: st.Name}
	start := time.Now()
	defer func() { o.Elapsed = time.Since(start) }()
	x, err := acc.Dial(ctx, st.Name)
	if err == nil && x == nil {
		err = errors.New("no SSH connection")
	}
	if err != nil {
		o.Err = err
		return o
	}
	// The OS family comes from the first survey: one round trip on a node
	// with nothing to change.
	stepsFor := func(osFamily string) []catalog.Step { return catalog.Steps(st, osFamily) }
	o.OS, o.Result, o.Err = engine.Configure(ctx, x, stepsFor, func(ev engine.Event) {
		if ev.Status != engine.StatusUnchanged {
			fmt.Fprintf(w, "   %-10s %-8s %s\n", st.Name, ev.Status, ev.Step)
		}
	})
	elapsed := time.Since(start).Round(100 * time.Millisecond)
	switch {
	case o.Err != nil:
		fmt.Fprintf(w, "   %-10s failed after %s: %v\n", st.Name, elapsed, o.Err)
	case o.Result.Changed():
		fmt.Fprintf(w, "   %-10s changed (%s) in %s\n", st.Name, strings.Join(o.Result.ChangedSteps(), ", "), elapsed)
	default:
		fmt.Fprintf(w, "   %-10s unchanged (%d steps checked, %s) in %s\n", st.Name, len(o.Result.Steps), o.OS, elapsed)
	}
	return o
}

// heldWriter keeps what is written until release, then passes it on
// (serialised: nodes configured at once write lines).
type heldWriter struct {
	sync.Mutex
	w        io.Writer
	held     bytes.Buffer
	released bool
}

func (h *heldWriter) Write(p []byte) (int, error) {
	h.Lock()
	defer h.Unlock()
	if !h.released {
		return h.held.Write(p)
	}
	return h.w.Write(p)
}

// release writes first, then what was held, and passes on what follows.
func (h *heldWriter) release(first string) {
	h.Lock()
	defer h.Unlock()
	h.released = true
	io.WriteString(h.w, first)
	h.w.Write(h.held.Bytes())
	h.held.Reset()
}
