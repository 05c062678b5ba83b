package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision"
	"github.com/lvslab/lvslab/provision/verify"
	"github.com/lvslab/lvslab/topology"
)

const labArgUsage = "[LAB]"

// loadLab loads the command's LAB argument; a bad lab is exit code 1, with
// every problem listed.
func loadLab(c *cli.Context) (*topology.Lab, error) {
	if c.NArg() > 1 {
		return nil, cli.Exit("expected at most one LAB argument, got "+c.Args().Get(1)+" too", 2)
	}
	lab, err := labs.Load(c.Args().First())
	if err != nil {
		return nil, cli.Exit(err.Error(), 1)
	}
	return lab, nil
}

// commandContext is the command's context, cancelled by Ctrl-C or SIGTERM:
// every dial and command over SSH stops then.
func commandContext(c *cli.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
}

// labAccess connects to libvirt (--connect) and opens the lab's Access: the
// one way to its nodes. done closes both.
func labAccess(c *cli.Context, lab *topology.Lab) (acc *provision.Access, done func(), err error) {
	conn, err := provision.Connect(c.String("connect"))
	if err != nil {
		return nil, nil, cli.Exit(err.Error(), 2)
	}
	acc, err = provision.OpenAccess(conn, lab.Name, provision.AccessOptions{File: lab})
	if err != nil {
		conn.Close()
		return nil, nil, cli.Exit(err.Error(), 2)
	}
	return acc, func() { acc.Close(); conn.Close() }, nil
}

// dialer is verify's view of acc: node name -> executor, dialled with ctx.
func dialer(ctx context.Context, acc *provision.Access) verify.Dialer {
	return func(node string) (verify.Executor, error) {
		c, err := acc.Dial(ctx, node)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}
