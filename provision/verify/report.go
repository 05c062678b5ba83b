package verify

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// barWidth is the widest bar of the chart.
const barWidth = 30

// WriteText writes the report for a person: per service the promise, a
// table with a bar chart, the sequence of servers, then every check.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	director := ""
	if r.Director != "" { // a VRRP-only lab has none
		director = ", director " + r.Director
	}
	if r.Quick != "" {
		fmt.Fprintf(&b, "lab %s (quick): up to %d request(s) per service (two rounds of its weights) from %s (prober %s)%s\n", r.Lab, r.Requests, r.Client, r.Prober, director)
		fmt.Fprintf(&b, "  not in a quick run: %s\n", r.Quick)
	} else {
		fmt.Fprintf(&b, "lab %s: %d request(s) per service from %s (prober %s)%s\n", r.Lab, r.Requests, r.Client, r.Prober, director)
	}
	for _, s := range r.Services {
		b.WriteString("\n")
		writeService(&b, s)
	}
	if len(r.Checks) > 0 {
		b.WriteString("\n")
		writeChecks(&b, r.Checks)
	}
	pass, fail, skip := tally(r.AllChecks())
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "\n%s: %d checks passed, %d failed, %d skipped\n", verdict, pass, fail, skip)
	_, err := io.WriteString(w, b.String())
	return err
}

func tally(cs []report.Check) (pass, fail, skip int) {
	for _, c := range cs {
		switch c.Status {
		case report.Pass:
			pass++
		case report.Fail:
			fail++
		default:
			skip++
		}
	}
	return
}

