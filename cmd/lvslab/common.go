package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/lab"
	"github.com/lvslab/lvslab/provision/verify"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
)

// loadLab loads the command's LAB (its argument or --lab); a bad lab is
// exit code 1, with every problem listed.
func loadLab(c *cli.Context) (*topology.Lab, error) {
	arg, err := oneLab(c)
	if err != nil {
		return nil, err
	}
	lab, err := labs.Load(arg)
	if err != nil {
		return nil, failed(err)
	}
	return lab, nil
}

// commandContext is the command's context, cancelled by Ctrl-C or SIGTERM:
// every dial and command over SSH stops then.
func commandContext(c *cli.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
}

// asFlag is --as NAME: a lab file instantiated under another lab name.
func asFlag(what string) cli.Flag {
	return &cli.StringFlag{Name: "as", Usage: what + " the lab file under this lab `NAME` (a copy: every address of the file, its own VMs and networks)"}
}

// applyAs renames lab to --as NAME, if given: a copy keeps every address,
// MAC and service of its file.
func applyAs(c *cli.Context, lab *topology.Lab) error {
	name := c.String("as")
	if name == "" {
		return nil
	}
	if !topology.IsLabName(name) {
		return cannot(fmt.Sprintf("--as %q: a lab name is a lower-case letter, then up to 19 lower-case letters, digits or '-'", name))
	}
	lab.Name = name
	return nil
}

// runningLab resolves a command's LAB on a running lab: a lab file or
// embedded lab (under --as NAME, if given), or the name of a lab on this
// libvirt, whose file its tags record (so "lvslab verify b" verifies copy
// b).
func runningLab(c *cli.Context, conn *host.Conn, arg string) (*topology.Lab, error) {
	labFile, err := labs.Load(arg)
	if err == nil {
		return labFile, applyAs(c, labFile)
	}
	if !topology.IsLabName(arg) || c.String("as") != "" {
		return nil, failed(err)
	}
	labFile, rerr := lab.Recorded(conn, arg)
	switch {
	case rerr != nil:
		return nil, failed(rerr)
	case labFile == nil:
		return nil, failed(fmt.Sprintf("%v, and no lab named %s runs here (\"lvslab ls\" lists them)", err, arg))
	}
	return labFile, nil
}

// withConn runs f on a connection to the libvirt of --connect, closed
// after it.
func withConn(c *cli.Context, f func(*host.Conn) error) error {
	conn, err := host.Connect(c.String("connect"))
	if err != nil {
		return err
	}
	defer conn.Close()
	return f(conn)
}

// labAccess connects to libvirt (--connect), resolves LAB (runningLab) and
// opens its Access: the one way to its nodes. done closes both.
func labAccess(c *cli.Context, arg string) (lab *topology.Lab, acc *access.Access, done func(), err error) {
	conn, err := host.Connect(c.String("connect"))
	if err != nil {
		return nil, nil, nil, cannot(err)
	}
	if lab, err = runningLab(c, conn, arg); err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	acc, err = access.Open(conn, lab.Name, access.Options{Paths: folders(c), File: lab})
	if err != nil {
		conn.Close()
		return nil, nil, nil, cannot(err)
	}
	return lab, acc, func() { acc.Close(); conn.Close() }, nil
}

// reading is what verify and check start with: their options, the
// command's context and the lab's Access. done releases all three.
type reading struct {
	lab    *topology.Lab
	ctx    context.Context
	acc    *access.Access
	opts   verify.Options
	format string
}

// onReading is the action of a command that reads a running lab, with
// verify's options where it has them (verify, check, ipvs): f runs with
// it open.
func onReading(f func(*cli.Context, *reading) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		var opts verify.Options
		if lookupFlag(c.Command.Flags, "requests") != nil {
			var err error
			if opts, _, err = verifyOptions(c); err != nil {
				return err
			}
		}
		r, done, err := openLabArg(c)
		if err != nil {
			return err
		}
		defer done()
		r.opts, r.format = opts, outputOf(c)
		return f(c, r)
	}
}

// dial is verify's view of the reading's Access.
func (r *reading) dial() guest.Dialer { return r.acc.Dialer(r.ctx) }

// oneLab is the LAB of a command whose one optional argument is a LAB.
func oneLab(c *cli.Context) (string, error) {
	if c.NArg() > 1 {
		return "", cannot("expected at most one LAB argument, got " + c.Args().Get(1) + " too")
	}
	return labOf(c, 0)
}

// openLabArg opens the running lab the one optional LAB names.
func openLabArg(c *cli.Context) (*reading, func(), error) {
	arg, err := oneLab(c)
	if err != nil {
		return nil, nil, err
	}
	return openRunning(c, arg)
}

// openRunning opens the running lab arg names (runningLab), with the
// command's context.
func openRunning(c *cli.Context, arg string) (*reading, func(), error) {
	ctx, stop := commandContext(c)
	lab, acc, closeAll, err := labAccess(c, arg)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return &reading{lab: lab, ctx: ctx, acc: acc}, func() { closeAll(); stop() }, nil
}
