package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
)

// The completion scripts ask lvslab itself (urfave/cli's
// --generate-bash-completion, after the words typed so far and the one
// being completed, even empty) for the words that may follow: commands,
// flags, a flag's values (-o's formats, --os, --node's nodes, ...), and
// embedded lab names or the lab's nodes where a LAB or NODE goes; a lab
// file's path completes as a file name.
const bashCompletion = `# bash completion for lvslab: source <(lvslab completion bash)
_lvslab() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local words=("${COMP_WORDS[@]:0:$COMP_CWORD}")
  local opts
  opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o bashdefault -o default -F _lvslab lvslab
`

const zshCompletion = `#compdef lvslab
# zsh completion for lvslab: put it in $fpath as _lvslab, or source <(lvslab completion zsh)
_lvslab() {
  local -a opts
  local cur=${words[-1]}
  opts=("${(@f)$(${words[@]:0:#words[@]-1} "$cur" --generate-bash-completion 2>/dev/null)}")
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
if [[ "${funcstack[1]}" == "_lvslab" ]]; then
  _lvslab "$@"
else
  compdef _lvslab lvslab
fi
`

// fishAsk is fish asking lvslab for the words that may stand at the cursor.
const fishAsk = `(eval (commandline -opc) (commandline -ct | string escape) --generate-bash-completion 2>/dev/null | string match -v -- "-*")`

// fishLabs adds, to the script urfave/cli writes for fish, what lvslab
// itself answers after a command (labs, nodes).
const fishLabs = `
# Words lvslab itself offers after a command (labs, nodes).
complete -c lvslab -n 'not __fish_lvslab_no_subcommand' -a '` + fishAsk + `'
`

// fishValues gives each flag that takes a value, in the script urfave/cli
// writes for fish, the values lvslab offers for it (fish asks only the
// flag's own completion for them).
func fishValues(script string) string {
	lines := strings.Split(script, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "complete -c lvslab ") && (strings.Contains(l, " -r -d ") || strings.HasSuffix(l, " -r")) {
			lines[i] = l + " -a '" + fishAsk + "'"
		}
	}
	return strings.Join(lines, "\n")
}

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: `Completes commands, flags, a flag's values (-o's formats, --os, --node's nodes
of the lab, --lab's embedded labs, ...) and the embedded labs' names or the
lab's nodes where a LAB or NODE goes (a lab file's path completes as a
file). "make install" installs all three.

Examples:
   source <(lvslab completion bash)                  # this shell only
   lvslab completion bash > /etc/bash_completion.d/lvslab
   lvslab completion zsh > "${fpath[1]}/_lvslab"
   lvslab completion fish > ~/.config/fish/completions/lvslab.fish`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cannot("lvslab completion: name one shell: bash, zsh or fish")
			}
			var script string
			switch shell := c.Args().First(); shell {
			case "bash":
				script = bashCompletion
			case "zsh":
				script = zshCompletion
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return cannot(fmt.Errorf("lvslab completion fish: %w", err))
				}
				script = fishValues(s) + fishLabs
			default:
				return cannot(fmt.Sprintf("lvslab completion: no completion for %q: use bash, zsh or fish", shell))
			}
			_, err := fmt.Fprint(c.App.Writer, script)
			return err
		},
		BashComplete: func(c *cli.Context) {
			fmt.Fprintln(c.App.Writer, "bash\nzsh\nfish")
		},
	}
}

// rawArgsKey keeps the command line as typed, for the completers: the
// word being completed is the one before --generate-bash-completion.
const rawArgsKey = "lvslab.raw-args"

// addCompletion gives every leaf command a completer (complete).
func addCompletion(cmds []*cli.Command) {
	onEvery(cmds, func(cmd *cli.Command) {
		if len(cmd.Subcommands) == 0 && cmd.BashComplete == nil && !cmd.Hidden {
			cmd.BashComplete = func(c *cli.Context) {
				raw, _ := c.App.Metadata[rawArgsKey].([]string)
				for _, w := range completions(c.App, cmd, raw) {
					fmt.Fprintln(c.App.Writer, w)
				}
			}
		}
	})
}

// completions are the words that may stand where the word before
// --generate-bash-completion (the last of raw) stands: cmd's flags for a
// word that starts with "-", a flag's values after it, else what cmd's
// argument there is (its ArgsUsage): the embedded labs for a LAB, the
// lab's nodes for a NODE.
func completions(app *cli.App, cmd *cli.Command, raw []string) []string {
	if len(raw) < 3 {
		return nil
	}
	words := raw[1 : len(raw)-1] // without "lvslab" and the request
	cur, before := words[len(words)-1], words[:len(words)-1]
	flags := append(slices.Clone(cmd.VisibleFlags()), app.VisibleFlags()...)
	if strings.HasPrefix(cur, "-") {
		return flagWords(flags)
	}
	typed := typedArgs(app, cmd, before, flags)
	if len(before) > 0 && strings.HasPrefix(before[len(before)-1], "-") && takesValue(flags, before[len(before)-1]) {
		f := lookupFlag(flags, before[len(before)-1])
		if ch, ok := f.(*choiceFlag); ok {
			return ch.choices
		}
		switch f.Names()[0] {
		case "lab", "from":
			return labs.Names()
		case "node":
			return labNodes(typed)
		}
		return nil
	}
	if n := len(typed.args); n < len(typed.slots) {
		switch typed.slots[n] {
		case "LAB":
			return labs.Names()
		case "NODE":
			return labNodes(typed)
		}
	}
	return nil
}

// typed is what a command line holds so far: the command's arguments,
// what its ArgsUsage calls each, and --lab's value.
type typed struct {
	args, slots []string
	lab         string
}

// typedArgs reads the words before the one being completed: the
// command's path and flags (with their values) are not its arguments.
func typedArgs(app *cli.App, cmd *cli.Command, before []string, flags []cli.Flag) typed {
	t := typed{slots: strings.Fields(strings.NewReplacer("[", "", "]", "").Replace(cmd.ArgsUsage))}
	cmds, inPath := app.Commands, true
	for i := 0; i < len(before); i++ {
		w := before[i]
		next := findCommand(cmds, w)
		switch {
		case strings.HasPrefix(w, "-"):
			_, value, inline := strings.Cut(w, "=")
			if !inline && takesValue(flags, w) && i+1 < len(before) {
				i++
				value = before[i]
			}
			if f := lookupFlag(flags, w); f != nil && f.Names()[0] == "lab" {
				t.lab = value
			}
		case inPath && next != nil:
			inPath, cmds = next != cmd, next.Subcommands
		default:
			inPath = false
			t.args = append(t.args, w)
		}
	}
	return t
}

// labNodes are the nodes of the lab the command line names (--lab, else
// its LAB argument, else the default lab), when it is a lab file or an
// embedded lab.
func labNodes(t typed) []string {
	ref := t.lab
	for i, a := range t.args {
		if ref == "" && i < len(t.slots) && t.slots[i] == "LAB" {
			ref = a
		}
	}
	lab, err := labs.Load(ref)
	if err != nil {
		return nil
	}
	var names []string
	for _, n := range lab.Nodes {
		names = append(names, n.Name)
	}
	return names
}

// flagWords are flags as typed: --name, -n.
func flagWords(flags []cli.Flag) []string {
	var out []string
	for _, f := range flags {
		for _, n := range f.Names() {
			if w := dashed(n); !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}
