// Package check reads a lab's nodes back against its lab file, for labs a
// student configured by hand: every fact of each node's desired state
// (addresses, NICs down, gateway, hostname, sysctls and whether they
// survive a reboot, VIPs and whether they come back at boot, the web
// server and its page, the IPVS services and destinations and their
// boot-time restore) as PASS or FAIL, each FAIL with a hint in a student's
// words and the handout step that fixes it; then verify's end-to-end
// proof. What survives a reboot is judged in whatever correct form the
// student used (boot.go), never by lvslab's own file names. Reading a node
// is one read-only command whatever its OS (probe.go); judging it is pure
// (facts.go).
package check

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/verify"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
)

// Options of a check.
type Options struct {
	// Nodes limits the check to these nodes; the end-to-end proof needs the
	// whole lab and is skipped then.
	Nodes []string
	// LabRef is how the hints' "lvslab plan" names the lab (an embedded
	// name or the file's path).
	LabRef string
	// Verify tunes the end-to-end proof.
	Verify verify.Options
	// Quick is a student's "check my work": every node fact, and verify's
	// quick proof (verify.Options.Quick: the scheduler's promise over a
	// short loop, without what the node facts already judge).
	Quick bool
}

// NodeReport is one node's facts, or why it could not be read.
type NodeReport struct {
	Node  string `json:"node"`
	Role  string `json:"role"`
	OS    string `json:"os,omitempty"`
	Facts []Fact `json:"facts"`
	Error string `json:"error,omitempty"`
}

// Report is the outcome of a check.
type Report struct {
	Lab   string       `json:"lab"`
	File  string       `json:"file"`
	Pass  bool         `json:"pass"`
	Nodes []NodeReport `json:"nodes"`
	// Verify is the end-to-end proof; VerifyError says why it could not
	// run, VerifySkipped why it was not asked for.
	Verify        *verify.Report `json:"verify,omitempty"`
	VerifyError   string         `json:"verify_error,omitempty"`
	VerifySkipped string         `json:"verify_skipped,omitempty"`
}

// Node reads one node, in one command whatever its OS, and judges every
// fact of its desired state.
func Node(ctx context.Context, x guest.Executor, lab *topology.Lab, st *roles.NodeState, labRef string) NodeReport {
	nr := NodeReport{Node: st.Name, Role: st.Role, Facts: []Fact{}}
	gp := newProbe(st).build()
	out, err := x.Run(ctx, gp.Script())
	if err != nil {
		nr.Error = "read the node: " + err.Error()
		return nr
	}
	obs, err := parse(gp, out)
	if err != nil {
		nr.Error = err.Error()
		return nr
	}
	if obs.OSRelease == "" {
		nr.Error = "no /etc/os-release: cannot tell the guest's OS family"
		return nr
	}
	os, err := catalog.OSFamily(obs.OSRelease)
	if err != nil {
		nr.Error = err.Error()
		return nr
	}
	nr.OS = os
	s := newSubject(lab, st, os, labRef)
	for _, step := range s.steps {
		if step.WritesPage() {
			if c, ok := obs.Files[step.File.Path]; ok {
				obs.Page = &c
			}
		}
	}
	nr.Facts = s.judge(obs)
	return nr
}

// Run checks the lab's nodes (all at once), then, when the whole lab was
// checked, runs verify's end-to-end proof.
func Run(ctx context.Context, lab *topology.Lab, dial guest.Dialer, opts Options) (*Report, error) {
	states := roles.Desired(lab)
	var names []string
	for _, st := range states {
		names = append(names, st.Name)
	}
	for _, n := range opts.Nodes {
		if !slices.Contains(names, n) {
			return nil, fmt.Errorf("%w: no node %q in lab %s (nodes: %s)", verify.ErrCannotRun, n, lab.Name, strings.Join(names, ", "))
		}
	}
	if len(opts.Nodes) > 0 {
		states = slices.DeleteFunc(states, func(st *roles.NodeState) bool { return !slices.Contains(opts.Nodes, st.Name) })
	}
	labRef := opts.LabRef
	if labRef == "" {
		labRef = topology.FileRef(lab.File)
	}
	rep := &Report{Lab: lab.Name, File: lab.File, Nodes: make([]NodeReport, len(states))}
	// verify's proof runs while the nodes are read: the probes only read
	// (the web servers' page over 127.0.0.1, the director's table), so
	// they change nothing the proof counts.
	whole := len(opts.Nodes) == 0
	var vr *verify.Report
	var verr error
	proved := make(chan struct{})
	vopts := opts.Verify
	vopts.Quick = vopts.Quick || opts.Quick
	go func() {
		defer close(proved)
		if whole {
			vr, verr = verify.Run(ctx, lab, dial, vopts)
		}
	}()
	var wg sync.WaitGroup
	for i, st := range states {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x, err := dial(st.Name)
			if err != nil {
				rep.Nodes[i] = NodeReport{Node: st.Name, Role: st.Role, Facts: []Fact{}, Error: err.Error()}
				return
			}
			rep.Nodes[i] = Node(ctx, x, lab, st, labRef)
		}()
	}
	wg.Wait()
	keepalivedFacts(ctx, lab, dial, states, rep.Nodes, labRef)
	<-proved
	unread := !slices.ContainsFunc(rep.Nodes, func(n NodeReport) bool { return n.Error == "" })
	switch {
	case unread:
		rep.VerifySkipped = "no node could be read"
	case !whole:
		rep.VerifySkipped = "only " + strings.Join(opts.Nodes, ", ") + " checked (--node); the end-to-end proof needs the whole lab"
	default:
		rep.Verify = vr
		if verr != nil {
			rep.VerifyError = verr.Error()
		}
	}
	rep.Pass = ExitCode(rep) == 0
	return rep, ctx.Err()
}

// Quick is "check my work" for the class server: every fact of every
// node (one read each, all at once) and verify's quick proof, run while
// the nodes are read. The report says what the quick proof skipped
// (Report.Verify.Quick).
func Quick(ctx context.Context, lab *topology.Lab, dial guest.Dialer) (*Report, error) {
	return Run(ctx, lab, dial, Options{Quick: true})
}

// ExitCode is report's rule: report.ExitFail when a fact or a verdict
// failed (the lab is wrong), else report.ExitCannot when a node or the
// proof could not be read, else report.ExitPass.
func ExitCode(r *Report) int {
	failed, cannot := false, false
	for _, n := range r.Nodes {
		cannot = cannot || n.Error != ""
		failed = failed || slices.ContainsFunc(n.Facts, func(f Fact) bool { return f.Status == report.Fail })
	}
	if r.Verify != nil && r.VerifyError == "" && verify.ExitCode(r.Verify, nil) == report.ExitFail {
		failed = true
	}
	cannot = cannot || r.VerifyError != ""
	return report.Code(failed, cannot)
}

// Failed lists the failed facts as "node: fact".
func (r *Report) Failed() []string {
	var out []string
	for _, n := range r.Nodes {
		for _, f := range n.Facts {
			if f.Status == report.Fail {
				out = append(out, n.Node+": "+f.Name)
			}
		}
	}
	return out
}
