// Package report is the one home of what lvslab's commands report: a
// check's verdict (Check, Status), the exit codes as named values and the
// one rule that picks one (Code), and the writers every report shares
// (indented JSON, JUnit XML). verify, check, the drill and the class
// reports are built from these; the package imports none of them.
package report

import (
	"encoding/json"
	"io"
)

// Status is a check's outcome.
type Status string

// Outcomes of a check.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Check is one verdict, shown as a line of text and a JUnit testcase.
type Check struct {
	Service string `json:"service,omitempty"`
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Detail  string `json:"detail"`
}

// Exit codes of every lvslab command.
const (
	ExitPass   = 0 // success: every check passed
	ExitFail   = 1 // the lab or a verdict is wrong
	ExitCannot = 2 // lvslab could not run (or read what it was to judge)
	// ExitSandbox is "lvslab sandbox" failing to make the sandbox itself,
	// as env(1) and chroot(1) do: the command's own codes stay its own.
	ExitSandbox = 125
)

// Code is the one rule every report's exit code follows: ExitFail when
// something is wrong, else ExitCannot when something could not be run or
// read, else ExitPass.
func Code(failed, cannot bool) int {
	switch {
	case failed:
		return ExitFail
	case cannot:
		return ExitCannot
	}
	return ExitPass
}

// Output formats of the commands that report.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// WriteJSON writes v indented, the form every -o json takes.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Verdict is the last line's word for an exit code: PASS, FAIL, or
// INCOMPLETE when something could not be run or read.
func Verdict(code int) string {
	return map[int]string{ExitPass: "PASS", ExitFail: "FAIL", ExitCannot: "INCOMPLETE"}[code]
}
