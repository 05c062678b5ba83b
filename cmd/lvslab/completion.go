package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/labs"
)

// The completion scripts ask lvslab itself (urfave/cli's
// --generate-bash-completion) for the words that may follow: commands,
// flags, and embedded lab names where a LAB goes; a lab file's path
// completes as a file name.
const bashCompletion = `# bash completion for lvslab: source <(lvslab completion bash)
_lvslab() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local words=("${COMP_WORDS[@]:0:$COMP_CWORD}")
  local opts
  if [[ "$cur" == -* ]]; then
    opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o bashdefault -o default -F _lvslab lvslab
`

const zshCompletion = `#compdef lvslab
# zsh completion for lvslab: put it in $fpath as _lvslab, or source <(lvslab completion zsh)
_lvslab() {
  local -a opts
  local cur=${words[-1]}
  if [[ "$cur" == -* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
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

// fishLabs adds, to the script urfave/cli writes for fish, what lvslab
// itself answers after a command (the embedded labs where a LAB goes).
const fishLabs = `
# Words lvslab itself offers after a command (embedded labs where a LAB goes).
complete -c lvslab -n 'not __fish_lvslab_no_subcommand' -a '(eval (commandline -opc) --generate-bash-completion 2>/dev/null | string match -v -- "-*")'
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: `Completes commands, flags and the embedded labs' names (a lab file's path
completes as a file). "make install" installs all three.

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
				script = s + fishLabs
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

// addCompletion gives every leaf command a completer: its flags when the
// word starts with "-", else the embedded labs where it takes a LAB.
func addCompletion(cmds []*cli.Command) {
	for _, cmd := range cmds {
		if len(cmd.Subcommands) > 0 {
			addCompletion(cmd.Subcommands)
			continue
		}
		if cmd.BashComplete != nil || cmd.Hidden {
			continue
		}
		takesLab := strings.Contains(cmd.ArgsUsage, "LAB")
		cmd.BashComplete = func(c *cli.Context) {
			raw, _ := c.App.Metadata[rawArgsKey].([]string)
			if len(raw) > 2 && strings.HasPrefix(raw[len(raw)-2], "-") {
				seen := map[string]bool{}
				for _, f := range append(cmd.VisibleFlags(), c.App.VisibleFlags()...) {
					for _, n := range f.Names() {
						word := "--" + n
						if len(n) == 1 {
							word = "-" + n
						}
						if !seen[word] {
							seen[word] = true
							fmt.Fprintln(c.App.Writer, word)
						}
					}
				}
				return
			}
			if takesLab {
				for _, name := range labs.Names() {
					fmt.Fprintln(c.App.Writer, name)
				}
			}
		}
	}
}
