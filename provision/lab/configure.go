package lab

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/progress"
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
// once, over their management NICs.
func configureNodes(ctx context.Context, acc *access.Access, states []*roles.NodeState, sink progress.Sink) ([]NodeOutcome, error) {
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
			res[i] = configureNode(ctx, acc, st, sink)
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

func configureNode(ctx context.Context, acc *access.Access, st *roles.NodeState, sink progress.Sink) NodeOutcome {
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
		sink.Emit(progress.ConfigureStep{Node: st.Name, Step: ev.Step, Status: ev.Status, Detail: ev.Detail})
	})
	sink.Emit(progress.NodeConfigured{Node: st.Name, OS: o.OS, Changed: o.Result.ChangedSteps(), Checked: len(o.Result.Steps),
		Elapsed: progress.Since(start), Error: progress.ErrorText(o.Err)})
	return o
}
