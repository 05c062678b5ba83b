package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/ipvs"
	"github.com/lvslab/lvslab/roles/shell"
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
	Commands []string `json:"commands,omitempty"`
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

// How long Apply waits for a service or network step's check to pass after
// applying it (networkd and services apply asynchronously).
var (
	SettleAttempts = 30
	SettleDelay    = time.Second
)

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
func Apply(ctx context.Context, exec Executor, steps []catalog.Step, log func(Event)) (Result, error) {
	if log == nil {
		log = func(Event) {}
	}
	var res Result
	// One round trip answers every remaining check (under TCG each SSH
	// command costs about a second); after a step changed something, the
	// verdicts may be stale and the remaining steps are surveyed again.
	survey, err := surveyChecks(ctx, exec, steps, 0)
	if err != nil {
		return res, err
	}
	surveyedAt := 0 // changed steps when the survey ran
	knownAt := func(i int) (*bool, error) {
		if n := len(res.ChangedSteps()); n != surveyedAt {
			if survey, err = surveyChecks(ctx, exec, steps, i); err != nil {
				return nil, err
			}
			surveyedAt = n
		}
		return survey[i], nil
	}
	for i := 0; i < len(steps); {
		var group []*catalog.Step
		var known []*bool
		for j := i; j < len(steps) && networkStep(&steps[j]); j++ {
			k, err := knownAt(j)
			if err != nil {
				return res, err
			}
			group = append(group, &steps[j])
			known = append(known, k)
		}
		var srs []StepResult
		var err error
		if len(group) > 1 {
			srs, err = applyReaddressGroup(ctx, exec, group, known)
		} else {
			var k *bool
			if k, err = knownAt(i); err != nil {
				return res, err
			}
			var sr StepResult
			sr, err = applyStep(ctx, exec, &steps[i], k)
			srs = []StepResult{sr}
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

// surveyChecks runs the checks of steps[from:] in one command and returns
// each verdict by step index.
func surveyChecks(ctx context.Context, exec Executor, steps []catalog.Step, from int) (map[int]*bool, error) {
	var script strings.Builder
	n := 0
	for i, st := range steps {
		if i < from || st.Check == "" || st.Kind == catalog.KindIPVS {
			continue
		}
		fmt.Fprintf(&script, "echo %s%d; %s\n", surveyMark, i, checkCommand(st.Check))
		n++
	}
	if n < 2 {
		return nil, nil
	}
	out, err := exec.Run(ctx, script.String())
	if err != nil {
		return nil, fmt.Errorf("run the checks: %w", err)
	}
	verdicts := map[int]*bool{}
	idx := -1
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, surveyMark); ok {
			idx, err = strconv.Atoi(rest)
			if err != nil {
				return nil, fmt.Errorf("checks printed %q", line)
			}
			continue
		}
		if idx < 0 || (line != checkOK && line != checkDiffers) {
			continue
		}
		ok := line == checkOK
		verdicts[idx] = &ok
		idx = -1
	}
	return verdicts, nil
}

const surveyMark = "lvslab-survey-"

// applyStep checks a step (known, when not nil, is its check's verdict from
// the survey) and applies it when it differs.
func applyStep(ctx context.Context, exec Executor, step *catalog.Step, known *bool) (StepResult, error) {
	if step.Kind == catalog.KindIPVS {
		return applyIPVS(ctx, exec, step)
	}
	sr := StepResult{Name: step.Name, Status: StatusFailed}
	same, err := inspect(ctx, exec, step, known)
	if err != nil || same {
		if same {
			sr.Status = StatusUnchanged
		}
		return sr, err
	}
	if err := writeFile(ctx, exec, step, &sr); err != nil {
		return sr, err
	}
	if err := runCommands(ctx, exec, step.Apply, &sr); err != nil {
		return sr, err
	}
	if err := settle(ctx, exec, step); err != nil {
		return sr, err
	}
	sr.Status = StatusChanged
	return sr, nil
}

// inspect tells whether a step's file and check are already as desired.
func inspect(ctx context.Context, exec Executor, step *catalog.Step, known *bool) (bool, error) {
	if step.File != nil {
		data, exists, err := exec.ReadFile(ctx, step.File.Path)
		if err != nil {
			return false, fmt.Errorf("read %s: %w", step.File.Path, err)
		}
		if !exists || string(data) != step.File.Content {
			return false, nil
		}
	}
	if known != nil {
		return *known, nil
	}
	if step.Check == "" {
		return true, nil
	}
	return runCheck(ctx, exec, step.Check)
}

// writeFile writes the step's file when its content differs.
func writeFile(ctx context.Context, exec Executor, step *catalog.Step, sr *StepResult) error {
	if step.File == nil {
		return nil
	}
	data, exists, err := exec.ReadFile(ctx, step.File.Path)
	if err != nil {
		return fmt.Errorf("read %s: %w", step.File.Path, err)
	}
	if exists && string(data) == step.File.Content {
		return nil
	}
	if err := exec.WriteFile(ctx, step.File.Path, []byte(step.File.Content), step.File.Mode); err != nil {
		return fmt.Errorf("write %s: %w", step.File.Path, err)
	}
	sr.Wrote = step.File.Path
	return nil
}

// runCommands runs a step's Apply commands in order. lvslab's session
// rides on the management NIC, so a command that re-addresses a lab NIC
// runs like any other.
func runCommands(ctx context.Context, exec Executor, cmds []string, sr *StepResult) error {
	for _, cmd := range cmds {
		sr.Commands = append(sr.Commands, cmd)
		if _, err := exec.Run(ctx, cmd); err != nil {
			return err
		}
	}
	return nil
}

// settle checks a step again after applying it, retrying for a while when
// the change takes effect asynchronously.
func settle(ctx context.Context, exec Executor, step *catalog.Step) error {
	if step.Check == "" {
		return nil
	}
	attempts := 1
	if step.Kind == catalog.KindService || step.Kind == catalog.KindNetwork {
		attempts = max(SettleAttempts, 1)
	}
	for try := 0; try < attempts; try++ {
		if try > 0 {
			if err := sleep(ctx, SettleDelay); err != nil {
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

// networkStep tells whether a step changes addresses through the network
// manager: consecutive ones are applied together.
func networkStep(s *catalog.Step) bool { return s.Kind == catalog.KindNetwork }

// applyReaddressGroup applies consecutive network steps together:
// their files written, their commands run once (one networkd restart
// instead of one per interface), then each checked. Results come back one
// per step.
func applyReaddressGroup(ctx context.Context, exec Executor, group []*catalog.Step, known []*bool) ([]StepResult, error) {
	results := make([]StepResult, 0, len(group))
	var changed []int
	for k, step := range group {
		sr := StepResult{Name: step.Name, Status: StatusFailed}
		same, err := inspect(ctx, exec, step, known[k])
		if err != nil {
			return append(results, sr), err
		}
		if same {
			sr.Status = StatusUnchanged
		} else if err := writeFile(ctx, exec, step, &sr); err != nil {
			return append(results, sr), err
		} else {
			changed = append(changed, k)
		}
		results = append(results, sr)
	}
	if len(changed) == 0 {
		return results, nil
	}
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
	last := changed[len(changed)-1]
	if err := runCommands(ctx, exec, cmds, &results[last]); err != nil {
		return results[:last+1], err
	}
	for _, k := range changed {
		if err := settle(ctx, exec, group[k]); err != nil {
			return results[:k+1], err
		}
		results[k].Status = StatusChanged
	}
	return results, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func runCheck(ctx context.Context, exec Executor, check string) (bool, error) {
	out, err := exec.Run(ctx, checkCommand(check))
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

func applyIPVS(ctx context.Context, exec Executor, step *catalog.Step) (StepResult, error) {
	sr := StepResult{Name: step.Name, Status: StatusFailed}
	current, err := ipvs.ReadRules(ctx, exec)
	if err != nil {
		return sr, err
	}
	cmds := ipvs.Commands(ipvs.Diff(current, step.IPVS))
	if len(cmds) == 0 {
		sr.Status = StatusUnchanged
		return sr, nil
	}
	if len(current) == 0 {
		// An empty table is loaded whole, as at boot.
		cmds = []string{ipvs.ClearCommand}
		if len(step.IPVS) > 0 {
			if step.RulesFile != "" {
				cmds = append(cmds, ipvs.RestoreFrom(step.RulesFile))
			} else {
				op, body := shell.Heredoc(ipvs.Rules(step.IPVS))
				cmds = append(cmds, ipvs.Restore+" "+op+"\n"+body)
			}
		}
	}
	for _, cmd := range cmds {
		sr.Commands = append(sr.Commands, cmd)
		if _, err := exec.Run(ctx, cmd); err != nil {
			return sr, err
		}
	}
	after, err := ipvs.ReadRules(ctx, exec)
	if err != nil {
		return sr, err
	}
	if diff := ipvs.Differences(after, step.IPVS); len(diff) > 0 {
		return sr, fmt.Errorf("the IPVS table read back differs from the lab: %s", strings.Join(diff, "; "))
	}
	sr.Status = StatusChanged
	return sr, nil
}

// DetectOS reads /etc/os-release and returns the OS family: Debian or RHEL.
func DetectOS(ctx context.Context, exec Executor) (string, error) {
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
