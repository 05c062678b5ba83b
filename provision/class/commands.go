package class

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/lab"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/report"
)

// ErrRecord marks a failure to write the class's record.
var ErrRecord = errors.New("class record")

// FitError is a class that does not fit its hosts: nothing was placed.
type FitError struct{ Err error }

func (e *FitError) Error() string { return e.Err.Error() }
func (e *FitError) Unwrap() error { return e.Err }

// Up places the class's new copies, records where, says which host takes
// which student, then brings every copy up a batch at a time with opts
// (each copy's progress goes to the session's Out). A class that does not
// fit is a *FitError, before anything is made.
func (s *Session) Up(opts lab.Options) (*Report, error) {
	figures := s.hostFigures()
	placed, err := Place(s.Class, figures, s.Record.Placement())
	if err != nil {
		return nil, &FitError{Err: err}
	}
	for _, st := range s.Class.Students {
		s.Record.Set(st, placed[st], s.Class.Copy(st))
	}
	s.Record.File, s.Record.Lab = s.Class.File, s.Class.LabRef
	// Recorded before anything is made: a crash halfway still leaves every
	// class command its copies.
	if err := s.writeRecord(); err != nil {
		return nil, err
	}
	for _, f := range figures {
		var on []string
		for _, st := range s.Students {
			if placed[st] == f.URI {
				on = append(on, st)
			}
		}
		s.sink.Emit(progress.ClassHost{URI: f.URI, FreeMiB: f.FreeMiB, Students: on})
	}
	s.sink.Emit(progress.ClassStarted{Class: s.Class.Name, Copies: len(s.Students), Lab: s.Class.LabRef, CopyMiB: s.Class.CopyMemory(), Parallel: s.Limit()})
	return s.eachCopy("up", func(ctx context.Context, c copyRun) ([]report.Check, error) {
		o := opts
		o.Progress, o.Paths = c.sink, s.paths
		// up writes the class and student into every domain's tag as it
		// defines it: whatever becomes of the run, the VMs it leaves are
		// the class's.
		o.Class, o.Student = s.Class.Name, c.student
		res, err := lab.Up(ctx, c.conn, c.lab, o)
		if err != nil {
			return nil, host.Explain(c.conn, err)
		}
		return []report.Check{{Name: "up", Status: report.Pass, Detail: fmt.Sprintf("every node answered SSH within %s, %s in all",
			res.SSHReady.Round(100*time.Millisecond), res.Elapsed.Round(100*time.Millisecond))}}, nil
	}), nil
}

// hostFigures reads each host's free memory; a host that cannot be read
// says why.
func (s *Session) hostFigures() []HostFigures {
	var figures []HostFigures
	for _, h := range s.Class.Hosts {
		f := HostFigures{URI: h.URI}
		conn, err := s.conn(h.URI)
		if err == nil {
			f.FreeMiB, err = host.FreeMemory(conn)
		}
		if err != nil {
			f.Err = progress.FirstLine(err.Error())
		}
		figures = append(figures, f)
	}
	return figures
}

func (s *Session) writeRecord() error {
	if err := s.Record.Write(s.paths); err != nil {
		return fmt.Errorf("%w: %w", ErrRecord, err)
	}
	return nil
}

// Status is status of every copy: a cell per node, green when its VM
// runs and lvslab logs in.
func (s *Session) Status() *Report {
	return s.eachCopy("status", func(ctx context.Context, c copyRun) ([]report.Check, error) {
		st, err := lab.Status(ctx, c.conn, c.lab.Name, lab.StatusOptions{Paths: s.paths, Lab: c.lab})
		if err != nil {
			return nil, err
		}
		var out []report.Check
		for _, n := range st.Nodes {
			ch := report.Check{Name: n.Node, Status: report.Pass, Detail: fmt.Sprintf("%s, SSH up (%s)", n.State, n.SSH)}
			if why := n.Down(); why != "" {
				ch.Status, ch.Detail = report.Fail, why
				if n.SSHError != "" {
					ch.Detail += ": " + n.SSHError
				}
			}
			out = append(out, ch)
		}
		return out, nil
	})
}

// Down removes every copy of the class: those recorded and those the
// hosts' tags mark as the class's (students since dropped from the file
// too), or only the students the session was opened for when some were
// named; the record forgets each copy removed.
func (s *Session) Down(named bool) (*Report, error) {
	if !named {
		s.Students = nil
		for _, c := range s.Record.Copies {
			s.Students = append(s.Students, c.Student)
		}
	}
	rep := s.eachCopy("down", func(ctx context.Context, c copyRun) ([]report.Check, error) {
		d, err := lab.Down(context.WithoutCancel(ctx), c.conn, lab.Selector{Lab: c.lab.Name}, lab.DownOptions{Paths: s.paths, Progress: c.sink})
		if err != nil {
			return nil, host.Explain(c.conn, err)
		}
		return []report.Check{{Name: "down", Status: report.Pass, Detail: fmt.Sprintf("%d objects removed", len(d.Removed))}}, nil
	})
	for _, row := range rep.Rows {
		if row.Error == "" {
			s.Record.Remove(row.Student)
		}
	}
	if err := s.writeRecord(); err != nil {
		return nil, err
	}
	return rep, nil
}

// WriteSSHConfig writes "lvslab ssh-config" of every selected copy, one
// after the other, to w; missing lists the students whose copy could not
// be read, with why.
func (s *Session) WriteSSHConfig(w io.Writer) (missing []string) {
	placed := s.Record.Placement()
	for _, st := range s.Students {
		if placed[st] == "" {
			missing = append(missing, st+": no copy recorded")
			continue
		}
		conn, err := s.conn(placed[st])
		if err != nil {
			missing = append(missing, st+": "+progress.FirstLine(err.Error()))
			continue
		}
		acc, err := access.Open(conn, s.Class.Copy(st), access.Options{Paths: s.paths})
		if err == nil {
			io.WriteString(w, "\n")
			err = acc.WriteSSHConfig(w, access.SSHConfigOptions{})
			acc.Close()
		}
		if err != nil {
			missing = append(missing, st+": "+err.Error())
		}
	}
	return missing
}
