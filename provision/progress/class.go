package progress

import (
	"fmt"
	"strings"
)

// The events of the class commands; a copy's own events (up's, down's)
// come From its student.

// ClassHost: where "class up" places the students' copies.
type ClassHost struct {
	URI      string   `json:"uri"`
	FreeMiB  int64    `json:"free_mib"`
	Students []string `json:"students,omitempty"`
}

// ClassStarted: "class up" brings Copies copies of Lab up, Parallel at a
// time.
type ClassStarted struct {
	Class    string `json:"class"`
	Copies   int    `json:"copies"`
	Lab      string `json:"lab"`
	CopyMiB  int64  `json:"copy_mib"`
	Parallel int    `json:"parallel"`
}

// CopyStarted: a class command begins on one copy.
type CopyStarted struct {
	Command string `json:"command"`
	Copy    string `json:"copy"`
	Host    string `json:"host"`
}

// CopyDone: the command ended on the copy; Failure says why it did not
// pass.
type CopyDone struct {
	Command string   `json:"command"`
	Passed  bool     `json:"passed"`
	Elapsed Duration `json:"seconds"`
	Failure string   `json:"failure,omitempty"`
}

func (e ClassHost) text() string {
	on := strings.Join(e.Students, " ")
	if on == "" {
		on = "-"
	}
	return fmt.Sprintf("host %s (%d MiB free): %s\n", e.URI, e.FreeMiB, on)
}

func (e ClassStarted) text() string {
	return fmt.Sprintf("class %s: %d copies of %s, %d MiB each, %d at a time\n", e.Class, e.Copies, e.Lab, e.CopyMiB, e.Parallel)
}

func (e CopyStarted) text() string { return fmt.Sprintf("%s %s on %s\n", e.Command, e.Copy, e.Host) }

func (e CopyDone) text() string {
	verdict := "done"
	if !e.Passed {
		verdict = "FAILED: " + FirstLine(e.Failure)
	}
	return fmt.Sprintf("%s %s in %s\n", e.Command, verdict, e.Elapsed.tenths())
}
