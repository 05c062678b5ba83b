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

// Drill steps: LVS has no health check, so a dead web server keeps its
// share of the requests until someone takes it out of the table.
const (
	// DrillFail stops the node's web server: its share is refused.
	DrillFail = "fail"
	// DrillHeal takes it out of IPVS (ipvsadm -d, or weight 0 with Quiesce).
	DrillHeal = "heal"
	// DrillRestore starts the web server and puts the real server back with
	// its lab weight.
	DrillRestore = "restore"
)

// DrillSteps lists the steps in their natural order.
var DrillSteps = []string{DrillFail, DrillHeal, DrillRestore}

// How a drill fails a keepalived router (DrillOptions.How, --how).
const (
	// HowStop stops keepalived cleanly: it sends a priority 0 advert and
	// removes its VIP, so the backup takes over at once.
	HowStop = "stop"
	// HowKill kills keepalived with SIGKILL: no last advert, the backup
	// waits the master-down interval (3 x advert_int + skew).
	HowKill = "kill"
	// HowNICDown takes the router's lab NIC (the VRRP interface) down:
	// its adverts stop, as with kill.
	HowNICDown = "nic-down"
)

// Hows lists the ways of failing a router.
var Hows = []string{HowStop, HowKill, HowNICDown}

// webServers are the web server units a lab node may run, in the order
// they are looked for.
var webServers = []string{"apache2", "httpd", "nginx", "lighttpd"}

// DetectCommand lists the web server units the node has, with their state.
var DetectCommand = "for s in " + strings.Join(webServers, " ") + "; do " +
	`if systemctl cat "$s.service" >/dev/null 2>&1; then echo "$s $(systemctl is-active "$s.service" 2>/dev/null)"; fi; done; true`

// DrillOptions are the options of one drill step.
type DrillOptions struct {
	Verify Options
	// Quiesce heals with weight 0 instead of deleting the real server.
	Quiesce bool
	// How fails a keepalived router: HowStop (default), HowKill or
	// HowNICDown.
	How string
	// Download runs a rate-limited download through the VIP across a
	// router's failure: it survives with connection sync, breaks without.
	Download bool
	// Sync, "on" or "off", first rewrites every router's keepalived.conf
	// with connection sync (lvs_sync_daemon) on or off and reloads it:
	// the positive run and the negative control on one lab ("lvslab up"
	// puts the lab's file back). "" leaves the file as it is.
	Sync string
}

// DrillReport is one drill step: what it changed, the verification after
// it, and the step's own verdicts.
type DrillReport struct {
	Step    string         `json:"step"`
	Node    string         `json:"node"`
	Actions []string       `json:"actions"`
	Verify  *Report        `json:"verify"`
	Checks  []report.Check `json:"checks"`
	Pass    bool           `json:"pass"`
	// Outage is the client loop's gap (keepalived drills) and Target the
	// seconds the issue promises for it.
	Outage *Outage `json:"outage,omitempty"`
	Target float64 `json:"target_seconds,omitempty"`
}

// ExitCode is the drill step's exit code.
func (d *DrillReport) ExitCode() int { return report.Code(!d.Pass, false) }

// drillTarget is the node and the services it serves.
type drillTarget struct {
	node     *topology.Node
	services []labService
	servers  []labServer // the node's entry in each service
}

func drillTargetOf(lab *topology.Lab, name string, only []string) (*drillTarget, error) {
	n := lab.Node(name)
	if n == nil {
		return nil, cannot("lab %s has no node %s", lab.Name, name)
	}
	if n.Role != topology.RoleWeb {
		return nil, cannot("%s is a %s node: the drill fails a web node (real server)", name, n.Role)
	}
	svcs, _, err := selectServices(lab, only)
	if err != nil {
		return nil, err
	}
	t := &drillTarget{node: n}
	for _, ls := range svcs {
		for _, sv := range ls.servers {
			if sv.node.Name == name {
				t.services = append(t.services, ls)
				t.servers = append(t.servers, sv)
			}
		}
	}
	if len(t.services) == 0 {
		return nil, cannot("%s is a real server of no service of lab %s", name, lab.Name)
	}
	return t, nil
}

