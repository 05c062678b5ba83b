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

// configureNodes is the configure phase of "lvslab up": every node brought
// to its desired state (roles) over the executor dial gives for it, all
// nodes at once, over their management NICs.
func configureNodes(ctx context.Context, dial guest.Dialer, states []*roles.NodeState, sink progress.Sink) ([]NodeOutcome, error) {
	start := time.Now()
	var names []string
	for _, st := range states {
		names = append(names, st.Name)
	}
	sink.Emit(progress.ConfigureStarted{Nodes: names})
	res := make([]NodeOutcome, len(states))
	var wg sync.WaitGroup
	for i, st := range states {
		wg.Go(func() {
			res[i] = configureNode(ctx, dial, st, sink)
		})
	}
	wg.Wait()
	var errs []error
	for _, o := range res {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.Node, o.Err))
		}
	}
	sink.Emit(progress.ConfigureDone{Elapsed: progress.Since(start)})
	return res, errors.Join(errs...)
}

func configureNode(ctx context.Context, dial guest.Dialer, st *roles.NodeState, sink progress.Sink) NodeOutcome {
	o := NodeOutcome{Node: st.Name}
	start := time.Now()
	x, err := dial(st.Name)
	if err != nil {
		o.Err, o.Elapsed = err, time.Since(start)
		return o
	}
	// The OS family comes from the first survey: one round trip on a node
	// with nothing to change.
	stepsFor := func(osFamily string) []catalog.Step { return catalog.Steps(st, osFamily) }
	o.OS, o.Result, o.Err = engine.Configure(ctx, x, stepsFor, func(ev engine.Event) {
		sink.Emit(progress.ConfigureStep{Node: st.Name, Step: ev.Step, Status: ev.Status, Detail: ev.Detail})
	})
	o.Elapsed = time.Since(start)
	sink.Emit(progress.NodeConfigured{Node: st.Name, OS: o.OS, Changed: o.Result.ChangedSteps(), Checked: len(o.Result.Steps),
		Elapsed: progress.Duration(o.Elapsed), Error: progress.ErrorText(o.Err)})
	return o
}
