package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// Step outcomes reported in Events and Results.
const (
	StatusUnchanged = "unchanged"
	StatusChanged   = "changed"
	StatusFailed    = "failed"
)

// Event reports progress on one step.
type Event struct {
	Step   string `json:"step"`
	Status string `json:"status"` // unchanged, changed, failed
	// Detail says what was done (commands run, file written) or what failed.
	Detail string `json:"detail,omitempty"`
}

// StepResult is what happened to one step.
type StepResult struct {
	Name     string   `json:"name"`
	Status   string   `json:"status"`
	Wrote    string   `json:"wrote,omitempty"` // the file written, if any
	Commands []string `json:"commands"`
}

// Result is what happened to a node's steps.
type Result struct {
	Steps []StepResult `json:"steps"`
}

// Changed tells whether any step changed something.
func (r Result) Changed() bool {
	for _, s := range r.Steps {
		if s.Status == StatusChanged {
			return true
		}
	}
	return false
}

// Status is "changed" when any step changed something, else "unchanged".
func (r Result) Status() string {
	if r.Changed() {
		return StatusChanged
	}
	return StatusUnchanged
}

// ChangedSteps lists the names of the steps that changed something.
func (r Result) ChangedSteps() []string {
	var out []string
	for _, s := range r.Steps {
		if s.Status == StatusChanged {
			out = append(out, s.Name)
		}
	}
	return out
}

// How Apply waits for a service or network step's check to pass after
// applying it: networkd and services apply asynchronously, most within a
// fraction of a second. The check is read SettleAttempts times in all, the
// waits between reads growing as SettleDelays says and its last one
// repeating: 0.1, 0.2, 0.4, 0.8 s, then every second, about 30 s in all.
var (
	SettleAttempts = 33
	SettleDelays   = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second}
)

// settleDelay is the wait after the n-th read (n >= 1) of a check that
// still fails: the schedule's, its last one repeating; none without one.
func settleDelay(n int) time.Duration {
	if len(SettleDelays) == 0 {
		return 0
	}
	return SettleDelays[min(n, len(SettleDelays))-1]
}

const (
	checkOK      = "lvslab-check-ok"
	checkDiffers = "lvslab-check-differs"
)

// checkCommand wraps a Check so that "differs" (the check's non-zero exit)
// is told apart from a failure to run anything at all.
func checkCommand(check string) string {
	return "if { " + check + "\n} >/dev/null 2>&1; then echo " + checkOK + "; else echo " + checkDiffers + "; fi"
}

// Apply brings a node to the state its steps describe: each step is checked
// first and applied only when it differs, then checked again. It stops at the
// first step that fails, with an error naming the step.
func Apply(ctx context.Context, exec guest.Executor, steps []catalog.Step, log func(Event)) (Result, error) {
	f, err := survey(ctx, exec, steps, 0, false)
	if err != nil {
		return Result{}, err
	}
	return apply(ctx, exec, steps, f, log)
}

// Configure is Apply on a node whose OS family and network owner are not
// known yet: the first survey also reads os-release and what manages the
// network, taking the steps stepsFor gives lvslab's own images (Debian,
// systemd-networkd); on another family or owner it surveys again with
// their steps. It returns the family.
func Configure(ctx context.Context, exec guest.Executor, stepsFor func(osFamily, owner string) []catalog.Step, log func(Event)) (string, Result, error) {
	steps := stepsFor(catalog.Debian, catalog.OwnerNetworkd)
	f, err := survey(ctx, exec, steps, 0, true)
	if err != nil {
		return "", Result{}, err
	}
	if strings.TrimSpace(f.osRelease) == "" {
		return "", Result{}, errors.New("no /etc/os-release: cannot tell the guest's OS family")
	}
	osFamily, err := catalog.OSFamily(f.osRelease)
	if err != nil {
		return "", Result{}, err
	}
	if osFamily != catalog.Debian || catalog.FormFor(osFamily, f.owner) != catalog.Debian || f.owner == catalog.OwnerIfupdown {
		steps = stepsFor(osFamily, f.owner)
		if f, err = survey(ctx, exec, steps, 0, false); err != nil {
			return osFamily, Result{}, err
		}
	}
	res, err := apply(ctx, exec, steps, f, log)
	return osFamily, res, err
}