// Drill runs one step of the failure drill on a web node, then verifies
// and checks the verdict that step must give. Every step reads the live
// system first, so steps can be repeated and need no saved state.
func Drill(ctx context.Context, lab *topology.Lab, dial guest.Dialer, step, node string, opts DrillOptions, log io.Writer) (*DrillReport, error) {
	if log == nil {
		log = io.Discard
	}
	if !slices.Contains(DrillSteps, step) {
		return nil, cannot("unknown drill step %q: use %s", step, strings.Join(DrillSteps, ", "))
	}
	if s := keepalivedRouterOf(lab, node); s != nil {
		return keepalivedDrill(ctx, lab, dial, s, routerDrill, step, node, opts, log)
	}
	if s := healthCheckedOf(lab, node); s != nil {
		return keepalivedDrill(ctx, lab, dial, s, healthDrill, step, node, opts, log)
	}
	t, err := drillTargetOf(lab, node, opts.Verify.Services)
	if err != nil {
		return nil, err
	}
	dir := lab.Director()
	if dir == nil {
		return nil, cannot("lab %s has no director node", lab.Name)
	}
	// Reach every node the step and its verification need before changing
	// anything, so that an unreachable node does not leave a half-done step.
	client, err := pickClient(lab, opts.Verify.Client)
	if err != nil {
		return nil, err
	}
	for _, n := range []string{client.Name, dir.Name, node} {
		if _, err := dial(n); err != nil {
			return nil, cannot("cannot reach %s: %v", n, err)
		}
	}
	rep := &DrillReport{Step: step, Node: node}
	act := func(format string, a ...any) {
		line := fmt.Sprintf(format, a...)
		rep.Actions = append(rep.Actions, line)
		fmt.Fprintln(log, line)
	}
	switch step {
	case DrillFail:
		err = webServer(ctx, dial, t.node, "stop", act)
	case DrillHeal:
		err = heal(ctx, dial, dir.Name, t, opts.Quiesce, act)
	case DrillRestore:
		if err = webServer(ctx, dial, t.node, "start", act); err == nil {
			err = restore(ctx, dial, dir.Name, t, act)
		}
	}
	if err != nil {
		return nil, err
	}
	vr, err := Run(ctx, lab, dial, opts.Verify)
	if err != nil {
		return nil, err
	}
	rep.Verify = vr
	rep.Checks = DrillVerdict(step, node, opts.Quiesce, vr)
	rep.Pass = true
	for _, c := range rep.Checks {
		if c.Status == report.Fail {
			rep.Pass = false
		}
	}
	return rep, nil
}

// keepalivedDrill runs a keepalived drill step with the log's actions.
func keepalivedDrill(ctx context.Context, lab *topology.Lab, dial guest.Dialer, s *topology.Service,
	run func(context.Context, *topology.Lab, guest.Dialer, *topology.Service, string, string, DrillOptions, func(string, ...any)) (*DrillReport, error),
	step, node string, opts DrillOptions, log io.Writer) (*DrillReport, error) {
	var actions []string
	act := func(format string, a ...any) {
		line := fmt.Sprintf(format, a...)
		actions = append(actions, line)
		fmt.Fprintln(log, line)
	}
	rep, err := run(ctx, lab, dial, s, step, node, opts, act)
	if rep != nil {
		rep.Actions = actions
	}
	return rep, err
}

