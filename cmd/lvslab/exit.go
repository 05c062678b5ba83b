package main

import (
	"errors"
	"fmt"

	"github.com/lvslab/lvslab/provision/report"
)

// exitError is how a command ends with an exit code of report's: why is
// what run prints, and an error given as why stays underneath (errors.As
// finds it), so that run explains libvirt's errors for every command.
type exitError struct {
	err  error
	code int
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) ExitCode() int { return e.code }
func (e *exitError) Unwrap() error { return e.err }

// exit ends the command with code; why is a message (a string) or an
// error.
func exit(why any, code int) error {
	err, ok := why.(error)
	if !ok {
		err = errors.New(fmt.Sprint(why))
	}
	return &exitError{err: err, code: code}
}

// cannot: lvslab could not run (a bad argument, no libvirt, a node it could
// not reach): report.ExitCannot.
func cannot(why any) error { return exit(why, report.ExitCannot) }

// failed: the lab or a verdict is wrong: report.ExitFail.
func failed(why any) error { return exit(why, report.ExitFail) }
