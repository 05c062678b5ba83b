package verify

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// The views of the director's IPVS table: ipvsadm's observation commands.
const (
	ViewStats = "stats" // ipvsadm -Ln --stats: counters since the table was made or zeroed
	ViewRate  = "rate"  // ipvsadm -Ln --rate: per-second rates
	ViewConns = "conns" // ipvsadm -Lnc: the connection table
	ViewZero  = "zero"  // ipvsadm -Z, then the counters it zeroed
)

// Views lists the views, in the order "lvslab ipvs --help" shows them.
var Views = []string{ViewStats, ViewRate, ViewConns, ViewZero}

// viewCommands are what a student types for each view.
var viewCommands = map[string][]string{
	ViewStats: {ipvs.StatsCommand},
	ViewRate:  {ipvs.RateCommand},
	ViewConns: {ipvs.ConnectionsCommand},
	ViewZero:  {ipvs.ZeroCommand, ipvs.StatsCommand},
}

// TableView is one view of the director's table: ipvsadm's text and
// what it says, as data.
type TableView struct {
	Lab         string         `json:"lab"`
	Director    string         `json:"director"`
	View        string         `json:"view"`
	Commands    []string       `json:"commands"`
	Output      string         `json:"output"`
	Services    []ipvs.Service `json:"services"`
	Connections []ipvs.Conn    `json:"connections"`
}

// Observe runs a view's ipvsadm commands on the lab's director.
func Observe(ctx context.Context, lab *topology.Lab, dial guest.Dialer, view string) (*TableView, error) {
	cmds, ok := viewCommands[view]
	if !ok {
		return nil, cannot("unknown view %q: use %s", view, strings.Join(Views, ", "))
	}
	dir, dx, err := director(lab, dial)
	if err != nil {
		return nil, err
	}
	ob := &TableView{Lab: lab.Name, Director: dir.Name, View: view, Commands: cmds}
	for _, c := range cmds {
		out, err := dx.Run(ctx, c)
		if err != nil {
			return nil, cannot("%s on %s: %v", c, dir.Name, err)
		}
		ob.Output = out
	}
	t, err := ipvs.Parse(ob.Output)
	if err != nil {
		return nil, cannot("read %s's output: %v", cmds[len(cmds)-1], err)
	}
	ob.Services, ob.Connections = t.Services, t.Conns
	return ob, nil
}

// WriteText prints the commands as typed and ipvsadm's own answer.
func (ob *TableView) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, c := range ob.Commands {
		fmt.Fprintf(&b, "%s# %s\n", ob.Director, c)
	}
	b.WriteString(ob.Output)
	_, err := io.WriteString(w, b.String())
	return err
}

func director(lab *topology.Lab, dial guest.Dialer) (*topology.Node, guest.Executor, error) {
	dir := lab.Director()
	if dir == nil {
		return nil, nil, cannot("lab %s has no director node", lab.Name)
	}
	dx, err := dial(dir.Name)
	if err != nil {
		return nil, nil, cannot("cannot reach director %s: %v", dir.Name, err)
	}
	return dir, dx, nil
}

// SavedRules is where the save/restore exercise keeps the table.
const SavedRules = "/root/ipvsadm.saved"

// SaveRestoreStep is one step of the exercise and whether it held.
type SaveRestoreStep struct {
	Command string `json:"command"`
	Expect  string `json:"expect"`
	Pass    bool   `json:"pass"`
	Got     string `json:"got,omitempty"` // the table read back, when it is not as expected
}

// SaveRestoreReport is the exercise of reference 004, then verify.
type SaveRestoreReport struct {
	Lab      string            `json:"lab"`
	Director string            `json:"director"`
	Steps    []SaveRestoreStep `json:"steps"`
	Verify   *Report           `json:"verify,omitempty"`
	Pass     bool              `json:"pass"`
}

// SaveRestore saves the director's table to a file, clears it, restores it
// from the file, and checks after each step what the table holds (the
// lab's services, none, the lab's services again); then verify proves the
// restored table serves. It stops at the first step that does not hold
// and restores the lab's rules then, so that the lab keeps working.
func SaveRestore(ctx context.Context, lab *topology.Lab, dial guest.Dialer, opts Options) (*SaveRestoreReport, error) {
	dir, dx, err := director(lab, dial)
	if err != nil {
		return nil, err
	}
	services := ipvs.SaveView(roles.DesiredFor(lab, dir).IPVS)
	want := ipvs.Rules(services)
	rep := &SaveRestoreReport{Lab: lab.Name, Director: dir.Name}
	steps := []struct{ cmd, expect, rules string }{
		{ipvs.SaveTo(SavedRules), "the table is the lab's and the file holds it", want},
		{ipvs.ClearCommand, "the table is empty", ""},
		{ipvs.RestoreFrom(SavedRules), "the table is the lab's again", want},
	}
	for _, s := range steps {
		if _, err := dx.Run(ctx, s.cmd); err != nil {
			return nil, cannot("%s on %s: %v", s.cmd, dir.Name, err)
		}
		got, err := dx.Run(ctx, ipvs.SaveCommand)
		if err != nil {
			return nil, cannot("read the table on %s: %v", dir.Name, err)
		}
		st := SaveRestoreStep{Command: s.cmd, Expect: s.expect, Pass: sameRules(got, s.rules)}
		if s.cmd == steps[0].cmd && st.Pass {
			saved, err := dx.Run(ctx, "cat "+SavedRules)
			st.Pass = err == nil && sameRules(saved, want)
			got = saved
		}
		if !st.Pass {
			st.Got = got
		}
		rep.Steps = append(rep.Steps, st)
		if !st.Pass {
			// Leave the lab serving: its own rules back.
			ipvs.New(dx.Run).Restore(ctx, services)
			return rep, nil
		}
	}
	if rep.Verify, err = Run(ctx, lab, dial, opts); err != nil {
		return nil, err
	}
	rep.Pass = rep.Verify.Pass
	return rep, nil
}

// sameRules compares two tables in ipvsadm-save form, line order aside.
func sameRules(a, b string) bool {
	lines := func(s string) []string {
		l := slices.DeleteFunc(strings.Split(s, "\n"), func(x string) bool { return strings.TrimSpace(x) == "" })
		slices.Sort(l)
		return l
	}
	return slices.Equal(lines(a), lines(b))
}

// WriteText prints each step as PASS/FAIL, then verify's report.
func (r *SaveRestoreReport) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, s := range r.Steps {
		verdict := "PASS"
		if !s.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "%s  %s# %s: %s\n", verdict, r.Director, s.Command, s.Expect)
		if s.Got != "" {
			fmt.Fprintf(&b, "      it holds:\n%s", indent(s.Got, "        "))
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if r.Verify != nil {
		return WriteText(w, r.Verify)
	}
	return nil
}

func indent(s, pre string) string {
	if s == "" {
		return pre + "(nothing)\n"
	}
	return pre + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+pre) + "\n"
}

// ExitCode is report.ExitPass when every step and verify held,
// report.ExitFail otherwise.
func (r *SaveRestoreReport) ExitCode() int { return report.Code(!r.Pass, false) }