// webServer stops or starts the node's web server unit.
func webServer(ctx context.Context, dial guest.Dialer, n *topology.Node, verb string, act func(string, ...any)) error {
	node := n.Name
	x, err := dial(node)
	if err != nil {
		return cannot("cannot reach %s: %v", node, err)
	}
	out, err := x.Run(ctx, DetectCommand)
	if err != nil {
		return cannot("%s: looking for the web server: %v", node, err)
	}
	unit, state := pickUnit(out, n.WebServer)
	if unit == "" {
		return cannot("%s runs none of the web servers %s", node, strings.Join(webServers, ", "))
	}
	want := map[string]string{"stop": "inactive", "start": "active"}[verb]
	if state == want || (verb == "stop" && state == "failed") {
		act("%s: %s is already %s", node, unit, state)
		return nil
	}
	cmd := "systemctl " + verb + " " + unit
	act("%s: %s", node, cmd)
	if _, err := x.Run(ctx, cmd); err != nil {
		return cannot("%s: %v", node, err)
	}
	return nil
}

// pickUnit chooses from DetectCommand's output: the active unit, else the
// lab's choice (server: topology.WebNginx or WebApache; the image has both),
// else the first one found.
func pickUnit(out, server string) (unit, state string) {
	chosen := func(u string) bool { return (u == "nginx") == (server == topology.WebNginx) }
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		st := ""
		if len(f) > 1 {
			st = f[1]
		}
		if unit == "" || (st == "active" && state != "active") || (state != "active" && st != "active" && chosen(f[0]) && !chosen(unit)) {
			unit, state = f[0], st
		}
	}
	return unit, state
}

// editTable reads the director's IPVS table once and, for each service
// the target serves, runs the op decide asks for (none: nothing to do).
// heal and restore differ only in their decision.
func editTable(ctx context.Context, dial guest.Dialer, director string, t *drillTarget, act func(string, ...any),
	decide func(ls labService, sv labServer, live *ipvs.Service) (*ipvs.Op, error)) error {
	dx, err := dial(director)
	if err != nil {
		return cannot("cannot reach director %s: %v", director, err)
	}
	h := ipvs.New(dx.Run)
	table, err := h.Table(ctx)
	if err != nil {
		return cannot("director %s: %v", director, err)
	}
	for i, ls := range t.services {
		op, err := decide(ls, t.servers[i], ipvs.Find(table, ls.want.Key()))
		if err != nil {
			return err
		}
		if op == nil {
			continue
		}
		act("%s: %s", director, op.Command())
		if err := h.Apply(ctx, *op); err != nil {
			return cannot("director %s: %v", director, err)
		}
	}
	return nil
}

// heal takes the node out of the director's table, or sets its weight to 0.
func heal(ctx context.Context, dial guest.Dialer, director string, t *drillTarget, quiesce bool, act func(string, ...any)) error {
	return editTable(ctx, dial, director, t, act, func(ls labService, sv labServer, live *ipvs.Service) (*ipvs.Op, error) {
		key := ls.want.Key()
		var d *ipvs.Destination
		if live != nil {
			d = live.Dest(sv.ripKey)
		}
		op := &ipvs.Op{Action: ipvs.DelDest, Service: ls.want, Dest: sv.dest}
		switch {
		case d == nil:
			act("%s: %s is not a real server of %s any more", director, sv.ripKey, key)
			return nil, nil
		case quiesce && d.Weight == 0:
			act("%s: %s is already quiesced (weight 0) in %s", director, sv.ripKey, key)
			return nil, nil
		case quiesce:
			op.Action, op.Dest.Weight = ipvs.EditDest, 0
		}
		return op, nil
	})
}

// restore puts the node back into the director's table with its lab weight.
func restore(ctx context.Context, dial guest.Dialer, director string, t *drillTarget, act func(string, ...any)) error {
	return editTable(ctx, dial, director, t, act, func(ls labService, sv labServer, live *ipvs.Service) (*ipvs.Op, error) {
		key := ls.want.Key()
		if live == nil {
			return nil, cannot("director %s has no service %s: run lvslab up to rebuild it", director, key)
		}
		op := &ipvs.Op{Action: ipvs.AddDest, Service: ls.want, Dest: sv.dest}
		switch d := live.Dest(sv.ripKey); {
		case d == nil:
		case d.Weight != sv.dest.Weight:
			op.Action = ipvs.EditDest
		default:
			act("%s: %s is in %s with its weight %d already", director, sv.ripKey, key, d.Weight)
			return nil, nil
		}
		return op, nil
	})
}

