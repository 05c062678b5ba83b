package lab

import (
	"slices"

	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/roles"
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
	r.configured, err = configureNodes(r.ctx, r.access, states, r.out, r.img.Seeding() != image.SeedAgent)
	return err
}