// apply is Apply from the survey f of every step. A step that differs
// costs one round trip besides its file writes: its commands and, in the
// same command, a survey of it and the steps after it (its check, read
// again, and their facts, which the change may have made stale).
func apply(ctx context.Context, exec guest.Executor, steps []catalog.Step, f *facts, log func(Event)) (Result, error) {
	if log == nil {
		log = func(Event) {}
	}
	var res Result
	for i := 0; i < len(steps); {
		if f == nil {
			var err error
			if f, err = survey(ctx, exec, steps, i, false); err != nil {
				return res, err
			}
		}
		n := 1
		for i+n < len(steps) && networkStep(&steps[i]) && networkStep(&steps[i+n]) {
			n++
		}
		var srs []StepResult
		var err error
		if steps[i].Kind == catalog.KindIPVS {
			var sr StepResult
			sr, f, err = applyIPVS(ctx, exec, steps, i, f)
			srs = []StepResult{sr}
		} else {
			srs, f, err = applyGroup(ctx, exec, steps, i, n, f)
		}
		for k, sr := range srs {
			res.Steps = append(res.Steps, sr)
			if err != nil && k == len(srs)-1 {
				err = fmt.Errorf("step %q: %w", sr.Name, err)
				log(Event{Step: sr.Name, Status: StatusFailed, Detail: err.Error()})
				return res, err
			}
			log(Event{Step: sr.Name, Status: sr.Status, Detail: sr.detail()})
		}
		i += len(srs)
	}
	return res, nil
}

// detail says what a step did: the file written and the commands run.
func (sr StepResult) detail() string {
	var parts []string
	if sr.Wrote != "" {
		parts = append(parts, "wrote "+sr.Wrote)
	}
	if len(sr.Commands) > 0 {
		parts = append(parts, "ran: "+strings.Join(sr.Commands, "; "))
	}
	return strings.Join(parts, "; ")
}

// inspect tells whether steps[i]'s file and check are already as desired,
// from the survey f where it has the answer.
func inspect(ctx context.Context, exec guest.Executor, step *catalog.Step, f *facts, i int) (bool, error) {
	if step.File != nil {
		if same, err := f.sameFile(ctx, exec, step.File); err != nil || !same {
			return false, err
		}
	}
	if v, ok := f.verdict(i); ok {
		return v, nil
	}
	if step.Check == "" {
		return true, nil
	}
	return runCheck(ctx, exec, step.Check)
}

// writeFile writes the step's file when its content differs.
func writeFile(ctx context.Context, exec guest.Executor, step *catalog.Step, f *facts, sr *StepResult) error {
	if step.File == nil {
		return nil
	}
	if same, err := f.sameFile(ctx, exec, step.File); err != nil || same {
		return err
	}
	if err := exec.WriteFile(ctx, step.File.Path, []byte(step.File.Content), step.File.Mode); err != nil {
		return fmt.Errorf("write %s: %w", step.File.Path, err)
	}
	sr.Wrote = step.File.Path
	return nil
}

// runAndSurvey runs cmds in order, stopping at the first that fails, and
// in the same round trip surveys steps[from:] again. lvslab's session
// rides on the management NIC, so a command that re-addresses a lab NIC
// runs like any other.
func runAndSurvey(ctx context.Context, exec guest.Executor, cmds []string, steps []catalog.Step, from int) (*facts, error) {
	var b strings.Builder
	for _, c := range cmds {
		b.WriteString("{ " + c + "\n} || exit $?\n")
	}
	p := surveyProbe(steps, from, false)
	out, err := exec.Run(ctx, b.String()+p.Script())
	if err != nil {
		return nil, err
	}
	return parseSurvey(p, out)
}

