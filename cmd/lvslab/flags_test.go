package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// flagMeanings are words the usage of a flag names on every command that
// has it: what it means, once.
var flagMeanings = map[string]string{
	"timeout":      "SSH",
	"loop-timeout": "request loop",
	"node":         "NODE",
	"lab":          "LAB",
	"requests":     "requests per service",
	"output":       "FORMAT",
	"connect":      "URI",
	"as":           "under this lab `NAME`",
}

// issue 25: one meaning per flag name and per short form across all
// commands: a short form is one long name's everywhere, a name is one kind
// of flag, and the names above say the same thing everywhere.
func TestOneMeaningPerFlag(t *testing.T) {
	short := map[string]string{} // -n: node
	kind := map[string]string{}  // node: *cli.StringSliceFlag
	for _, l := range leaves(nil, newApp().Commands) {
		where := strings.Join(l.path, " ")
		for _, f := range l.cmd.VisibleFlags() {
			names := f.Names()
			name := names[0]
			for _, a := range names[1:] {
				if prev, ok := short[a]; ok && prev != name {
					t.Errorf("%s: -%s is --%s, elsewhere --%s", where, a, name, prev)
				}
				short[a] = name
			}
			k := fmt.Sprintf("%T", f)
			if prev, ok := kind[name]; ok && prev != k {
				t.Errorf("%s: --%s is a %s, elsewhere a %s", where, name, k, prev)
			}
			kind[name] = k
			usage := f.(cli.DocGenerationFlag).GetUsage()
			if word, ok := flagMeanings[name]; ok && !strings.Contains(usage, word) {
				t.Errorf("%s: --%s says %q, not %q", where, name, usage, word)
			}
		}
		// A LAB is given the same way everywhere: as the argument, or --lab/-l.
		if strings.Contains(l.cmd.ArgsUsage, "LAB") && lookupFlag(l.cmd.Flags, "-l") == nil {
			t.Errorf("%s takes a LAB but no --lab/-l", where)
		}
	}
	for s, want := range map[string]string{"n": "node", "l": "lab", "o": "output", "r": "requests", "c": "connect"} {
		if short[s] != want {
			t.Errorf("-%s is --%s, want --%s", s, short[s], want)
		}
	}
}

// LAB as the argument or --lab/-l is the same lab; both, different, is an
// error; NODE [LAB] commands take it second.
func TestLabArgumentOrFlag(t *testing.T) {
	_, byArg, _ := lvslab(t, "plan", "tedu-dr", "-o", "json")
	for _, args := range [][]string{{"plan", "--lab", "tedu-dr", "-o", "json"}, {"plan", "-o", "json", "-l", "tedu-dr"}, {"plan", "tedu-dr", "-l", "tedu-dr", "-o", "json"}} {
		if code, out, stderr := lvslab(t, args...); code != 0 || out != byArg {
			t.Errorf("lvslab %s: exit %d, %s; differs from plan tedu-dr", strings.Join(args, " "), code, stderr)
		}
	}
	if code, _, stderr := lvslab(t, "validate", "tedu-dr", "--lab", "tedu-nat"); code != 2 || !strings.Contains(stderr, "two labs given, tedu-dr and --lab tedu-nat: give one") {
		t.Errorf("validate tedu-dr --lab tedu-nat: exit %d, %q", code, stderr)
	}
	for _, args := range [][]string{
		{"drill", "fail", "web1", "tedu-dr", "-l", "tedu-nat"},
		{"console", "web1", "tedu-dr", "--lab", "tedu-nat"},
	} {
		if code, _, stderr := lvslab(t, args...); code != 2 || !strings.Contains(stderr, "two labs given, tedu-dr and --lab tedu-nat") {
			t.Errorf("lvslab %s: exit %d, %q", strings.Join(args, " "), code, stderr)
		}
	}
}

// issue 25: a flag no command knows is one line on stderr with the way
// out, exit code 2, nothing on stdout (no help for a pipe to take).
func TestUnknownFlagIsOneLine(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"up", "--outptu", "json"}, `lvslab: unknown flag --outptu for "up": did you mean --output? (see lvslab up --help)`},
		{[]string{"drill", "fail", "web1", "--requets", "3"}, `lvslab: unknown flag --requets for "drill fail": did you mean --requests? (see lvslab drill fail --help)`},
		{[]string{"verify", "--zzz"}, `lvslab: unknown flag --zzz for "verify" (see lvslab verify --help)`},
		{[]string{"--bogus", "labs"}, `lvslab: unknown flag --bogus (see lvslab --help)`},
		{[]string{"plan", "-o"}, `lvslab: flag -o for "plan" needs a value (see lvslab plan --help)`},
		{[]string{"verify", "-r", "many"}, `lvslab: verify: invalid value "many" for flag -r: parse error (see lvslab verify --help)`},
		// -n is --node now: up's --dry-run has no short form.
		{[]string{"up", "tedu-nat", "-n"}, `lvslab: flag -n for "up" needs a value (see lvslab up --help)`},
	} {
		code, stdout, stderr := lvslab(t, c.args...)
		if code != 2 || stdout != "" || stderr != c.want+"\n" {
			t.Errorf("lvslab %s: exit %d, stdout %q, stderr %q; want 2, nothing, %q", strings.Join(c.args, " "), code, stdout, stderr, c.want)
		}
	}
}

// --timeout was also verify's bound of the request loop: --loop-timeout
// now, the old spelling still read.
func TestLoopTimeoutKeepsItsOldName(t *testing.T) {
	app := newApp()
	verify := findCommand(app.Commands, "verify")
	var got []string
	verify.Before, verify.Action = nil, func(c *cli.Context) error {
		got = append(got, loopTimeout(c).String())
		return nil
	}
	for _, args := range [][]string{{"verify", "--loop-timeout", "7s"}, {"verify", "--timeout", "8s"}} {
		if err := app.Run(append([]string{"lvslab"}, args...)); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(got, " ") != "7s 8s" {
		t.Errorf("loop timeouts read %v", got)
	}
	_, help, _ := lvslab(t, "verify", "--help")
	if strings.Contains(help, "--timeout") || !strings.Contains(help, "--loop-timeout") || !strings.Contains(help, "--requests value, -r value") {
		t.Errorf("verify --help:\n%s", help)
	}
}

// Every command that has -o refuses a format it does not have before its
// action runs (the command table checks it for all of them: no action
// repeats the check, none connects first).
func TestEveryOutputIsCheckedBeforeTheAction(t *testing.T) {
	app := newApp()
	checked := 0
	for _, l := range leaves(nil, app.Commands) {
		if lookupFlag(l.cmd.Flags, "-o") == nil {
			continue
		}
		ran := false
		l.cmd.Action = func(*cli.Context) error { ran = true; return nil }
		var out strings.Builder
		app.Writer, app.ErrWriter = &out, &out
		args := append(append([]string{"lvslab"}, l.path...), "-o", "yaml")
		err := app.Run(args)
		if ran || err == nil || !strings.Contains(err.Error(), `--output "yaml": use`) {
			t.Errorf("lvslab %s -o yaml: action ran %v, error %v", strings.Join(l.path, " "), ran, err)
		}
		checked++
	}
	if checked < 20 {
		t.Errorf("only %d commands with -o", checked)
	}
}