// DrillVerdict is what a drill step must show in the verification that
// follows it:
//   - fail: the node's scheduled share is refused (failures = its expected
//     share ±1, all attributed to it), every other server answers, and
//     everything else verify checks still holds;
//   - heal: no failure, the node gets nothing; the director's rules differ
//     from the lab for that node only;
//   - restore: a clean verification.
func DrillVerdict(step, node string, quiesce bool, r *Report) []report.Check {
	var out []report.Check
	for _, s := range r.Services {
		if s.Skipped != "" {
			continue
		}
		i := slices.IndexFunc(s.Servers, func(sv ServerResult) bool { return sv.Node == node })
		if i < 0 {
			continue
		}
		sv := s.Servers[i]
		tag := func(c report.Check) report.Check { c.Service = s.Name; return c }
		// A drill leaves refused and half-open connections in the director's
		// table, which steer the least-connection schedulers away from what a
		// quiet table predicts: for them the step's own check is the verdict.
		unsteady := []string{}
		if !cyclic(s.Scheduler) {
			unsteady = []string{"shares", "sequence"}
		}
		switch step {
		case DrillFail:
			out = append(out, tag(failShareCheck(s, sv)))
			var others []string
			for j, o := range s.Servers {
				if j != i && o.Failed > 0 {
					others = append(others, fmt.Sprintf("%s %d", o.Node, o.Failed))
				}
			}
			if len(others) > 0 {
				out = append(out, tag(failf("others answer", "failures attributed to other servers: %s", strings.Join(others, ", "))))
			} else {
				out = append(out, tag(passf("others answer", "every failure belongs to %s", node)))
			}
			out = append(out, tagAll(s.Name, othersPass(s.Checks, append(unsteady, "replies")...))...)
		case DrillHeal:
			if s.Failures == 0 && sv.Seen == 0 && sv.Failed == 0 {
				how := "removed (ipvsadm -d)"
				if quiesce {
					how = "quiesced (weight 0)"
				}
				out = append(out, tag(passf("healed", "%s is %s: no failure, it gets no request", node, how)))
			} else {
				out = append(out, tag(failf("healed", "%s still takes requests: %d served, %d failed", node, sv.Seen, s.Failures)))
			}
			out = append(out, tagAll(s.Name, othersPass(s.Checks, append(unsteady, "director rules")...))...)
		case DrillRestore:
			switch {
			case !sv.InTable || sv.Weight != sv.LabWeight:
				out = append(out, tag(failf("restored", "%s is not back in the director's table with its lab weight %d", node, sv.LabWeight)))
			case sv.Seen == 0 && sv.Max != 0 && cyclic(s.Scheduler):
				out = append(out, tag(failf("restored", "%s got no request after the restore", node)))
			case sv.Seen == 0 && sv.Max != 0:
				// ipvsadm -a revives the removed destination with its old
				// counters: the refused connection from the fail step still
				// counts as active for about a minute.
				out = append(out, tag(passf("restored", "%s is back with weight %d; %s sends it nothing until its refused connection from the fail step expires (about a minute)", node, sv.Weight, s.Scheduler)))
			default:
				out = append(out, tag(passf("restored", "%s is back: %d served", node, sv.Seen)))
			}
			out = append(out, tagAll(s.Name, othersPass(s.Checks, unsteady...))...)
		}
	}
	if len(out) == 0 {
		out = append(out, failf("drill", "no verified service has %s as a real server", node))
	}
	out = append(out, othersPass(r.Checks)...)
	return out
}

