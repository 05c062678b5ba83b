package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/sandbox"
)

func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the manual page (roff), made from the commands' own help",
		Hidden: true, // "make install" runs it; people read "man lvslab"
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprint(c.App.Writer, manPage(c.App))
			return err
		},
	}
}

// manEntry is one item of a list section: a name and what it means.
type manEntry struct{ name, what string }

// manEnvironment is every variable lvslab reads (a test holds it to the
// code's os.Getenv calls and Env constants).
var manEnvironment = []manEntry{
	{paths.EnvHome, "lvslab's state folder: each lab's SSH key and pinned host keys (labs/LAB), the class records (classes/) and the started sandbox's record (" + sandbox.StateFileName + "); for a user other than root, the pool (pool/) and the console logs (log/) too. Default " + systemFolders.Home + " for root, else $XDG_DATA_HOME/lvslab."},
	{paths.EnvImageDir, "where built images live. Default " + systemFolders.Images + " for root, else $XDG_CACHE_HOME/lvslab/images."},
	{"XDG_DATA_HOME", "the base of the state folder of a user other than root (default ~/.local/share)."},
	{"XDG_CACHE_HOME", "the base of the image folder of a user other than root (default ~/.cache)."},
	{"LIBVIRT_DEFAULT_URI", "the libvirt a command connects to without --connect (default qemu:///system, as virsh). Set, it also keeps a command out of a started sandbox."},
	{host.EnvMgmtPool, "the CIDR each new lab's management /24 is taken from (up --mgmt-pool; default " + host.DefaultMgmtPool + ")."},
	{sandbox.EnvName, "set by lvslab sandbox to the sandbox's namespace for the commands it runs inside; lvslab then never enters a started sandbox again."},
	{sandbox.EnvHypervisors, "set by lvslab sandbox --hypervisors N for its command: the simulated hosts' libvirt URIs, space-separated."},
	{"SSH_AUTH_SOCK", "the ssh-agent whose keys lvslab also offers to a remote hypervisor it jumps through (qemu+ssh)."},
	{"TERM", "progress redraws its lines only on a terminal whose TERM is set and not dumb; lvslab ssh gives the node's terminal this type."},
	{"SHELL", "the shell lvslab sandbox shell runs (default /bin/sh)."},
}

// systemFolders are root's folders, which the page names.
var systemFolders = paths.System()

// manFiles are the host paths lvslab keeps things in.
var manFiles = []manEntry{
	{systemFolders.LabDir("LAB") + "/", "a lab's SSH key (id_ed25519) and its nodes' pinned host keys (known_hosts); in a sandbox, private to it."},
	{systemFolders.Images + "/NAME/", "a built image: disk.qcow2, vmlinuz, initrd.img, image.json."},
	{systemFolders.ClassDir() + "/", "class records (which copy is whose, on which host), credentials and the class server's keys."},
	{systemFolders.Home + "/" + sandbox.StateFileName, "the sandbox lvslab sandbox start left running: its namespace and the pids of the daemons it started."},
	{systemFolders.ConsoleLog("LAB", "NODE"), "each VM's serial console log."},
	{systemFolders.Pool, "the libvirt storage pool " + paths.DefaultPool + ": the labs' disks (linked clones) and seeds."},
}

// manExit is the meaning of each of report's exit codes.
var manExit = []struct {
	code int
	what string
}{
	{report.ExitPass, "success: the command did what it says, every check passed."},
	{report.ExitFail, "the lab or a verdict is wrong: a check failed, a VM is down, a lab file is invalid, or the named lab does not exist."},
	{report.ExitCannot, "lvslab could not run: a bad argument, an unknown command or flag, no libvirt, a node it could not reach."},
	{report.ExitSandbox, "lvslab sandbox could not make or enter the sandbox."},
}

// manPage is the manual: the commands' own help in roff, with the
// environment, files and exit status.
func manPage(app *cli.App) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".nh\n.TH lvslab 1 \"\" \"lvslab %s\" \"User Commands\"\n.nh\n.ad l\n", roffEscape(app.Version))
	fmt.Fprintf(&b, ".SH NAME\nlvslab \\- %s\n", roffEscape(app.Usage))
	b.WriteString(".SH SYNOPSIS\n.B lvslab\n[\\fB\\-\\-debug\\fR | \\fB\\-\\-quiet\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]\n")
	b.WriteString(".SH DESCRIPTION\n" + roffText(app.Description))
	b.WriteString(".SH \"GLOBAL OPTIONS\"\n" + roffFlags(app.VisibleFlags()))
	b.WriteString(".SH COMMANDS\n")
	manCommands(&b, "lvslab", app.VisibleCommands())
	b.WriteString(".SH ENVIRONMENT\n" + roffList(manEnvironment))
	b.WriteString(".SH FILES\n" + roffLine("For root; another user's state, pool and console logs are under $XDG_DATA_HOME/lvslab, images under $XDG_CACHE_HOME/lvslab/images.") + "\n" + roffList(manFiles))
	b.WriteString(".SH \"EXIT STATUS\"\n")
	for _, e := range manExit {
		fmt.Fprintf(&b, ".TP\n.B %d\n%s\n", e.code, roffEscape(e.what))
	}
	b.WriteString(".PP\n" + roffEscape("lvslab ssh NODE -- CMD and lvslab sandbox -- COMMAND exit with the command's own status.") + "\n")
	b.WriteString(".SH \"SEE ALSO\"\n.BR ipvsadm (8),\n.BR virsh (1),\n.BR ip\\-netns (8),\n.BR nsenter (1),\n.BR ssh (1)\n")
	return b.String()
}

