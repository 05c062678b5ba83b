package verify

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// Output formats.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// barWidth is the widest bar of the chart.
const barWidth = 30

// WriteText writes the report for a person: per service the promise, a
// table with a bar chart, the sequence of servers, then every check.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "lab %s: %d request(s) per service from %s (prober %s), director %s\n", r.Lab, r.Requests, r.Client, r.Prober, r.Director)
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

func tally(cs []Check) (pass, fail, skip int) {
	for _, c := range cs {
		switch c.Status {
		case Pass:
			pass++
		case Fail:
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
	fmt.Fprintf(b, "  promise: %s\n", s.Expectation.Promise)
	if len(s.Expectation.Predicted) > 0 {
		fmt.Fprintf(b, "  predicted from the table: %s\n", names(s.Expectation.Predicted, destsOf(s)))
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

func destsOf(s *ServiceReport) []Dest {
	var out []Dest
	for _, sv := range s.Servers {
		out = append(out, weighted(sv.Node, sv.Weight))
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

func writeChecks(b *strings.Builder, cs []Check) {
	for _, c := range cs {
		fmt.Fprintf(b, "  %-4s %s: %s\n", strings.ToUpper(string(c.Status)), c.Name, c.Detail)
	}
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Write writes the report in a format (OutputText or OutputJSON).
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case OutputJSON:
		return WriteJSON(w, r)
	case OutputText, "":
		return WriteText(w, r)
	}
	return fmt.Errorf("unknown output format %q: use text or json", format)
}

// JUnit XML, the subset CI systems read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	ClassName string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// JUnit renders the report as JUnit XML: a testsuite per service, a
// testcase per check. A run that could not happen (runErr) is one
// testcase with an error.
func JUnit(r *Report, runErr error, title string) ([]byte, error) {
	return JUnitSuites("", nil, r, runErr, title)
}

// Suite is a named list of checks made outside a run (the facts "lvslab
// check" reads per node): a testsuite of its own.
type Suite struct {
	Name   string
	Checks []Check
}

// JUnitSuites is JUnit with suites of lab's first; with neither a report
// nor an error it writes only them.
func JUnitSuites(lab string, suites []Suite, r *Report, runErr error, title string) ([]byte, error) {
	top := junitSuites{Name: title}
	add := func(s junitSuite) {
		top.Suites = append(top.Suites, s)
		top.Tests += s.Tests
		top.Failures += s.Failures
		top.Errors += s.Errors
		top.Skipped += s.Skipped
	}
	for _, s := range suites {
		add(suiteOf(lab, s.Name, s.Checks, 0))
	}
	switch {
	case runErr != nil || (r == nil && suites == nil):
		msg := "no report"
		if runErr != nil {
			msg = runErr.Error()
		}
		add(junitSuite{Name: title, Tests: 1, Errors: 1, Time: "0", Cases: []junitCase{{
			ClassName: "lvslab", Name: "run", Time: "0", Error: &junitMessage{Message: msg, Type: "cannot-run", Text: msg},
		}}})
	case r != nil:
		if len(r.Checks) > 0 {
			add(suiteOf(r.Lab, "lab", r.Checks, 0))
		}
		for _, s := range r.Services {
			add(suiteOf(r.Lab, s.Name, s.Checks, s.Seconds))
		}
	}
	out, err := xml.MarshalIndent(top, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func suiteOf(lab, name string, checks []Check, secs float64) junitSuite {
	s := junitSuite{Name: lab + "/" + name, Time: fmt.Sprintf("%.3f", secs)}
	class := "lvslab." + lab + "." + name
	for _, c := range checks {
		tc := junitCase{ClassName: class, Name: c.Name, Time: "0"}
		switch c.Status {
		case Fail:
			tc.Failure = &junitMessage{Message: c.Detail, Type: "verdict", Text: c.Detail}
			s.Failures++
		case Skip:
			tc.Skipped = &junitMessage{Message: c.Detail}
			s.Skipped++
		default:
			tc.SystemOut = c.Detail
		}
		s.Tests++
		s.Cases = append(s.Cases, tc)
	}
	return s
}

// WriteJUnit writes JUnit XML to a file.
func WriteJUnit(path string, r *Report, runErr error, title string) error {
	data, err := JUnit(r, runErr, title)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
