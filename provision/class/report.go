package class

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/lvslab/lvslab/provision/check"
	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/verify"
)

// Report is one class command's outcome: a row per student, each with its
// checks (the columns of the class's table).
type Report struct {
	Class string `json:"class"`
	// Command is what made it: up, status, check, verify, down.
	Command string `json:"command"`
	Rows    []Row  `json:"students"`
}

// Row is one student's copy and its checks.
type Row struct {
	Student string `json:"student"`
	Copy    string `json:"copy"`
	Host    string `json:"host"`
	// Error says why the copy could not be brought up, read or removed.
	Error  string         `json:"error,omitempty"`
	Checks []report.Check `json:"checks"`
	// ErrorFails: Error is a failure (the copy was never made, or could not
	// be brought up or removed), not a copy that could not be read; the
	// same verdict in every form of the report.
	ErrorFails bool `json:"-"`
}

// A row's verdict: its Result.
const (
	ResultPass  = "pass"
	ResultFail  = "fail"  // a check failed, or the copy was never made (see ErrorFails)
	ResultError = "error" // the copy could not be read (the report is incomplete)
)

// Result is the row's verdict, the same in text, JSON, JUnit and HTML.
func (r Row) Result() string {
	switch {
	case r.Failed():
		return ResultFail
	case r.Error != "":
		return ResultError
	}
	return ResultPass
}

// MarshalJSON writes the row with its verdict ("result").
func (r Row) MarshalJSON() ([]byte, error) {
	type plain Row
	return json.Marshal(struct {
		plain
		Result string `json:"result"`
	}{plain(r), r.Result()})
}

// Failed tells whether the row's error is a failure or one of its checks
// failed.
func (r Row) Failed() bool {
	return r.Error != "" && r.ErrorFails || slices.ContainsFunc(r.Checks, func(c report.Check) bool { return c.Status == report.Fail })
}

// Pass tells whether the row ran and nothing failed.
func (r Row) Pass() bool { return r.Result() == ResultPass }

// where is the row's copy and host in a sentence: "lvs-alice on qemu:///system",
// or "lvs-alice, never made" when it has no host.
func (r Row) where() string {
	if r.Host == "" {
		return r.Copy + ", never made"
	}
	return r.Copy + " on " + hostLabel(r.Host)
}

// Why is the row's first reason to fail: its error, else its failed
// checks' names.
func (r Row) Why() string {
	if r.Error != "" {
		return r.Error
	}
	var failed []string
	for _, c := range r.Checks {
		if c.Status == report.Fail {
			failed = append(failed, c.Name)
		}
	}
	return "failed: " + summarize(failed)
}

// ExitCode is report's rule: report.ExitFail when a row failed (a check, or
// a copy never made, not brought up or not removed), else report.ExitCannot
// when a copy could not be read, else report.ExitPass.
func (r *Report) ExitCode() int {
	failed, cannot := false, false
	for _, row := range r.Rows {
		failed = failed || row.Result() == ResultFail
		cannot = cannot || row.Result() == ResultError
	}
	return report.Code(failed, cannot)
}

// Columns are the check names of every row, in the order they first
// appear: the table's columns.
func (r *Report) Columns() []string {
	var cols []string
	seen := map[string]bool{}
	for _, row := range r.Rows {
		for _, c := range row.Checks {
			if !seen[c.Name] {
				seen[c.Name] = true
				cols = append(cols, c.Name)
			}
		}
	}
	return cols
}

// Cell is row's check of column name; ok is false when the row has none.
func (row Row) Cell(name string) (report.Check, bool) {
	for _, c := range row.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return report.Check{}, false
}

// CheckChecks are a check report's facts and end-to-end proof as cells:
// "node: fact" for each fact, then the verify report's.
func CheckChecks(rep *check.Report) []report.Check {
	var out []report.Check
	for _, n := range rep.Nodes {
		for _, c := range n.Checks() {
			c.Name = n.Node + ": " + c.Name
			out = append(out, c)
		}
	}
	switch {
	case rep.VerifyError != "":
		out = append(out, report.Check{Name: "end-to-end", Status: report.Fail, Detail: "could not run: " + rep.VerifyError})
	case rep.Verify != nil:
		out = append(out, VerifyChecks(rep.Verify)...)
	}
	return out
}

