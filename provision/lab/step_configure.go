package lab

import (
	"errors"
	"slices"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/guest"
)

// configures tells whether up configures n (not with --vms-only or
// --bare; with --node, only those nodes).
func (r *run) configures(n *nodeRun) bool {
	return !r.opts.VMsOnly && !r.opts.Bare && (len(r.opts.Nodes) == 0 || slices.Contains(r.opts.Nodes, n.node.Name))
}

// configure brings every node to its desired state over SSH (configure.go):
// the ssh step started each as soon as it answered; this waits for them
// all. A node whose SSH failed fails here, by name, beside the others'
// outcomes.
func configure(r *run) error {
	if r.configuring == nil {
		return nil
	}
	var states []*roles.NodeState
	for _, n := range r.nodes {
		if r.configures(n) {
			states = append(states, n.desired)
		}
	}
	var err error
	r.configured, err = r.configuring.finish(states)
	return errors.Join(r.sshErr, err)
}

// dialNode is the node's executor over its SSH login.
func (r *run) dialNode(node string) (guest.Executor, error) {
	c, err := r.access.Dial(r.ctx, node)
	if err == nil && c == nil {
		err = errors.New("no SSH connection")
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}
