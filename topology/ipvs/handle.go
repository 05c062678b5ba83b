package ipvs

import (
	"context"
	"fmt"
)

// RunFunc runs a shell command on the node whose table a Handle reads and
// returns its standard output (an executor's Run method, for instance).
type RunFunc func(ctx context.Context, cmd string) (string, error)

// Handle reads and changes one node's IPVS table through ipvsadm, in the
// manner of moby/ipvs's Handle (which speaks netlink instead): every
// command line it runs is spelled in this package.
type Handle struct {
	run RunFunc
}

// New returns a handle on the table of the node run reaches.
func New(run RunFunc) *Handle { return &Handle{run: run} }

// Rules reads the table's rules (SaveCommand) with the connection
// thresholds -Sn leaves out: what a lab's services are compared with. A
// table with services costs a second round trip.
func (h *Handle) Rules(ctx context.Context) ([]Service, error) {
	out, err := h.run(ctx, SaveCommand)
	if err != nil {
		return nil, fmt.Errorf("read the IPVS table: %w", err)
	}
	svcs, err := ParseRules(out)
	if err != nil || len(svcs) == 0 {
		return svcs, err
	}
	th, err := h.run(ctx, ThresholdsCommand)
	if err != nil {
		return nil, fmt.Errorf("read the IPVS thresholds: %w", err)
	}
	return ParseRules(out + th)
}

// Table reads the table in the kernel's list order with every
// destination's connections and counters (TableCommand).
func (h *Handle) Table(ctx context.Context) ([]Service, error) {
	out, err := h.run(ctx, TableCommand)
	if err != nil {
		return nil, fmt.Errorf("reading the IPVS table: %w", err)
	}
	t, err := Parse(out)
	return t.Services, err
}

// TableConns is Table with the connection entries (ConnectionsCommand),
// read in the same round trip.
func (h *Handle) TableConns(ctx context.Context) (Table, error) {
	out, err := h.run(ctx, TableCommand+"; "+ConnectionsCommand)
	if err != nil {
		return Table{}, fmt.Errorf("reading the IPVS table: %w", err)
	}
	return Parse(out)
}

// Apply runs the ops' command lines in order, one round trip each, and
// returns the error of the first that fails, as the runner gave it.
func (h *Handle) Apply(ctx context.Context, ops ...Op) error {
	for _, op := range ops {
		if _, err := h.run(ctx, op.Command()); err != nil {
			return err
		}
	}
	return nil
}

// Restore empties the table and loads services whole (RestoreCommand),
// as at boot: two round trips; nothing is loaded when the clear fails.
func (h *Handle) Restore(ctx context.Context, services []Service) error {
	if _, err := h.run(ctx, ClearCommand); err != nil {
		return fmt.Errorf("%s: %w", ClearCommand, err)
	}
	if len(services) == 0 {
		return nil
	}
	if _, err := h.run(ctx, RestoreCommand(services)); err != nil {
		return fmt.Errorf("%s: %w", Restore, err)
	}
	return nil
}
