package check

import (
	"context"
	"io/fs"

	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
)

type fsMode = fs.FileMode

// checkRun is the check the benchmark times: the full one, or Quick.
func checkRun(ctx context.Context, lab *topology.Lab, dial guest.Dialer, quick bool) (*Report, error) {
	if quick {
		return Quick(ctx, lab, dial)
	}
	return Run(ctx, lab, dial, Options{})
}
