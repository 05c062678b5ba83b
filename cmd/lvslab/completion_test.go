package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/topology/testkit/shtest"
)

// completer runs a shell script with the binary under test as "lvslab" on
// the PATH and returns the words it prints; it skips when the shell is missing.
func completer(t *testing.T, shell string) func(script string, args ...string) []string {
	t.Helper()
	shtest.Need(t, shell)
	env := lvslabOnPath(t, t.TempDir())
	return func(script string, args ...string) []string {
		t.Helper()
		argv := append([]string{"-c", script, shell}, args...) // bash and zsh: $0 first
		if shell == "fish" {
			argv = append([]string{"-c", script}, args...)
		}
		cmd := exec.Command(shell, argv...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", shell, err, out)
		}
		var words []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if w, _, _ := strings.Cut(line, "\t"); w != "" {
				words = append(words, w) // fish: "word<TAB>description"
			}
		}
		return words
	}
}

// completionCases are what every shell must offer, as each shell's words.
var completionCases = []struct {
	words []string
	want  []string
}{
	{[]string{"lvslab", "pl"}, []string{"plan"}},
	{[]string{"lvslab", "up", "tedu-"}, []string{"tedu-dr", "tedu-nat", "tedu-tun"}},
	{[]string{"lvslab", "plan", "tedu-dr", "--o"}, []string{"--os", "--output"}},
	{[]string{"lvslab", "image", ""}, []string{"build", "ls", "rm"}},
	{[]string{"lvslab", "completion", "f"}, []string{"fish"}},
	// issue 25: a flag's values, and the lab's nodes where a NODE goes.
	{[]string{"lvslab", "plan", "--os", ""}, []string{"debian", "rhel"}},
	{[]string{"lvslab", "plan", "tedu-dr", "-o", "m"}, []string{"markdown"}},
	{[]string{"lvslab", "verify", "--output", ""}, []string{"text", "json"}},
	{[]string{"lvslab", "ssh", "w"}, []string{"web1", "web2"}},
	{[]string{"lvslab", "plan", "tedu-tun", "-n", ""}, []string{"client1", "lvs1", "web1", "web2"}},
	{[]string{"lvslab", "exec", "--lab", "twonic-dr", "--node", "real"}, []string{"realserver1", "realserver2"}},
	{[]string{"lvslab", "drill", "fail", "web1", "tedu-k"}, []string{"tedu-keepalived-dr", "tedu-keepalived-web"}},
	{[]string{"lvslab", "up", "--progress", ""}, []string{"auto", "tty", "plain", "json"}},
	{[]string{"lvslab", "sandbox", "start", "--mask-kvm", ""}, []string{"auto", "always", "never"}},
}

// The completion scripts, run by each shell against this very binary.
func TestShellCompletion(t *testing.T) {
	scripts := map[string]string{
		"bash": `source <(lvslab completion bash)
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _lvslab; printf '%s\n' "${COMPREPLY[@]}"`,
		// zsh: _describe and compdef stand in for the completion system.
		"zsh": `compdef() {}; _describe() { print -l -- "${(@P)2}" }; _files() {}
source <(lvslab completion zsh); words=("$@"); _lvslab`,
		"fish": `lvslab completion fish | source; complete -C "$argv"`,
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			complete := completer(t, shell)
			for _, c := range completionCases {
				args := c.words
				if shell == "fish" {
					args = []string{strings.Join(c.words, " ")}
				}
				got := complete(scripts[shell], args...)
				last := c.words[len(c.words)-1]
				for _, w := range c.want {
					if !slices.Contains(got, w) {
						t.Errorf("completing %q: %q lacks %q", c.words, got, w)
					}
				}
				for _, g := range got {
					// bash and fish filter by the typed prefix themselves; zsh's _describe does.
					if shell != "zsh" && !strings.HasPrefix(g, last) {
						t.Errorf("completing %q offers %q", c.words, g)
					}
				}
			}
			if got := complete(scripts[shell], "lvslab", "plan", "--f"); slices.Contains(got, "--format") {
				t.Errorf("the hidden --format is offered: %q", got)
			}
		})
	}
}

func TestCompletionScriptsAndManPage(t *testing.T) {
	code, zsh, _ := lvslab(t, "completion", "zsh")
	if code != 0 || !strings.HasPrefix(zsh, "#compdef lvslab\n") || !strings.Contains(zsh, "--generate-bash-completion") {
		t.Errorf("completion zsh: exit %d\n%s", code, zsh)
	}
	fish := lvslabProcess(t, "completion", "fish")
	if !strings.Contains(fish, "complete -c lvslab") || !strings.Contains(fish, "'plan'") {
		t.Errorf("fish completion:\n%.500s", fish)
	}
	if code, _, stderr := lvslab(t, "completion", "tcsh"); code != 2 || !strings.Contains(stderr, "use bash, zsh or fish") {
		t.Errorf("completion tcsh: exit %d %q", code, stderr)
	}
	// The man page: TestManPage.
}