// settle checks a step again after applying it, retrying for a while when
// the change takes effect asynchronously.
func settle(ctx context.Context, exec guest.Executor, step *catalog.Step) error {
	if step.Check == "" {
		return nil
	}
	for try := 0; try < settleAttempts(step); try++ {
		if try > 0 {
			if err := sleep(ctx, settleDelay(try)); err != nil {
				return err
			}
		}
		ok, err := runCheck(ctx, exec, step.Check)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("still not as desired after applying it: the check `%s` fails", step.Check)
}

// settleAttempts is how many times a step's check is read after applying
// it: services and networkd apply asynchronously.
func settleAttempts(step *catalog.Step) int {
	if step.Kind == catalog.KindService || step.Kind == catalog.KindNetwork {
		return max(SettleAttempts, 1)
	}
	return 1
}

// networkStep tells whether a step changes addresses through the network
// manager: consecutive ones are applied together.
func networkStep(s *catalog.Step) bool { return s.Kind == catalog.KindNetwork }

// applyGroup applies the n steps from steps[i] (n > 1: consecutive
// network steps, applied together): their files written, their commands
// run once (one networkd restart instead of one per interface) with the
// survey that checks them, each step retried alone while it settles.
// Results come back one per step, with the facts of the steps after them
// (nil when they must be surveyed again).
func applyGroup(ctx context.Context, exec guest.Executor, steps []catalog.Step, i, n int, f *facts) ([]StepResult, *facts, error) {
	group := steps[i : i+n]
	results := make([]StepResult, 0, n)
	var changed []int
	for k := range group {
		step := &group[k]
		sr := StepResult{Name: step.Name, Status: StatusFailed}
		same, err := inspect(ctx, exec, step, f, i+k)
		if err != nil {
			return append(results, sr), nil, err
		}
		if same {
			sr.Status = StatusUnchanged
		} else if err := writeFile(ctx, exec, step, f, &sr); err != nil {
			return append(results, sr), nil, err
		} else {
			changed = append(changed, k)
		}
		results = append(results, sr)
	}
	if len(changed) == 0 {
		return results, f, nil
	}
	cmds := groupCommands(group, changed)
	last := changed[len(changed)-1]
	results[last].Commands = cmds
	next := f
	if len(cmds) == 0 {
		// Only files written: the facts of the steps after still hold.
		for _, k := range changed {
			f.wrote(group[k].File)
		}
	} else {
		var err error
		if next, err = runAndSurvey(ctx, exec, cmds, steps, i); err != nil {
			return results[:last+1], nil, err
		}
	}
	if len(cmds) == 0 {
		for _, k := range changed {
			if err := settle(ctx, exec, &group[k]); err != nil {
				return results[:k+1], nil, err
			}
			results[k].Status = StatusChanged
		}
		return results, next, nil
	}
	return awaitGroup(ctx, exec, steps, i, changed, results, next)
}

// groupCommands are the Apply commands of the changed steps of a group, in
// order, each once.
func groupCommands(group []catalog.Step, changed []int) []string {
	var cmds []string
	seen := map[string]bool{}
	for _, k := range changed {
		for _, c := range group[k].Apply {
			if !seen[c] {
				seen[c] = true
				cmds = append(cmds, c)
			}
		}
	}
	return cmds
}

// awaitGroup waits, surveying again, until each changed step of the group
// at steps[i] passes its check (next: the facts after running their
// commands); the results are marked changed as they do.
func awaitGroup(ctx context.Context, exec guest.Executor, steps []catalog.Step, i int, changed []int, results []StepResult, next *facts) ([]StepResult, *facts, error) {
	group := steps[i : i+len(results)]
	// Until each changed step's check passes: a change that takes effect
	// asynchronously (networkd, a service) is surveyed again, with the
	// steps after it, so that their facts are fresh when it has settled.
	for try := 1; ; try++ {
		pending := -1
		for _, k := range changed {
			if ok, read := next.verdict(i + k); read && !ok && pending < 0 {
				pending = k
			}
		}
		if pending < 0 {
			break
		}
		step := &group[pending]
		for _, k := range changed[:slices.Index(changed, pending)] {
			results[k].Status = StatusChanged
		}
		if try >= settleAttempts(step) {
			return results[:pending+1], nil, fmt.Errorf("still not as desired after applying it: the check `%s` fails", step.Check)
		}
		if err := sleep(ctx, settleDelay(try)); err != nil {
			return results[:pending+1], nil, err
		}
		var err error
		if next, err = survey(ctx, exec, steps, i, false); err != nil {
			return results[:pending+1], nil, err
		}
	}
	for _, k := range changed {
		results[k].Status = StatusChanged
	}
	return results, next, nil
}

// sleep waits d unless ctx ends first (a variable: tests record the waits).
var sleep = guest.Sleep

func runCheck(ctx context.Context, exec guest.Executor, check string) (bool, error) {
	out, err := exec.Run(ctx, catalog.Helpers(check)+checkCommand(check))
	if err != nil {
		return false, fmt.Errorf("run check: %w", err)
	}
	switch strings.TrimSpace(out) {
	case checkOK:
		return true, nil
	case checkDiffers:
		return false, nil
	}
	return false, fmt.Errorf("check `%s` printed %q, not a verdict", check, out)
}

// applyIPVS brings the table to steps[i]'s from the survey f: loaded whole
// when empty, else edited; the edits and the read-back are one round trip.
func applyIPVS(ctx context.Context, exec guest.Executor, steps []catalog.Step, i int, f *facts) (StepResult, *facts, error) {
	step := &steps[i]
	sr := StepResult{Name: step.Name, Status: StatusFailed}
	current, err := f.table(ctx, exec)
	if err != nil {
		return sr, nil, err
	}
	cmds := ipvs.Commands(ipvs.Diff(current, step.IPVS))
	if len(cmds) == 0 {
		sr.Status = StatusUnchanged
		return sr, f, nil
	}
	if len(current) == 0 {
		// An empty table is loaded whole, as at boot.
		cmds = []string{ipvs.ClearCommand}
		if len(step.IPVS) > 0 {
			if step.RulesFile != "" {
				cmds = append(cmds, ipvs.RestoreFrom(step.RulesFile))
			} else {
				cmds = append(cmds, ipvs.RestoreCommand(step.IPVS))
			}
		}
	}
	sr.Commands = cmds
	next, err := runAndSurvey(ctx, exec, cmds, steps, i)
	if err != nil {
		return sr, nil, err
	}
	after, err := next.table(ctx, exec)
	if err != nil {
		return sr, nil, err
	}
	if diff := ipvs.Differences(after, step.IPVS); len(diff) > 0 {
		return sr, nil, fmt.Errorf("the IPVS table read back differs from the lab: %s", strings.Join(diff, "; "))
	}
	sr.Status = StatusChanged
	return sr, next, nil
}

// DetectOS reads /etc/os-release and returns the OS family: Debian or RHEL.
func DetectOS(ctx context.Context, exec guest.Executor) (string, error) {
	data, exists, err := exec.ReadFile(ctx, "/etc/os-release")
	if err != nil {
		return "", fmt.Errorf("read /etc/os-release: %w", err)
	}
	if !exists {
		data, exists, err = exec.ReadFile(ctx, "/usr/lib/os-release")
		if err != nil {
			return "", fmt.Errorf("read /usr/lib/os-release: %w", err)
		}
		if !exists {
			return "", errors.New("no /etc/os-release: cannot tell the guest's OS family")
		}
	}
	return catalog.OSFamily(string(data))
}