// VerifyChecks are a verify report's checks as cells: the lab's, then
// "service: check" for each service.
func VerifyChecks(rep *verify.Report) []report.Check {
	out := slices.Clone(rep.Checks)
	for _, s := range rep.Services {
		for _, c := range s.Checks {
			c.Name = s.Name + ": " + c.Name
			out = append(out, c)
		}
	}
	return out
}

// WriteText writes the student × check table (columns numbered, their
// names below it), each failure with its message, and the verdict.
func WriteText(w io.Writer, r *Report) error {
	cols := r.Columns()
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 1, ' ', 0)
	fmt.Fprint(tw, "STUDENT\tHOST\tRESULT")
	for i := range cols {
		fmt.Fprintf(tw, "\t%d", i+1)
	}
	fmt.Fprintln(tw)
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s", row.Student, cmp.Or(hostLabel(row.Host), "-"), resultWord(row.Result()))
		for _, name := range cols {
			mark := "-"
			if c, ok := row.Cell(name); ok {
				mark = map[report.Status]string{report.Pass: "ok", report.Fail: "FAIL", report.Skip: "skip"}[c.Status]
			}
			fmt.Fprintf(tw, "\t%s", mark)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if len(cols) > 0 {
		b.WriteString("\n")
		for i, name := range cols {
			fmt.Fprintf(&b, "%3d %s\n", i+1, name)
		}
	}
	pass, failed := 0, []string{}
	for _, row := range r.Rows {
		if row.Pass() {
			pass++
			continue
		}
		failed = append(failed, row.Student)
		if row.Error != "" {
			fmt.Fprintf(&b, "\n%s (%s): %s\n", row.Student, row.where(), row.Error)
			continue
		}
		fmt.Fprintf(&b, "\n%s (%s):\n", row.Student, row.where())
		for _, c := range row.Checks {
			if c.Status == report.Fail {
				fmt.Fprintf(&b, "  FAIL %s: %s\n", c.Name, c.Detail)
			}
		}
	}
	verdict := report.Verdict(r.ExitCode())
	fmt.Fprintf(&b, "\nclass %s %s: %s, %d of %d students passed", r.Class, r.Command, verdict, pass, len(r.Rows))
	if len(failed) > 0 {
		fmt.Fprintf(&b, " (not: %s)", strings.Join(failed, ", "))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// resultWord is a Result as the text table and the page show it.
func resultWord(result string) string {
	return map[string]string{ResultPass: "pass", ResultFail: "FAIL", ResultError: "ERROR"}[result]
}

// hostLabel is a host's URI without its query (keyfile=..., known_hosts=...):
// the table stays readable, the JSON keeps the whole URI.
func hostLabel(uri string) string {
	host, _, _ := strings.Cut(uri, "?")
	return host
}

// JUnit renders the report as JUnit XML with report's writer: a testsuite
// per student (class/student), a testcase per check; a row's error is a
// testcase of its own: a failure when it is one (ErrorFails), else an
// error (the copy could not be read).
func JUnit(r *Report, title string) ([]byte, error) {
	var suites []report.Suite
	for _, row := range r.Rows {
		s := report.Suite{Lab: r.Class, Name: row.Student, Checks: row.Checks}
		if row.Error != "" {
			c := report.Check{Name: r.Command, Status: report.Fail, Detail: row.Error}
			if row.ErrorFails {
				s.Checks = append([]report.Check{c}, s.Checks...)
			} else {
				s.Cannot = []report.Check{c}
			}
		}
		suites = append(suites, s)
	}
	return report.JUnit(title, suites, nil)
}

// WriteJUnit writes the JUnit XML to a file.
func WriteJUnit(path string, r *Report, title string) error {
	data, err := JUnit(r, title)
	return report.WriteFile(path, data, err)
}