// cyclic tells whether a scheduler's choices follow a fixed cycle whatever
// the connection table holds (rr, wrr).
func cyclic(scheduler string) bool {
	return scheduler == ipvs.RoundRobin || scheduler == ipvs.WeightedRoundRobin
}

// failShareCheck: the failed requests are the node's scheduled share.
func failShareCheck(s *ServiceReport, sv ServerResult) report.Check {
	name := "refused share"
	f := s.Failures
	switch {
	case sv.Seen > 0:
		return failf(name, "%s still answered %d request(s): its web server is not down", sv.Node, sv.Seen)
	case sv.Min >= 0:
		if f < sv.Min-1 || f > sv.Max+1 {
			return failf(name, "%d request(s) failed, %s's expected share is %s (±1)", f, sv.Node, rangeText(sv.Min, sv.Max))
		}
		return passf(name, "%d request(s) refused: %s's expected share %s (LVS has no health check)", f, sv.Node, rangeText(sv.Min, sv.Max))
	case f == 0 && sv.Weight > 0:
		return failf(name, "no request reached %s, so none was refused: a least-connection scheduler avoids it while an earlier refused connection still counts in the director's table (ipvsadm -Lnc: SYN_RECV, about a minute)", sv.Node)
	case f == sv.Failed:
		return passf(name, "%d request(s) refused, all scheduled to %s by the director", f, sv.Node)
	}
	return skipf(name, "%d request(s) failed; %s's share is not predictable for %s from this table", f, sv.Node, s.Scheduler)
}

func rangeText(lo, hi int) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d..%d", lo, hi)
}

// othersPass turns verify's checks into drill checks, leaving out the ones
// the step is expected to break.
func othersPass(cs []report.Check, except ...string) []report.Check {
	var out []report.Check
	for _, c := range cs {
		if slices.Contains(except, c.Name) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func tagAll(service string, cs []report.Check) []report.Check {
	for i := range cs {
		cs[i].Service = service
	}
	return cs
}

// WriteDrillText writes a drill step for a person.
func WriteDrillText(w io.Writer, d *DrillReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "drill %s %s\n", d.Step, d.Node)
	for _, a := range d.Actions {
		fmt.Fprintf(&b, "  %s\n", a)
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if d.Verify != nil {
		if err := WriteText(w, d.Verify); err != nil {
			return err
		}
	}
	b.Reset()
	if o := d.Outage; o != nil {
		fmt.Fprintf(&b, "\nclient loop (a request every %s): %d sent, %d failed", LoopInterval, o.Requests, o.Failed)
		if o.Failed > 0 && o.Recovered {
			fmt.Fprintf(&b, ", gap %.2f s (last answer %.2f, first %.2f)", o.Seconds, o.LastOK, o.FirstOK)
		}
		fmt.Fprintf(&b, "\ntarget %.1f s, measured %.2f s\n", d.Target, o.Seconds)
	}
	fmt.Fprintf(&b, "\ndrill %s %s verdict:\n", d.Step, d.Node)
	for _, c := range d.Checks {
		svc := ""
		if c.Service != "" {
			svc = c.Service + ": "
		}
		fmt.Fprintf(&b, "  %-4s %s%s: %s\n", strings.ToUpper(string(c.Status)), svc, c.Name, c.Detail)
	}
	if d.Pass {
		fmt.Fprintf(&b, "DRILL %s PASS\n", strings.ToUpper(d.Step))
	} else {
		fmt.Fprintf(&b, "DRILL %s FAIL\n", strings.ToUpper(d.Step))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// DrillJUnit renders a drill step's checks as JUnit XML.
func DrillJUnit(d *DrillReport, runErr error, title string) ([]byte, error) {
	if d == nil || runErr != nil {
		return JUnit(nil, runErr, title)
	}
	r := &Report{Lab: d.Verify.Lab, Checks: d.Checks}
	return JUnit(r, nil, title)
}

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
