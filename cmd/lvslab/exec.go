package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/sshx"
)

const execHelp = `Runs CMD on every node named by --node (repeatable), or on all of the lab's
nodes with --all, at the same time, over the management network. Each line
of output is prefixed with its node's name; stderr goes to stderr.

Exit codes: 0 CMD succeeded everywhere, 1 it failed on a node (each failure
is named on stderr), 2 a node could not be reached.

Examples:
   lvslab exec --all -- hostname
   lvslab exec -n web1 -n web2 -l tedu-dr -- ip -4 addr show lo
   lvslab exec --all -- 'sysctl net.ipv4.ip_forward'`

func execCommand() *cli.Command {
	return command{name: "exec", args: "-- CMD...", help: execHelp,
		usage: "run a command on several nodes at once, each line of output prefixed by its node",
		flags: []cli.Flag{labFlag(), connectFlag(), nodeFlag("run on this"),
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "run on every node of the lab"},
		},
		action: execAction,
	}.cli()
}

// execAction checks exec's words, then runs the command on its nodes.
func execAction(c *cli.Context) error {
	cmd := commandWords(c.Args().Slice())
	nodes := c.StringSlice("node")
	switch {
	case len(cmd) == 0:
		return cannot("lvslab exec: no command: lvslab exec --all -- CMD...")
	case len(nodes) == 0 && !c.Bool("all"):
		return cannot("lvslab exec: on which nodes? --node NODE (repeatable) or --all")
	case len(nodes) > 0 && c.Bool("all"):
		return cannot("lvslab exec: --node and --all exclude each other")
	}
	r, done, err := openLab(c, -1)
	if err != nil {
		return err
	}
	defer done()
	if c.Bool("all") {
		nodes = r.nodes
	}
	for _, n := range nodes {
		if !slices.Contains(r.nodes, n) {
			return cannot(fmt.Sprintf("no node %q in lab %s (nodes: %s)", n, r.lab.Name, strings.Join(r.nodes, ", ")))
		}
	}
	return execOn(c, r, nodes, cmd)
}

// execOn runs cmd on nodes at once, each line of output prefixed by its
// node, and turns the failures into exec's exit code.
func execOn(c *cli.Context, r *nodeSession, nodes, cmd []string) error {
	width := 0
	for _, n := range nodes {
		width = max(width, len(n))
	}
	var mu sync.Mutex
	codes := make([]int, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prefix := fmt.Sprintf("%-*s | ", width, n)
			out := progress.NewPrefixed(c.App.Writer, &mu, prefix)
			errw := progress.NewPrefixed(c.App.ErrWriter, &mu, prefix)
			defer out.Flush()
			defer errw.Flush()
			x, err := r.acc.Dial(r.ctx, n)
			if err != nil {
				errs[i] = err
				return
			}
			codes[i], errs[i] = x.Stream(r.ctx, strings.Join(cmd, " "), sshx.Session{Stdout: out, Stderr: errw})
		}()
	}
	wg.Wait()
	code := 0
	for i, n := range nodes {
		switch {
		case errs[i] != nil:
			fmt.Fprintf(c.App.ErrWriter, "lvslab exec: %s: %v\n", n, errs[i])
			code = 2
		case codes[i] != 0:
			fmt.Fprintf(c.App.ErrWriter, "lvslab exec: %s: exit status %d\n", n, codes[i])
			code = max(code, 1)
		}
	}
	if code != 0 {
		return exit("", code)
	}
	return nil
}
