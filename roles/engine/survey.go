package engine

import (
	"context"

	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/ipvs"
)

// Survey tells what Apply would do to a node, changing nothing: each step
// unchanged, or changed with the file Apply would write and the commands it
// would run (for the IPVS table, the ipvsadm edits that bring it to the
// lab's). Every check is read as the node is now, so a step that only
// differs because an earlier one has not run yet shows as changed too.
func Survey(ctx context.Context, exec Executor, steps []catalog.Step) (Result, error) {
	var res Result
	survey, err := surveyChecks(ctx, exec, steps, 0)
	if err != nil {
		return res, err
	}
	for i := range steps {
		step := &steps[i]
		sr := StepResult{Name: step.Name, Status: StatusUnchanged}
		if step.Kind == catalog.KindIPVS {
			current, err := ipvs.ReadRules(ctx, exec)
			if err != nil {
				return res, err
			}
			if cmds := ipvs.Commands(ipvs.Diff(current, step.IPVS)); len(cmds) > 0 {
				sr.Status, sr.Commands = StatusChanged, cmds
			}
		} else {
			same, err := inspect(ctx, exec, step, survey[i])
			if err != nil {
				return res, err
			}
			if !same {
				sr.Status, sr.Commands = StatusChanged, step.Apply
				if step.File != nil {
					sr.Wrote = step.File.Path
				}
			}
		}
		res.Steps = append(res.Steps, sr)
	}
	return res, nil
}
