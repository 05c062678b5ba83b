package lab

import (
	"errors"
	"slices"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/guest"
)

// configure brings every node to its desired state over SSH (configure.go).
func configure(r *run) error {
	if r.opts.VMsOnly || r.opts.Bare {
		return nil
	}
	var states []*roles.NodeState
	for _, n := range r.nodes {
		if len(r.opts.Nodes) == 0 || slices.Contains(r.opts.Nodes, n.node.Name) {
			states = append(states, n.desired)
		}
	}
	var err error
	r.configured, err = configureNodes(r.ctx, r.dialNode, states, r.sink)
	return err
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
