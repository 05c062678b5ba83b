package lab

import (
	"slices"

	"github.com/lvslab/lvslab/roles"
)

// configure brings every node to its desired state over SSH (configure.go).
type configure struct{}

func (configure) name() string { return "configure" }

func (configure) doc() string {
	return `brings every node to its desired state over SSH, all at once: hostname,
NICs (persistent, DHCP off), gateway, sysctls, VIP aliases, web page, ipvsadm
rules read back and compared; each node reports "changed (steps)" or
"unchanged" (skipped with --vms-only and --bare; --node: only those nodes)`
}

func (configure) run(r *run) error {
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
	r.configured, err = configureNodes(r.ctx, r.access, states, r.out)
	return err
}
