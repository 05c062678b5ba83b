package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
)

// globalFlags work before or after the command ("lvslab --debug up" and
// "lvslab up --debug" alike: see interspersed).
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "debug", Usage: "trace each libvirt call and SSH command, with its duration and output, on stderr"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only results and errors, no progress"},
		choice(&cli.StringFlag{Name: "progress", Value: progress.ModeAuto, Usage: "how progress shows: `MODE` auto (tty on a terminal, else plain), " +
			"tty (lines redrawn in place), plain (one line per change) or json (one event per line, on stderr; results stay on stdout)"}, progress.Modes...),
	}
}

func applyGlobalFlags(c *cli.Context) error {
	if c.Bool("debug") && c.Bool("quiet") {
		return cannot("--debug and --quiet contradict each other: give one")
	}
	if c.Bool("quiet") && c.IsSet("progress") {
		return cannot("--progress and --quiet contradict each other: give one")
	}
	if _, err := progress.New(c.String("progress"), io.Discard); err != nil {
		return cannot("--" + err.Error())
	}
	progress.SetDebug(nil)
	if c.Bool("debug") {
		progress.SetDebug(renderer(c, c.App.ErrWriter))
	}
	return nil
}

// pathsKey is where lvslab's folders are kept for the command's run.
const pathsKey = "lvslab.paths"

// folders are lvslab's folders (its home, image store, pool and logs),
// resolved once in a run, on first use, and passed down from here.
func folders(c *cli.Context) paths.Root {
	if root, ok := c.App.Metadata[pathsKey].(paths.Root); ok {
		return root
	}
	root := paths.Local()
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	c.App.Metadata[pathsKey] = root
	return root
}

// progressTo is the Sink of a command's progress, whose text goes to w:
// nowhere with --quiet; with --progress json, JSON lines to stderr.
func progressTo(c *cli.Context, w io.Writer) progress.Sink {
	if c.Bool("quiet") {
		return progress.Discard
	}
	return renderer(c, w)
}

// progressText is where the text progress of a command that has no events
// yet goes: w, or nowhere with --quiet or --progress json.
func progressText(c *cli.Context, w io.Writer) io.Writer {
	if c.Bool("quiet") || c.String("progress") == progress.ModeJSON {
		return io.Discard
	}
	return w
}

// renderersKey is where a run keeps its renderers, one per writer, so
// that the progress and the --debug trace to one writer share its lock.
const renderersKey = "lvslab.renderers"

// renderer is --progress's renderer to w (to stderr for json).
func renderer(c *cli.Context, w io.Writer) progress.Sink {
	mode := c.String("progress")
	if mode == progress.ModeJSON {
		w = c.App.ErrWriter
	}
	made, _ := c.App.Metadata[renderersKey].(map[io.Writer]progress.Sink)
	if made == nil {
		made = map[io.Writer]progress.Sink{}
		c.App.Metadata[renderersKey] = made
	}
	if made[w] == nil {
		made[w], _ = progress.New(mode, w) // the mode was checked before the command
	}
	return made[w]
}

// unknownCommandKey is where the not-found hook leaves its error for run
// (urfave/cli's hook cannot return one, and would exit 0 or 3).
const unknownCommandKey = "lvslab.unknown-command"

// rejectUnknownCommands makes "lvslab frobnicate", "lvslab image frob" and
// "lvslab help frob" an error of exit code 2 that names the nearest command.
func rejectUnknownCommands(app *cli.App) {
	app.CommandNotFound = func(c *cli.Context, name string) {
		cmds := c.App.Commands
		path := c.App.Name
		if c.Command != nil && c.Command.Subcommands != nil {
			cmds = c.Command.Subcommands
			path = c.Command.HelpName
		}
		var visible []*cli.Command
		for _, cmd := range cmds {
			if !cmd.Hidden {
				visible = append(visible, cmd)
			}
		}
		msg := fmt.Sprintf("%s: unknown command %q", path, name)
		if s := cli.SuggestCommand(visible, name); s != "" {
			msg += ". " + s
		}
		c.App.Metadata[unknownCommandKey] = cannot(msg + " (\"" + path + " --help\" lists the commands)")
	}
}

// buildVersion is the version the Makefile stamped from git, else the one
// "go install ...@vX" records, else the VCS revision of a plain build.
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown (built without version information: use make build)"
	}
	rev = rev[:min(len(rev), 12)]
	if dirty {
		rev += "-dirty"
	}
	return strings.TrimSpace("g" + rev)
}
