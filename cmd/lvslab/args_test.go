package main

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestInterspersedFlags(t *testing.T) {
	app := newApp()
	cases := []struct{ in, want []string }{
		{[]string{"lvslab", "graph", "tedu-dr", "--format", "dot"}, []string{"lvslab", "graph", "--format", "dot", "tedu-dr"}},
		{[]string{"lvslab", "graph", "tedu-dr", "-f=dot"}, []string{"lvslab", "graph", "-f=dot", "tedu-dr"}},
		{[]string{"lvslab", "plan", "x.yaml", "--os", "rhel", "-f", "script"}, []string{"lvslab", "plan", "--os", "rhel", "-f", "script", "x.yaml"}},
		// issue 13: two value flags before LAB
		{[]string{"lvslab", "plan", "--format", "script", "--node", "lvs1", "tedu-nat"}, []string{"lvslab", "plan", "--format", "script", "--node", "lvs1", "tedu-nat"}},
		{[]string{"lvslab", "plan", "--os", "rhel", "tedu-dr", "-o", "json"}, []string{"lvslab", "plan", "--os", "rhel", "-o", "json", "tedu-dr"}},
		// global flags after the command move before it
		{[]string{"lvslab", "up", "tedu-nat", "--debug", "--retain"}, []string{"lvslab", "--debug", "up", "--retain", "tedu-nat"}},
		{[]string{"lvslab", "plan", "--generate-bash-completion"}, []string{"lvslab", "plan", "--generate-bash-completion"}},
		{[]string{"lvslab", "validate"}, []string{"lvslab", "validate"}},
		{[]string{"lvslab", "sandbox", "sh", "-c", "x"}, []string{"lvslab", "sandbox", "sh", "-c", "x"}},
		{[]string{"lvslab", "sandbox", "sh", "--name", "x"}, []string{"lvslab", "sandbox", "sh", "--name", "x"}},
		{[]string{"lvslab", "sandbox", "--name", "n", "--", "sh", "-c", "x"}, []string{"lvslab", "sandbox", "--name", "n", "--", "sh", "-c", "x"}},
		{[]string{"lvslab", "__sandbox-inner", "sh", "-c", "x"}, []string{"lvslab", "__sandbox-inner", "sh", "-c", "x"}},
		{[]string{"lvslab", "nosuch", "a", "--b"}, []string{"lvslab", "nosuch", "a", "--b"}},
		// a value flag without its value stays last, to be said so
		{[]string{"lvslab", "up", "tedu-nat", "-n"}, []string{"lvslab", "up", "-n"}},
	}
	for _, c := range cases {
		if got := interspersed(app, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("interspersed(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// leaf is a command that runs, with the words that name it.
type leaf struct {
	path []string
	cmd  *cli.Command
}

func leaves(path []string, cmds []*cli.Command) []leaf {
	var out []leaf
	for _, c := range cmds {
		p := append(slices.Clone(path), c.Name)
		if len(c.Subcommands) > 0 {
			out = append(out, leaves(p, c.Subcommands)...)
		} else if !c.SkipFlagParsing {
			out = append(out, leaf{p, c})
		}
	}
	return out
}

// valueArg is a value for flag f that its type accepts, and how c reads it back.
func valueArg(f cli.Flag, i int) (arg string, read func(c *cli.Context) string) {
	name := f.Names()[0]
	switch f.(type) {
	case *cli.IntFlag:
		return fmt.Sprint(40 + i), func(c *cli.Context) string { return fmt.Sprint(c.Int(name)) }
	case *cli.DurationFlag:
		return fmt.Sprintf("%ds", 40+i), func(c *cli.Context) string { return c.Duration(name).String() }
	case *cli.StringSliceFlag:
		return fmt.Sprintf("v%d", i), func(c *cli.Context) string { return strings.Join(c.StringSlice(name), ",") }
	default:
		return fmt.Sprintf("v%d", i), func(c *cli.Context) string { return c.String(name) }
	}
}

// Every command's value flags work in any order: all before the
// positional argument, all after it, split around it, and with a global
// flag among them (issue 13: "plan --format script --node lvs1 tedu-nat").
func TestEveryCommandTakesFlagsInAnyOrder(t *testing.T) {
	app := newApp()
	tested := 0
	for _, l := range leaves(nil, app.Commands) {
		var flagArgs [][]string
		want := map[string]string{}
		reads := map[string]func(*cli.Context) string{}
		for i, f := range l.cmd.Flags {
			if _, isBool := f.(*cli.BoolFlag); isBool {
				continue
			}
			name := f.Names()[0]
			v, read := valueArg(f, i)
			spelled := "--" + name
			if i%2 == 1 && len(f.Names()) > 1 && len(f.Names()[1]) == 1 {
				spelled = "-" + f.Names()[1] // the short alias, every other flag
			}
			flagArgs = append(flagArgs, []string{spelled, v})
			want[name], reads[name] = v, read
		}
		if len(flagArgs) == 0 {
			continue
		}
		tested++
		pos := []string{"POS"}
		if runsCommandLine[l.cmd.Name] {
			pos = []string{"--", "sh", "-c", "true"}
		}
		var got map[string]string
		var gotArgs []string
		var quiet bool
		l.cmd.Before = nil // the values are not the flags' own (-o v1)
		l.cmd.Action = func(c *cli.Context) error {
			got = map[string]string{}
			for name, read := range reads {
				got[name] = read(c)
			}
			gotArgs, quiet = c.Args().Slice(), c.Bool("quiet")
			return nil
		}
		flat := slices.Concat(flagArgs...)
		orders := map[string][]string{
			"flags first": slices.Concat(l.path, flat, pos),
			"split":       slices.Concat(l.path, flagArgs[0], []string{"--quiet"}, pos[:1]),
		}
		if !runsCommandLine[l.cmd.Name] {
			orders["flags last"] = slices.Concat(l.path, pos, flat, []string{"-q"})
			orders["split"] = slices.Concat(l.path, flagArgs[0], []string{"--quiet"}, pos, slices.Concat(flagArgs[1:]...))
		} else {
			orders["split"] = slices.Concat(l.path, flagArgs[0], []string{"--quiet"}, slices.Concat(flagArgs[1:]...), pos)
		}
		for order, args := range orders {
			got, gotArgs = nil, nil
			var out strings.Builder
			app.Writer, app.ErrWriter = &out, &out
			if err := app.Run(interspersed(app, append([]string{"lvslab"}, args...))); err != nil {
				t.Errorf("lvslab %s (%s): %v\n%s", strings.Join(args, " "), order, err, out.String())
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("lvslab %s (%s): flags read %v, want %v", strings.Join(args, " "), order, got, want)
			}
			wantArgs := pos
			if pos[0] == "--" {
				wantArgs = pos[1:]
			}
			if !reflect.DeepEqual(gotArgs, wantArgs) {
				t.Errorf("lvslab %s (%s): arguments %q, want %q", strings.Join(args, " "), order, gotArgs, wantArgs)
			}
			if order != "flags first" && !quiet {
				t.Errorf("lvslab %s (%s): the global --quiet was lost", strings.Join(args, " "), order)
			}
		}
	}
	if tested < 10 {
		t.Fatalf("only %d commands with value flags found", tested)
	}
}
