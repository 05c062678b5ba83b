package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/engine"
	"github.com/lvslab/lvslab/topology"
)

// The SSH client is the engine's executor, and survives re-addressing.
var _ interface {
	engine.Executor
	engine.Readdresser
} = (*sshx.Client)(nil)

// NodeOutcome is what the configure phase did to one node.
type NodeOutcome struct {
	Node    string
	OS      string
	Result  engine.Result
	Elapsed time.Duration
	Err     error
}

// Configure returns the configure phase of "lvslab up": every node brought
// to its desired state (roles) over its SSH client, all nodes at once. A node
// whose SSH address moved (NAT -> DR) has the new address recorded in its
// tag, so the next up or status looks there first. outcomes, when not nil,
// receives each node's outcome.
func Configure(conn *libvirt.Connect, out io.Writer, outcomes func([]NodeOutcome)) ConfigureFunc {
	return func(ctx context.Context, lab *topology.Lab, eps []*Endpoint) error {
		w := &lockedWriter{w: out}
		if out == nil {
			w.w = io.Discard
		}
		start := time.Now()
		fmt.Fprintf(w, "configure: %d nodes\n", len(eps))
		res := make([]NodeOutcome, len(eps))
		var wg sync.WaitGroup
		for i, ep := range eps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = configureNode(ctx, conn, lab, ep, w)
			}()
		}
		wg.Wait()
		var errs []error
		for _, o := range res {
			if o.Err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", o.Node, o.Err))
			}
		}
		fmt.Fprintf(w, "configure: done in %s\n", time.Since(start).Round(100*time.Millisecond))
		if outcomes != nil {
			outcomes(res)
		}
		return errors.Join(errs...)
	}
}

func configureNode(ctx context.Context, conn *libvirt.Connect, lab *topology.Lab, ep *Endpoint, w io.Writer) NodeOutcome {
	o := NodeOutcome{Node: ep.Node}
	start := time.Now()
	defer func() { o.Elapsed = time.Since(start) }()
	node := lab.Node(ep.Node)
	if node == nil || ep.Client == nil {
		o.Err = fmt.Errorf("no SSH connection")
		return o
	}
	o.OS, o.Err = engine.DetectOS(ctx, ep.Client)
	if o.Err != nil {
		return o
	}
	steps := catalog.Steps(roles.DesiredFor(lab, node), o.OS)
	o.Result, o.Err = engine.Apply(ctx, ep.Client, steps, func(ev engine.Event) {
		if ev.Status != engine.StatusUnchanged {
			fmt.Fprintf(w, "   %-10s %-8s %s\n", ep.Node, ev.Status, ev.Step)
		}
	})
	if moved := ep.Client.Addr(); moved != ep.Addr {
		host, _, err := net.SplitHostPort(moved)
		if err != nil {
			host = moved
		}
		if err := RecordSSHAddress(conn, lab.Name, ep.Node, host); err != nil && o.Err == nil {
			o.Err = fmt.Errorf("record new SSH address %s: %w", host, err)
		}
		ep.Addr = moved
	}
	elapsed := time.Since(start).Round(100 * time.Millisecond)
	switch {
	case o.Err != nil:
		fmt.Fprintf(w, "   %-10s failed after %s: %v\n", ep.Node, elapsed, o.Err)
	case o.Result.Changed():
		fmt.Fprintf(w, "   %-10s changed (%s) in %s\n", ep.Node, strings.Join(o.Result.ChangedSteps(), ", "), elapsed)
	default:
		fmt.Fprintf(w, "   %-10s unchanged (%d steps checked, %s) in %s\n", ep.Node, len(o.Result.Steps), o.OS, elapsed)
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
