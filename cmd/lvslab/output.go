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
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: formats[0], Usage: "`FORMAT`: " + orList(formats)},
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

// writeJSON writes v indented, the form every -o json takes.
func writeJSON(w io.Writer, v any) error { return report.WriteJSON(w, v) }

// orList is "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
