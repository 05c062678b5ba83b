package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/urfave/cli/v2"
)

// Output formats shared by the commands that list or report.
const (
	outputText = report.OutputText
	outputJSON = report.OutputJSON
)

// outputFlags are -o/--output, the one name every command that lists or
// reports uses for its format (the first of formats is the default), and
// the hidden --format/-f that plan and graph had before, so old scripts work.
func outputFlags(formats ...string) []cli.Flag {
	return []cli.Flag{
		choice(&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: formats[0], Usage: "`FORMAT`: " + orList(formats)}, formats...),
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Hidden: true, Usage: "old name of --output"},
	}
}

// output is the format asked for, checked against formats (exit code 2).
func output(c *cli.Context, formats ...string) (string, error) {
	name, format := "--output", c.String("output")
	if c.IsSet("format") && !c.IsSet("output") {
		name, format = "--format", c.String("format")
	}
	if !slices.Contains(formats, format) {
		return "", cannot(fmt.Sprintf("%s %q: use %s", name, format, orList(formats)))
	}
	return format, nil
}

// outputOf is the format the command's -o (or the old --format) asks for,
// checked before its action ran (command.cli).
func outputOf(c *cli.Context) string {
	if c.IsSet("format") && !c.IsSet("output") {
		return c.String("format")
	}
	return c.String("output")
}

// writeJSON writes v indented, the form every -o json takes.
func writeJSON(w io.Writer, v any) error { return report.WriteJSON(w, v) }

// orList is "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// errorJSON is what -o json prints when the command failed before it wrote
// its own result.
type errorJSON struct {
	Error string `json:"error"`
}

// watched is stdout, remembering whether anything was written to it.
type watched struct {
	io.Writer
	wrote bool
}

func (w *watched) Write(p []byte) (int, error) {
	w.wrote = w.wrote || len(p) > 0
	return w.Writer.Write(p)
}

// asksJSON tells whether args (flags before arguments, as interspersed
// leaves them) give a command -o json (or the old --format json).
func asksJSON(app *cli.App, args []string) bool {
	cmds, flags := app.Commands, app.Flags
	json := false
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return json
		case strings.HasPrefix(a, "-") && len(a) > 1:
			f := lookupFlag(flags, a)
			_, value, inline := strings.Cut(a, "=")
			if f != nil && !inline && takesValue(flags, a) && i+1 < len(args) {
				i++
				value = args[i]
			}
			if f != nil && (slices.Contains(f.Names(), "output") || slices.Contains(f.Names(), "format")) {
				json = value == outputJSON
			}
		default:
			next := findCommand(cmds, a)
			if next == nil {
				return json
			}
			cmds, flags = next.Subcommands, next.Flags
		}
	}
	return json
}
