package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/topology"
)

// command is one leaf command of lvslab: the words its --help shows, its
// flags and its action. cli makes the urfave/cli command with what every
// command shares: -o FORMAT, checked before the action runs, when it has
// formats.
type command struct {
	name, args, usage string
	help              string   // what it does, its exit codes, examples
	formats           []string // -o's formats, the default first; none: no -o
	flags             []cli.Flag
	action            cli.ActionFunc
}

// textJSON are the formats of a command that lists or reports.
var textJSON = []string{report.OutputText, report.OutputJSON}

func (d command) cli() *cli.Command {
	cmd := &cli.Command{Name: d.name, ArgsUsage: d.args, Usage: d.usage, Description: d.help, Flags: d.flags, Action: d.action}
	if len(d.formats) > 0 {
		cmd.Flags = append(slices.Clone(d.flags), outputFlags(d.formats...)...)
		cmd.Before = func(c *cli.Context) error {
			_, err := output(c, d.formats...)
			return err
		}
	}
	return cmd
}

// labArgUsage is the ArgsUsage of a command whose argument is a LAB.
const labArgUsage = "[LAB]"

// labFlag is --lab/-l LAB, which every command that takes a LAB accepts,
// beside its LAB argument where it has one.
func labFlag() cli.Flag {
	return &cli.StringFlag{Name: "lab", Aliases: []string{"l"}, Usage: "the `LAB`, as the argument gives it: a lab file, an embedded lab or a running lab's name"}
}

// labOf is the command's LAB: --lab, or its positional argument at index
// at (-1: it has none); the two given and different is an error.
func labOf(c *cli.Context, at int) (string, error) {
	flag, arg := c.String("lab"), ""
	if at >= 0 {
		arg = c.Args().Get(at)
	}
	switch {
	case flag != "" && arg != "" && flag != arg:
		return "", cannot(fmt.Sprintf("two labs given, %s and --lab %s: give one", arg, flag))
	case flag != "":
		return flag, nil
	}
	return arg, nil
}

// nodeFlag is --node/-n NODE (repeatable), a node of the lab; what names
// what the command does with it.
func nodeFlag(what string) cli.Flag {
	return &cli.StringSliceFlag{Name: "node", Aliases: []string{"n"}, Usage: what + " `NODE` (repeatable)"}
}

// onEvery calls f on every command of cmds and below.
func onEvery(cmds []*cli.Command, f func(*cli.Command)) {
	for _, c := range cmds {
		f(c)
		onEvery(c.Subcommands, f)
	}
}

// usageError is every command's answer to a flag it does not know, or one
// without its value: one line on stderr and exit code 2; the help stays
// out of stdout, where a pipe would take it.
func usageError(c *cli.Context, err error, _ bool) error {
	path := c.App.Name
	flags := c.App.VisibleFlags()
	if c.Command != nil && c.Command.Name != "" {
		path = c.Command.HelpName
		flags = c.Command.VisibleFlags()
	}
	where := strings.TrimPrefix(strings.TrimPrefix(path, c.App.Name), " ")
	of := ""
	if where != "" {
		of = fmt.Sprintf(" for %q", where)
	}
	msg := singleDash.ReplaceAllString(err.Error(), "flag --$1")
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		msg = "unknown flag " + dashed(name) + of
		if near := nearFlag(flags, name); near != "" {
			msg += ": did you mean " + dashed(near) + "?"
		}
	} else if name, ok := strings.CutPrefix(err.Error(), "flag needs an argument: -"); ok {
		msg = "flag " + dashed(name) + of + " needs a value"
	} else if where != "" {
		msg = where + ": " + msg
	}
	return cannot(fmt.Sprintf("lvslab: %s (see %s --help)", msg, path))
}

// singleDash is a long flag as Go's flag package names it ("flag -requests").
var singleDash = regexp.MustCompile(`flag -(\w[\w-]+)`)

// dashed is a flag's name as typed: -n, --node.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// nearFlag is the name of flags closest to a mistyped one, or "".
func nearFlag(flags []cli.Flag, typed string) string {
	var names []string
	for _, f := range flags {
		for _, n := range f.Names() {
			if len(n) > 1 {
				names = append(names, n)
			}
		}
	}
	return topology.Suggest(typed, names)
}

// choiceFlag is a string flag whose value is one of a few words: completion
// offers them.
type choiceFlag struct {
	*cli.StringFlag
	choices []string
}

// choice makes f a choiceFlag of choices.
func choice(f *cli.StringFlag, choices ...string) cli.Flag {
	return &choiceFlag{StringFlag: f, choices: choices}
}
