package lab

import (
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

// configureNodes is the configure phase of "lvslab up": every node brought
// to its desired state (roles) over its executor from acc, all nodes at
// once, over their management NICs. foreign: the image is not lvslab's
// own, which names the lab NICs at its first boot: they are named first.
func configureNodes(ctx context.Context, acc *access.Access, states []*roles.NodeState, out io.Writer, foreign bool) ([]NodeOutcome, error) {
	w := &lockedWriter{w: out}
	start := time.Now()
	fmt.Fprintf(w, "configure: %d nodes\n", len(states))
	res := make([]NodeOutcome, len(states))
	var wg sync.WaitGroup
	for i, st := range states {
		wg.Go(func() {
			res[i] = configureNode(ctx, acc, st, w, foreign)
		})
	}
	wg.Wait()
	var errs []error
	for _, o := range res {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.Node, o.Err))
		}
	}
	fmt.Fprintf(w, "configure: done in %s\n", time.Since(start).Round(100*time.Millisecond))
	return res, errors.Join(errs...)
}

func configureNode(ctx context.Context, acc *access.Access, st *roles.NodeState, w io.Writer, foreign bool) NodeOutcome {
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
	log := func(ev engine.Event) {
		if ev.Status != engine.StatusUnchanged {
			fmt.Fprintf(w, "   %-10s %-8s %s\n", st.Name, ev.Status, ev.Step)
		}
	}
	if foreign {
		var names engine.Result
		if names, o.Err = engine.Apply(ctx, x, catalog.NICNameSteps(st), log); o.Err != nil {
			o.Result = names
			fmt.Fprintf(w, "   %-10s failed to name its NICs: %v\n", st.Name, o.Err)
			return o
		}
	}
	// The OS family and the network owner come from the first survey: one
	// round trip on a node with nothing to change.
	stepsFor := func(osFamily, owner string) []catalog.Step { return catalog.StepsFor(st, osFamily, owner) }
	o.OS, o.Result, o.Err = engine.Configure(ctx, x, stepsFor, log)
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

// lockedWriter serialises lines written by nodes configured in parallel.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