func writeService(b *strings.Builder, s *ServiceReport) {
	sched := s.Scheduler
	if s.LabScheduler != "" {
		sched += " (lab: " + s.LabScheduler + ")"
	}
	if s.Persistence > 0 {
		sched += fmt.Sprintf(" persistent %ds", s.Persistence)
	}
	fmt.Fprintf(b, "service %s  %s  %s  %s\n", s.Name, s.URL, strings.ToUpper(s.Mode), sched)
	if s.Skipped != "" {
		fmt.Fprintf(b, "  skipped: %s\n", s.Skipped)
		return
	}
	if s.Mode == topology.ModeVRRP {
		// No scheduler, no real servers: the VIP's holder answers alone.
		fmt.Fprintf(b, "  answered by: %s\n", sequenceText(s.Sequence))
		writeFailures(b, s.Replies)
		writeChecks(b, s.Checks)
		return
	}
	fmt.Fprintf(b, "  promise: %s\n", s.Expectation.Promise)
	if len(s.Expectation.Predicted) > 0 {
		fmt.Fprintf(b, "  predicted from the table: %s\n", ipvs.Names(s.Expectation.Predicted, destsOf(s)))
	}
	total := len(s.Replies)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  server\tRIP\tweight\texpected\tseen\tfailed\tdirector\t")
	for _, sv := range s.Servers {
		weight := fmt.Sprint(sv.Weight)
		switch {
		case !sv.InTable:
			weight = "absent"
		case sv.Weight != sv.LabWeight:
			weight += fmt.Sprintf(" (lab %d)", sv.LabWeight)
		}
		exp := fmt.Sprintf("%.1f", sv.Expected)
		if sv.Min >= 0 {
			if sv.Min == sv.Max {
				exp = fmt.Sprint(sv.Min)
			} else {
				exp = fmt.Sprintf("%d..%d", sv.Min, sv.Max)
			}
		}
		delta := "?"
		if sv.StatsDelta >= 0 {
			delta = fmt.Sprintf("+%d", sv.StatsDelta)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", sv.Node, sv.RIP, weight, exp, sv.Seen, sv.Failed, delta, bar(sv.Seen, sv.Failed, total))
	}
	tw.Flush()
	if un := s.Failures - attributed(s); un > 0 {
		fmt.Fprintf(b, "  %d failed request(s) not attributed to a server\n", un)
	}
	fmt.Fprintf(b, "  sequence: %s\n", sequenceText(s.Sequence))
	writeFailures(b, s.Replies)
	writeChecks(b, s.Checks)
}

func destsOf(s *ServiceReport) []ipvs.NamedDest {
	var out []ipvs.NamedDest
	for _, sv := range s.Servers {
		out = append(out, ipvs.Named(sv.Node, sv.Weight))
	}
	return out
}

func attributed(s *ServiceReport) int {
	n := 0
	for _, sv := range s.Servers {
		n += sv.Failed
	}
	return n
}

// bar draws served requests with '#' and failed ones with 'x', scaled so
// that all requests would fill barWidth.
func bar(seen, failed, total int) string {
	if total <= 0 {
		return ""
	}
	scale := func(n int) int { return (n*barWidth + total/2) / total }
	s, f := scale(seen), scale(failed)
	if seen > 0 && s == 0 {
		s = 1
	}
	if failed > 0 && f == 0 {
		f = 1
	}
	return strings.Repeat("#", s) + strings.Repeat("x", f)
}

// sequenceText shows at most 48 entries.
func sequenceText(seq []string) string {
	const most = 48
	if len(seq) <= most {
		return strings.Join(seq, " ")
	}
	return strings.Join(seq[:most], " ") + fmt.Sprintf(" ... (%d more)", len(seq)-most)
}

func writeFailures(b *strings.Builder, replies []Reply) {
	shown := 0
	for _, r := range replies {
		if r.OK() {
			continue
		}
		if shown == 6 {
			b.WriteString("  ...\n")
			break
		}
		e := r.Err
		if e == "" {
			e = fmt.Sprintf("HTTP status %d", r.Status)
		}
		fmt.Fprintf(b, "  request %d: %s\n", r.Index, e)
		shown++
	}
}

func writeChecks(b *strings.Builder, cs []report.Check) {
	for _, c := range cs {
		fmt.Fprintf(b, "  %-4s %s: %s\n", strings.ToUpper(string(c.Status)), c.Name, c.Detail)
	}
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	return report.WriteJSON(w, r)
}

// Write writes the report in a format (report.OutputText or OutputJSON).
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case report.OutputJSON:
		return WriteJSON(w, r)
	case report.OutputText, "":
		return WriteText(w, r)
	}
	return fmt.Errorf("unknown output format %q: use text or json", format)
}

// JUnit renders the report as JUnit XML: a testsuite per service, a
// testcase per check. A run that could not happen (runErr) is one
// testcase with an error.
func JUnit(r *Report, runErr error, title string) ([]byte, error) {
	return JUnitSuites("", nil, r, runErr, title)
}

// errNoReport is the error testcase of a JUnit file written with neither a
// report nor suites.
var errNoReport = errors.New("no report")

// JUnitSuites is JUnit with suites of lab's first (facts "lvslab check"
// reads per node, a class's students); with neither a report nor an error
// it writes only them.
func JUnitSuites(lab string, suites []report.Suite, r *Report, runErr error, title string) ([]byte, error) {
	var all []report.Suite
	for _, s := range suites {
		s.Lab = lab
		all = append(all, s)
	}
	switch {
	case runErr == nil && r == nil && suites == nil:
		runErr = errNoReport
	case runErr == nil && r != nil:
		if len(r.Checks) > 0 {
			all = append(all, report.Suite{Lab: r.Lab, Name: "lab", Checks: r.Checks})
		}
		for _, s := range r.Services {
			all = append(all, report.Suite{Lab: r.Lab, Name: s.Name, Checks: s.Checks, Seconds: s.Seconds})
		}
	}
	return report.JUnit(title, all, runErr)
}

// WriteJUnit writes JUnit XML to a file.
func WriteJUnit(path string, r *Report, runErr error, title string) error {
	data, err := JUnit(r, runErr, title)
	return report.WriteFile(path, data, err)
}
