package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves a command's flags, each with its value, before its
// positional arguments, so "lvslab graph tedu-dr -o dot" and "lvslab plan
// -o script --node lvs1 tedu-nat" both work as people type them: urfave/cli
// v2 stops reading flags at the first argument. Everything after "--" is
// left alone (the sandbox's command line). Global flags given after the
// command ("lvslab up --debug") move before it.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	// The shell's completion request must stay the last argument.
	if last := len(args) - 1; args[last] == completionFlag {
		return append(interspersed(app, args[:last]), completionFlag)
	}
	var globals, path, moved, positional []string
	// take appends the flag at args[i] (and its value) to the global flags
	// or to the command's, and returns the index of its last word.
	take := func(i int, own []cli.Flag, to *[]string) int {
		a := args[i]
		flags := own
		if lookupFlag(own, a) == nil && lookupFlag(app.Flags, a) != nil {
			flags, to = app.Flags, &globals
		}
		*to = append(*to, a)
		if takesValue(flags, a) && i+1 < len(args) {
			i++
			*to = append(*to, args[i])
		}
		return i
	}
	// Flags met on the way down stay at their level, with their values.
	cmd, i := commandAt(app, args,
		func(i int, flags []cli.Flag) int { return take(i, flags, &path) },
		func(name string) { path = append(path, name) })
	if cmd == nil || cmd.SkipFlagParsing {
		return args
	}
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			if runsCommandLine[cmd.Name] {
				// The rest is another program's command line: its flags are its own.
				positional = append(positional, args[i:]...)
				break
			}
			positional = append(positional, a)
			continue
		}
		if i == len(args)-1 && takesValue(cmd.Flags, a) {
			// A value flag with no value: last, so that it is said so
			// (and not given the command's argument as its value).
			return slices.Concat(args[:1], globals, path, moved, []string{a})
		}
		i = take(i, cmd.Flags, &moved)
	}
	return slices.Concat(args[:1], globals, path, moved, positional)
}

// commandAt walks args down to the deepest subcommand they name: each flag
// met on the way goes to flag with the flags of its level (it returns the
// index of the flag's last word), each command's name to name. It returns
// that command, nil when args name none, and the index where the walk
// stopped: the first word after the command's name, or "--".
func commandAt(app *cli.App, args []string, flag func(i int, flags []cli.Flag) int, name func(string)) (*cli.Command, int) {
	cmds, flags := app.Commands, app.Flags
	var cmd *cli.Command
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") {
			i = flag(i, flags)
			continue
		}
		next := findCommand(cmds, a)
		if next == nil {
			break
		}
		cmd, cmds, flags = next, next.Subcommands, next.Flags
		name(a)
	}
	return cmd, i
}

// leafCommand is the deepest command args name ("image ls", "up", an
// alias's command), nil when they name none.
func leafCommand(app *cli.App, args []string) *cli.Command {
	skip := func(i int, flags []cli.Flag) int {
		if takesValue(flags, args[i]) {
			return i + 1
		}
		return i
	}
	leaf, _ := commandAt(app, args, skip, func(string) {})
	return leaf
}

const completionFlag = "--generate-bash-completion"

// runsCommandLine names the commands whose arguments are a command line to
// run ("lvslab sandbox sh -c ..."), left exactly as given.
var runsCommandLine = map[string]bool{"sandbox": true}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue tells whether arg ("--name", "-o"; not "--name=x") is one of
// flags that consumes the next argument.
func takesValue(flags []cli.Flag, arg string) bool {
	if strings.Contains(arg, "=") {
		return false
	}
	f := lookupFlag(flags, arg)
	_, isBool := f.(*cli.BoolFlag)
	return f != nil && !isBool
}

// lookupFlag is the flag of flags that arg ("-o", "--output=json") names.
func lookupFlag(flags []cli.Flag, arg string) cli.Flag {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}
