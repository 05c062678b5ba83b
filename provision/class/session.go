package class

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/topology"
)

// Session is one class command over the class's hosts: the class, its
// record, a libvirt connection per host and the students it works on.
// Close it when done.
type Session struct {
	Class  *Class
	Record *Record
	// Students are the ones the command works on (all, or those asked).
	Students []string

	paths    paths.Root
	parallel int
	sink     progress.Sink
	ctx      context.Context
	conns    map[string]*host.Conn
	connErrs map[string]error
}

// SessionOptions tune Open.
type SessionOptions struct {
	// Paths are lvslab's folders: the class's record, and its copies'
	// keys, pins, pool and console logs.
	Paths paths.Root
	// Students limits the command to these students' copies (all when
	// empty); each must be the class's.
	Students []string
	// Parallel is how many copies are worked on at a time (0: the class
	// file's batch).
	Parallel int
	// Progress receives an event as each copy's work starts and ends, and
	// the copy's own (up's, down's), each From its student; nil discards
	// them.
	Progress progress.Sink
}

// Open reads the class file and the class's record, connects to every
// host at once (a host that does not answer fails its copies only) and
// adds to the record the copies the hosts' tags mark as the class's but
// the record lacks.
func Open(ctx context.Context, file string, opts SessionOptions) (*Session, error) {
	cls, err := LoadFile(file)
	if err != nil {
		return nil, err
	}
	if err := opts.Paths.Check(); err != nil {
		return nil, err
	}
	rec, err := ReadRecord(opts.Paths, cls.Name)
	if err != nil {
		return nil, err
	}
	s := &Session{Class: cls, Record: rec, Students: cls.Students, paths: opts.Paths, parallel: opts.Parallel, sink: progress.Or(opts.Progress), ctx: ctx}
	if len(opts.Students) > 0 {
		for _, st := range opts.Students {
			if !slices.Contains(cls.Students, st) {
				return nil, fmt.Errorf("--student %s: not a student of class %s (%s)", st, cls.Name, strings.Join(cls.Students, ", "))
			}
		}
		s.Students = opts.Students
	}
	s.connect()
	if err := s.discover(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes every host's connection.
func (s *Session) Close() {
	for _, conn := range s.conns {
		conn.Close()
	}
}

// discover adds to the record the copies the hosts' tags mark as the
// class's but the record lacks (its file was lost): every command finds
// them, and down removes them too.
func (s *Session) discover() error {
	placed := s.Record.Placement()
	for _, h := range s.Class.Hosts {
		conn := s.conns[h.URI]
		if conn == nil {
			continue
		}
		copies, err := host.ClassCopies(conn, s.Class.Name)
		if err != nil {
			return fmt.Errorf("host %s: %w", h.URI, err)
		}
		for name, st := range copies {
			if _, ok := placed[st]; !ok && name == s.Class.Copy(st) {
				s.Record.Set(st, h.URI, name)
				placed[st] = h.URI
			}
		}
	}
	return nil
}

// connect opens every host's connection at once.
func (s *Session) connect() {
	s.conns, s.connErrs = map[string]*host.Conn{}, map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range s.Class.Hosts {
		wg.Go(func() {
			conn, err := host.Connect(h.URI)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.connErrs[h.URI] = err
				return
			}
			s.conns[h.URI] = conn
		})
	}
	wg.Wait()
}

// CopyLab is student's copy of the class's lab: the lab file under the
// copy's name (loaded anew: every copy its own).
func (s *Session) CopyLab(student string) (*topology.Lab, error) {
	l, err := labs.Load(s.Class.LabRef)
	if err != nil {
		return nil, err
	}
	l.Name = s.Class.Copy(student)
	return l, nil
}

// conn is uri's connection, or why there is none.
func (s *Session) conn(uri string) (*host.Conn, error) {
	if err := s.connErrs[uri]; err != nil {
		return nil, err
	}
	if conn := s.conns[uri]; conn != nil {
		return conn, nil
	}
	return nil, fmt.Errorf("host %s is not in class file %s", uri, s.Class.File)
}

// Limit is how many copies are worked on at a time: Parallel, else the
// class file's batch. Reading a copy costs its host's CPU as booting does.
func (s *Session) Limit() int {
	if s.parallel > 0 {
		return s.parallel
	}
	return s.Class.Batch
}

// copyRun is one student's copy as a command works on it.
type copyRun struct {
	student string
	lab     *topology.Lab // the class's lab under the copy's name
	conn    *host.Conn
	sink    progress.Sink // its events, From the student
}

// eachCopy runs f on every selected student's recorded copy, a batch at a
// time, with a line of progress as each starts and ends; a student with no
// copy recorded is an error row.
func (s *Session) eachCopy(command string, f func(ctx context.Context, c copyRun) ([]report.Check, error)) *Report {
	placed := s.Record.Placement()
	rows := Each(s.ctx, len(s.Students), s.Limit(), func(ctx context.Context, i int) Row {
		st := s.Students[i]
		row := Row{Student: st, Copy: s.Class.Copy(st), Host: placed[st], Checks: []report.Check{}}
		// A copy never made, or one up or down could not do, fails; one
		// that could not be read leaves the report incomplete.
		row.ErrorFails = row.Host == "" || command == "up" || command == "down"
		if row.Host == "" {
			row.Error = fmt.Sprintf("no copy recorded (\"lvslab class up %s\" makes it)", s.Class.File)
			return row
		}
		if err := ctx.Err(); err != nil {
			row.Error = "not started: " + err.Error()
			return row
		}
		sink := progress.From(s.sink, st)
		start := time.Now()
		sink.Emit(progress.CopyStarted{Command: command, Copy: row.Copy, Host: row.Host})
		checks, err := func() ([]report.Check, error) {
			conn, err := s.conn(row.Host)
			if err != nil {
				return nil, err
			}
			l, err := s.CopyLab(st)
			if err != nil {
				return nil, err
			}
			return f(ctx, copyRun{student: st, lab: l, conn: conn, sink: sink})
		}()
		row.Checks = append(row.Checks, checks...)
		if err != nil {
			row.Error = err.Error()
		}
		done := progress.CopyDone{Command: command, Passed: row.Pass(), Elapsed: progress.Since(start)}
		if !done.Passed {
			done.Failure = row.Why()
		}
		sink.Emit(done)
		return row
	})
	return &Report{Class: s.Class.Name, Command: command, Rows: rows}
}

// OnCopies runs f on every selected copy, a batch at a time, with the
// copy's lab and its Access: the way check and verify read a copy.
func (s *Session) OnCopies(command string, f func(ctx context.Context, l *topology.Lab, acc *access.Access) ([]report.Check, error)) *Report {
	return s.eachCopy(command, func(ctx context.Context, c copyRun) ([]report.Check, error) {
		acc, err := access.Open(c.conn, c.lab.Name, access.Options{Paths: s.paths, File: c.lab})
		if err != nil {
			return nil, err
		}
		defer acc.Close()
		return f(ctx, c.lab, acc)
	})
}
