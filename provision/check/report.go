package check

import (
	"fmt"
	"io"
	"strings"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/verify"
)

// Write writes the report as text (report.OutputText) or JSON.
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case report.OutputJSON:
		return report.WriteJSON(w, r)
	case report.OutputText, "":
		return WriteText(w, r)
	}
	return fmt.Errorf("unknown output format %q: use text or json", format)
}

// WriteText writes the report for a student: per node every fact, each
// FAIL with why it matters and the step that fixes it, then the
// end-to-end proof and the verdict.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "lab %s (%s): each node's desired state read back, then the end-to-end proof\n", r.Lab, r.File)
	pass, fail := 0, 0
	for _, n := range r.Nodes {
		fmt.Fprintf(&b, "\n%s (%s", n.Node, n.Role)
		if n.OS != "" {
			fmt.Fprintf(&b, ", %s", n.OS)
		}
		b.WriteString(")\n")
		if n.Error != "" {
			fmt.Fprintf(&b, "  could not read it: %s\n", n.Error)
			continue
		}
		for _, f := range n.Facts {
			if f.Status == report.Pass {
				pass++
				fmt.Fprintf(&b, "  PASS %s: %s\n", f.Name, f.Got)
				continue
			}
			fail++
			fmt.Fprintf(&b, "  FAIL %s: %s (want %s)\n", f.Name, f.Got, f.Want)
			fmt.Fprintf(&b, "       why: %s\n", f.Hint)
			fmt.Fprintf(&b, "       fix: %s\n", f.Fix)
		}
	}
	b.WriteString("\nend-to-end (lvslab verify):\n")
	switch {
	case r.VerifySkipped != "":
		fmt.Fprintf(&b, "  skipped: %s\n", r.VerifySkipped)
	case r.VerifyError != "":
		fmt.Fprintf(&b, "  could not run: %s\n", r.VerifyError)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	b.Reset()
	if r.Verify != nil {
		if err := verify.WriteText(w, r.Verify); err != nil {
			return err
		}
	}
	verdict := report.Verdict(ExitCode(r))
	fmt.Fprintf(&b, "\n%s: %d facts passed, %d failed", verdict, pass, fail)
	if f := r.Failed(); len(f) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(f, "; "))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Checks are a node's facts as report's checks: a JUnit testsuite.
func (n NodeReport) Checks() []report.Check {
	var out []report.Check
	if n.Error != "" {
		out = append(out, report.Check{Name: "read the node", Status: report.Fail, Detail: n.Error})
	}
	for _, f := range n.Facts {
		c := report.Check{Name: f.Name, Status: f.Status, Detail: f.Got}
		if f.Status == report.Fail {
			c.Detail = fmt.Sprintf("%s (want %s): %s; fix: %s", f.Got, f.Want, f.Hint, f.Fix)
		}
		out = append(out, c)
	}
	return out
}

// JUnit renders the report: a testsuite per node (a testcase per fact),
// then verify's suites.
func JUnit(r *Report, title string) ([]byte, error) {
	var suites []report.Suite
	for _, n := range r.Nodes {
		suites = append(suites, report.Suite{Name: n.Node, Checks: n.Checks()})
	}
	var runErr error
	if r.VerifyError != "" {
		runErr = fmt.Errorf("end-to-end proof: %s", r.VerifyError)
	}
	return verify.JUnitSuites(r.Lab, suites, r.Verify, runErr, title)
}

// WriteJUnit writes the JUnit XML to a file.
func WriteJUnit(path string, r *Report, title string) error {
	data, err := JUnit(r, title)
	return report.WriteFile(path, data, err)
}
