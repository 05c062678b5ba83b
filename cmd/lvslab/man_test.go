package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// manSection is the text of a man page's section from ".SH name" to the
// next ".SH".
func manSection(page, name string) string {
	_, rest, ok := strings.Cut(page, "\n.SH "+name+"\n")
	if !ok {
		return ""
	}
	body, _, _ := strings.Cut(rest, "\n.SH ")
	return body
}

// Every command has its description, examples and options in "man
// lvslab"; the page has ENVIRONMENT, FILES and EXIT STATUS; groff reads it
// without a warning.
func TestManPage(t *testing.T) {
	page := lvslabProcess(t, "man")
	if !strings.HasPrefix(page, ".nh\n.TH lvslab 1 ") {
		t.Fatalf("man:\n%.200s", page)
	}
	for _, sh := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", `"GLOBAL OPTIONS"`, "COMMANDS", "ENVIRONMENT", "FILES", `"EXIT STATUS"`, `"SEE ALSO"`} {
		if manSection(page, sh) == "" {
			t.Errorf("the man page has no section %s", sh)
		}
	}
	commands := manSection(page, "COMMANDS")
	for _, cmd := range newApp().VisibleCommands() {
		head := ".SS " + roffEscape("lvslab "+cmd.Name) + "\n"
		_, sect, ok := strings.Cut(commands, head)
		if !ok {
			t.Errorf("no subsection %q", head)
			continue
		}
		// Up to the next command of the same level (its subcommands are in).
		if i := regexp.MustCompile(`\n\.SS lvslab [a-z\\-]+\n`).FindStringIndex(sect); i != nil {
			sect = sect[:i[0]]
		}
		_, examples, ok := strings.Cut(sect, ".nf\n")
		if !ok || !strings.Contains(examples, roffEscape("lvslab "+cmd.Name)) {
			t.Errorf("lvslab %s: no example in the man page", cmd.Name)
		}
		checkManCommand(t, head+sect, "lvslab", cmd)
	}
	if strings.Contains(page, "sandbox-inner") || strings.Contains(page, "generate-bash-completion") {
		t.Error("the man page shows a hidden command or flag")
	}
	if _, err := exec.LookPath("groff"); err == nil {
		cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z")
		cmd.Stdin = strings.NewReader(page)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff: %v\n%s", err, out)
		}
	}
}

// checkManCommand checks that sect has cmd's subsection, usage, the first
// line of its description and each of its flags, then its subcommands'.
func checkManCommand(t *testing.T, sect, path string, cmd *cli.Command) {
	t.Helper()
	name := path + " " + cmd.Name
	wants := []string{".SS " + roffEscape(name) + "\n", roffEscape(cmd.Usage[1:])}
	if first, _, _ := strings.Cut(strings.TrimSpace(cmd.Description), "\n"); first != "" {
		wants = append(wants, roffLine(first)+"\n")
	}
	for _, f := range cmd.VisibleFlags() {
		if f.Names()[0] != "help" {
			wants = append(wants, `\fB`+roffEscape(flagWord(f.Names()[0]))+`\fR`)
		}
	}
	for _, w := range wants {
		if !strings.Contains(sect, w) {
			t.Errorf("%s: the man page lacks %q", name, w)
		}
	}
	for _, sub := range cmd.VisibleCommands() {
		checkManCommand(t, sect, name, sub)
	}
}

// The ENVIRONMENT section names every variable lvslab's code reads, and
// EXIT STATUS every exit code report names.
func TestManEnvironmentAndExitStatus(t *testing.T) {
	page := lvslabProcess(t, "man")
	env, exits := manSection(page, "ENVIRONMENT"), manSection(page, `"EXIT STATUS"`)
	reads := regexp.MustCompile(`os\.(?:Getenv|LookupEnv)\("([A-Z_]+)"\)|\bEnv[A-Z]\w*\s*=\s*"([A-Z_]+)"`)
	found := map[string]bool{}
	for _, src := range goSources(t) {
		for _, m := range reads.FindAllStringSubmatch(src, -1) {
			found[m[1]+m[2]] = true
		}
	}
	if len(found) < 5 {
		t.Fatalf("found only %v in the code", found)
	}
	for v := range found {
		if !strings.Contains(env, ".B "+roffEscape(v)+"\n") {
			t.Errorf("ENVIRONMENT lacks %s, which the code reads", v)
		}
	}
	src, err := os.ReadFile("../../provision/report/report.go")
	if err != nil {
		t.Fatal(err)
	}
	codes := regexp.MustCompile(`(?m)^\s*Exit\w+\s*=\s*(\d+)`).FindAllStringSubmatch(string(src), -1)
	if len(codes) < 4 {
		t.Fatalf("report names %d exit codes", len(codes))
	}
	for _, m := range codes {
		if !regexp.MustCompile(`\.TP\n\.B ` + m[1] + `\n\S`).MatchString(exits) {
			t.Errorf("EXIT STATUS lacks %s", m[1])
		}
	}
}

func TestRoffText(t *testing.T) {
	got := roffText("Runs it -- twice.\n.dot first\n\nExamples:\n   lvslab up    # \\o/\n     deeper\nafter")
	want := "Runs it \\-\\- twice.\n\\&.dot first\n.PP\nExamples:\n.RS 4\n.nf\nlvslab up    # \\eo/\n  deeper\n.fi\n.RE\nafter\n"
	if got != want {
		t.Errorf("roffText:\n%s\nwant:\n%s", got, want)
	}
	if name, text := unquoteUsage("a `NAME` here"); name != "NAME" || text != "a NAME here" {
		t.Errorf("unquoteUsage = %q, %q", name, text)
	}
}

// goSources is the text of every Go file of the module but its tests, by
// path.
func goSources(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		out[path] = string(src)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
