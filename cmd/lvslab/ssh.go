package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/sshx"
)

// commandWords are the words after "--" (or after the NODE): a command to
// run as ssh runs it.
func commandWords(args []string) []string {
	if i := slices.Index(args, "--"); i >= 0 {
		return args[i+1:]
	}
	return args
}

const sshHelp = `Logs in as root over the lab's management network, with the lab's own key
and the node's pinned host key: it works whatever a student did to the lab
NICs. Without CMD, an interactive shell on a terminal (exit it with "exit"
or Ctrl-D). With CMD, runs it as ssh does (by the login shell), streams its
output and exits with its exit status; stdin is passed on, so a handout runs
as "lvslab ssh lvs1 -- sh -s < lvs1.sh".

Examples:
   lvslab ssh web1                                # a shell on web1 of the default lab
   lvslab ssh lvs1 --lab tedu-dr -- ipvsadm -Ln
   lvslab plan -o script --node web1 > web1.sh && lvslab ssh web1 -- sh -s < web1.sh`

func sshCommand() *cli.Command {
	return command{name: "ssh", args: "NODE [-- CMD...]", help: sshHelp,
		usage:  "log in to a node (a terminal), or run a command there and return its exit status",
		flags:  []cli.Flag{labFlag(), connectFlag()},
		action: sshAction,
	}.cli()
}

// sshAction logs in to the NODE, or runs the command after it there.
func sshAction(c *cli.Context) error {
	node := c.Args().First()
	if node == "" || node == "--" {
		return cannot("lvslab ssh: which NODE? (\"lvslab status\" lists them)")
	}
	cmd := commandWords(c.Args().Tail())
	r, x, done, err := openNode(c, node)
	if err != nil {
		return err
	}
	defer done()
	s := sshx.Session{Stdin: os.Stdin, Stdout: c.App.Writer, Stderr: c.App.ErrWriter}
	var code int
	if len(cmd) == 0 {
		code, err = x.Shell(r.ctx, s)
	} else {
		code, err = x.Stream(r.ctx, strings.Join(cmd, " "), s)
	}
	if err != nil {
		return cannot(fmt.Errorf("lvslab ssh %s: %w", node, err))
	}
	if code != 0 {
		return exit("", code)
	}
	return nil
}

// nodeSession is a command's context and Access on the lab of --lab.
type nodeSession struct {
	reading
	nodes []string
}

// openNode opens --lab's Access and dials node; done closes both.
func openNode(c *cli.Context, node string) (*nodeSession, *sshx.Client, func(), error) {
	r, done, err := openLab(c, -1)
	if err != nil {
		return nil, nil, nil, err
	}
	if !slices.Contains(r.nodes, node) {
		done()
		return nil, nil, nil, cannot(fmt.Sprintf("no node %q in lab %s (nodes: %s)", node, r.lab.Name, strings.Join(r.nodes, ", ")))
	}
	x, err := r.acc.Dial(r.ctx, node)
	if err != nil {
		done()
		return nil, nil, nil, cannot(fmt.Errorf("lvslab: %s: %w", node, err))
	}
	return r, x, done, nil
}

// openLab opens the Access of the LAB of --lab, or of the argument at
// index at (-1: none).
func openLab(c *cli.Context, at int) (*nodeSession, func(), error) {
	arg, err := labOf(c, at)
	if err != nil {
		return nil, nil, err
	}
	open, done, err := openRunning(c, arg)
	if err != nil {
		return nil, nil, err
	}
	r := &nodeSession{reading: *open}
	for _, n := range r.lab.Nodes {
		r.nodes = append(r.nodes, n.Name)
	}
	return r, done, nil
}