// manCommands writes a subsection per command under path, then its
// subcommands'.
func manCommands(b *strings.Builder, path string, cmds []*cli.Command) {
	for _, c := range cmds {
		name := path + " " + c.Name
		fmt.Fprintf(b, ".SS %s\n\\fB%s\\fR", roffEscape(name), roffEscape(name))
		if len(c.VisibleFlags()) > 1 { // more than --help
			b.WriteString(" [\\fIOPTIONS\\fR]")
		}
		if c.ArgsUsage != "" {
			b.WriteString(" " + roffEscape(c.ArgsUsage))
		}
		b.WriteString("\n.PP\n" + roffEscape(strings.ToUpper(c.Usage[:1])+c.Usage[1:]) + ".\n")
		if aliases := c.Aliases; len(aliases) > 0 {
			b.WriteString("Also: " + roffEscape(strings.Join(aliases, ", ")) + ".\n")
		}
		if c.Description != "" {
			b.WriteString(".PP\n" + roffText(c.Description))
		}
		if flags := roffFlags(c.VisibleFlags()); flags != "" {
			b.WriteString(".PP\nOptions:\n" + flags)
		}
		manCommands(b, name, c.VisibleCommands())
	}
}

// roffText turns a help text into roff: paragraphs filled, indented lines
// (examples, the class file) kept as they are.
func roffText(text string) string {
	var b strings.Builder
	pre := "" // the indentation of the open example block
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		switch {
		case strings.TrimSpace(line) == "":
			if pre != "" {
				b.WriteString(".fi\n.RE\n")
				pre = ""
			}
			b.WriteString(".PP\n")
			continue
		case indent == "" && pre != "":
			b.WriteString(".fi\n.RE\n")
			pre = ""
		case indent != "" && pre == "":
			b.WriteString(".RS 4\n.nf\n")
			pre = indent
		}
		b.WriteString(roffLine(strings.TrimPrefix(line, pre)) + "\n")
	}
	if pre != "" {
		b.WriteString(".fi\n.RE\n")
	}
	return b.String()
}

// roffFlags lists flags as tagged paragraphs: names, value, usage, default.
func roffFlags(flags []cli.Flag) string {
	var b strings.Builder
	for _, f := range flags {
		df, ok := f.(cli.DocGenerationFlag)
		if !ok || f.Names()[0] == "help" {
			continue
		}
		value, usage := unquoteUsage(df.GetUsage())
		if value == "" && df.TakesValue() {
			value = "value"
		}
		var names []string
		for _, n := range f.Names() {
			names = append(names, `\fB`+roffEscape(flagWord(n))+`\fR`)
		}
		head := strings.Join(names, ", ")
		if value != "" {
			head += ` \fI` + roffEscape(value) + `\fR`
		}
		def := df.GetDefaultText()
		if def == "" && df.TakesValue() {
			def = df.GetValue()
		}
		if df.TakesValue() && def != "" && def != "0" && def != "0s" && def != `""` {
			usage += " (default: " + strings.Trim(def, `"`) + ")"
		}
		fmt.Fprintf(&b, ".TP\n%s\n%s\n", head, roffLine(usage))
	}
	return b.String()
}

// flagWord is a flag name as typed: "-o", "--output".
func flagWord(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// unquoteUsage splits a flag's usage into its `NAME` placeholder and the
// usage without the backquotes, as urfave/cli shows it.
func unquoteUsage(usage string) (name, text string) {
	before, rest, ok := strings.Cut(usage, "`")
	if !ok {
		return "", usage
	}
	name, after, ok := strings.Cut(rest, "`")
	if !ok {
		return "", usage
	}
	return name, before + name + after
}

// roffList is entries as tagged paragraphs.
func roffList(entries []manEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", roffEscape(e.name), roffLine(e.what))
	}
	return b.String()
}

// roffLine is one line of text, escaped, that roff never takes for a
// request.
func roffLine(s string) string {
	s = roffEscape(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffEscape keeps backslashes and hyphens as typed (a flag copied from
// the page must work).
func roffEscape(s string) string {
	return strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
}
