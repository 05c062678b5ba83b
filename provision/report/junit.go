package report

import (
	"encoding/xml"
	"fmt"
	"os"
)

// JUnit XML, the subset CI systems read.

// JUnitSuites is the document: every suite, with the totals.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is a testsuite: a list of checks under one name.
type JUnitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []JUnitCase `xml:"testcase"`
}

// JUnitCase is a testcase: one check.
type JUnitCase struct {
	ClassName string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *JUnitMessage `xml:"failure,omitempty"`
	Error     *JUnitMessage `xml:"error,omitempty"`
	Skipped   *JUnitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// JUnitMessage is a failure's, error's or skip's message.
type JUnitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// Suite is a named list of checks of lab: a testsuite "lab/name" whose
// testcases' classname is "lvslab.lab.name".
type Suite struct {
	Lab    string
	Name   string
	Checks []Check
	// Cannot are checks that could not be run or read: error testcases,
	// before Checks.
	Cannot  []Check
	Seconds float64
}

// JUnit renders suites as JUnit XML under title; runErr, when not nil, is
// a run that could not happen: one more suite with one error testcase.
func JUnit(title string, suites []Suite, runErr error) ([]byte, error) {
	top := JUnitSuites{Name: title}
	add := func(s JUnitSuite) {
		top.Suites = append(top.Suites, s)
		top.Tests += s.Tests
		top.Failures += s.Failures
		top.Errors += s.Errors
		top.Skipped += s.Skipped
	}
	for _, s := range suites {
		add(suiteOf(s))
	}
	if runErr != nil {
		msg := runErr.Error()
		add(JUnitSuite{Name: title, Tests: 1, Errors: 1, Time: "0", Cases: []JUnitCase{{
			ClassName: "lvslab", Name: "run", Time: "0", Error: &JUnitMessage{Message: msg, Type: "cannot-run", Text: msg},
		}}})
	}
	out, err := xml.MarshalIndent(top, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func suiteOf(in Suite) JUnitSuite {
	s := JUnitSuite{Name: in.Lab + "/" + in.Name, Time: fmt.Sprintf("%.3f", in.Seconds)}
	class := "lvslab." + in.Lab + "." + in.Name
	for _, c := range in.Cannot {
		s.Cases = append(s.Cases, JUnitCase{ClassName: class, Name: c.Name, Time: "0",
			Error: &JUnitMessage{Message: c.Detail, Type: "cannot-run", Text: c.Detail}})
		s.Tests++
		s.Errors++
	}
	for _, c := range in.Checks {
		tc := JUnitCase{ClassName: class, Name: c.Name, Time: "0"}
		switch c.Status {
		case Fail:
			tc.Failure = &JUnitMessage{Message: c.Detail, Type: "verdict", Text: c.Detail}
			s.Failures++
		case Skip:
			tc.Skipped = &JUnitMessage{Message: c.Detail}
			s.Skipped++
		default:
			tc.SystemOut = c.Detail
		}
		s.Tests++
		s.Cases = append(s.Cases, tc)
	}
	return s
}

// WriteFile writes a rendered report (JUnit XML) to path.
func WriteFile(path string, data []byte, err error) error {
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
