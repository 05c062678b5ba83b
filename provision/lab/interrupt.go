package lab

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lvslab/lvslab/provision/host"
)

// interrupted is Up's error when ctx ended under it (Ctrl-C, SIGTERM): it
// says so, in which step, and what it did about this run's objects, instead
// of the failures the cancelled waits report. Without --retain it removes
// them first. The error still wraps ctx's.
func (r *run) interrupted(ctx context.Context) error {
	cause := context.Cause(ctx)
	why := "interrupted"
	if cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		why = "interrupted (" + cause.Error() + ")"
	}
	var made []string
	for i := len(r.undo) - 1; i >= 0; i-- {
		made = append(made, r.undo[i].what)
	}
	head := fmt.Sprintf("up of lab %s was %s during the %s step", r.lab.Name, why, r.step)
	var msg string
	switch {
	case len(made) == 0:
		msg = head + "; this run had created nothing, so nothing was removed"
	case r.opts.Retain:
		msg = fmt.Sprintf("%s; kept what this run created (--retain): %s (\"lvslab down %s\" removes it)", head, strings.Join(made, ", "), r.lab.Name)
	default:
		if err := r.rollback(); err != nil {
			msg = fmt.Sprintf("%s; removing what this run created failed: %v (\"lvslab down %s\" removes the rest)", head, err, r.lab.Name)
		} else {
			msg = fmt.Sprintf("%s; removed what this run had created: %s", head, strings.Join(made, ", "))
		}
	}
	// a sentence of lvslab's, with ctx's error underneath for errors.Is
	return host.Reword(msg, ctx.Err())
}
