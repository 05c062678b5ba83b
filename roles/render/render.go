package render

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/shell"
	"github.com/lvslab/lvslab/topology"
)

// Plan formats.
const (
	FormatText   = "text"
	FormatScript = "script"
	FormatJSON   = "json"
)

// Formats lists the plan formats.
var Formats = []string{FormatText, FormatScript, FormatJSON}

// NodePlan is one node's steps on an OS family.
type NodePlan struct {
	Node    string `json:"node"`
	Role    string `json:"role"`
	Address string `json:"address"` // where to reach it (its first configured address)
	OS      string `json:"os"`
	// Preconditions: what the node must already be (lvslab's VMs are).
	Preconditions []catalog.Precondition `json:"preconditions"`
	Steps         []catalog.Step         `json:"steps"`
}

// LabPlan is every node's steps, in file order.
type LabPlan struct {
	Lab   string     `json:"lab"`
	File  string     `json:"file"`
	OS    string     `json:"os"`
	Nodes []NodePlan `json:"nodes"`
}

// Plan computes every node's steps on an OS family.
func Plan(lab *topology.Lab, osFamily string) *LabPlan {
	p := &LabPlan{Lab: lab.Name, File: lab.File, OS: osFamily}
	for _, st := range roles.Desired(lab) {
		p.Nodes = append(p.Nodes, NodePlan{
			Node:          st.Name,
			Role:          st.Role,
			Address:       st.PrimaryHost(),
			OS:            osFamily,
			Preconditions: catalog.Preconditions(st, osFamily),
			Steps:         catalog.Steps(st, osFamily),
		})
	}
	return p
}

// Render formats a plan: text (a handout), script (one sh script per node,
// concatenated with a separating comment) or json.
func (p *LabPlan) Render(format string) (string, error) {
	switch format {
	case FormatText:
		return p.Text(), nil
	case FormatScript:
		var parts []string
		for i := range p.Nodes {
			parts = append(parts, p.Nodes[i].Script(p.Lab))
		}
		return strings.Join(parts, "\n"), nil
	case FormatJSON:
		b, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return "", err
		}
		return string(b) + "\n", nil
	}
	return "", fmt.Errorf("unknown format %q: use %s", format, strings.Join(Formats, ", "))
}

// Text is the handout: per node, in order, what a student types.
func (p *LabPlan) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Lab %s (%s), %s guests: what to type on each node, in order.\n", p.Lab, p.File, p.OS)
	for _, n := range p.Nodes {
		b.WriteString("\n")
		fmt.Fprintf(&b, "## %s (%s)\n", n.Node, n.Role)
		b.WriteString(n.reach())
		if len(n.Preconditions) > 0 {
			b.WriteString("# Before you start, it has (lvslab's own VMs do):\n")
			for _, pc := range n.Preconditions {
				b.WriteString("#   - " + pc.Text + "\n")
			}
		}
		for i, s := range n.Steps {
			fmt.Fprintf(&b, "\n# %d. %s: %s\n", i+1, s.Name, s.Comment)
			if s.Readdress {
				b.WriteString("# (this changes an address: an SSH session over it may hang; use the console or reconnect)\n")
			}
			if s.File != nil {
				writeHeredoc(&b, s.File, "")
			}
			cmds := s.Apply
			if len(s.Handout) > 0 {
				cmds = s.Handout
			}
			for _, c := range cmds {
				b.WriteString(c + "\n")
			}
		}
	}
	return b.String()
}

// firstReaddress is the number (1-based) of the first step that changes an
// address, 0 when none does.
func (n *NodePlan) firstReaddress() int {
	for i, s := range n.Steps {
		if s.Readdress {
			return i + 1
		}
	}
	return 0
}

// reach says how to get to the node: the handout cannot know the address
// a re-used VM has now (from an earlier lab), only the one it gets.
func (n *NodePlan) reach() string {
	first := n.firstReaddress()
	if first == 0 || n.Address == "" {
		if n.Address == "" {
			return "# Work on its console.\n"
		}
		return "# ssh root@" + n.Address + "\n"
	}
	return fmt.Sprintf("# Work on its console, or over SSH at the address it has now. Step %d moves it to %s:\n"+
		"# an SSH session over the changed NIC dies there, so stay on the console, or run this node's\n"+
		"# script (plan --format script --node %s) over SSH: it goes on detached, logging to\n"+
		"# %s; then ssh root@%s.\n", first, n.Address, n.Node, n.logFile(), n.Address)
}

func (n *NodePlan) logFile() string { return "/root/lvslab-" + n.Node + ".log" }

func writeHeredoc(b *strings.Builder, f *catalog.File, indent string) {
	if d := path.Dir(f.Path); d != "/" && d != "/etc" {
		fmt.Fprintf(b, "%smkdir -p %s\n", indent, shell.Quote(d))
	}
	op, body := shell.Heredoc(f.Content)
	fmt.Fprintf(b, "%scat > %s %s\n%s\n", indent, shell.Quote(f.Path), op, body)
}

const scriptHeader = `#!/bin/sh
# lvslab plan: node %s (%s) of lab %s, for %s guests. Run it as root.
# Idempotent: every step checks first and changes only what differs, files
# are written whole, so running it again changes nothing.
set -eu

# lvslab_put PATH MODE < CONTENT: replace PATH when its content differs;
# succeeds only when it wrote the file.
# The temporary file is made next to PATH, so it gets the directory's SELinux
# label, and restorecon (where there is one) puts the policy's label on it.
lvslab_put() {
	mkdir -p "$(dirname "$1")" || { echo "lvslab: cannot write $1" >&2; exit 1; }
	lvslab_tmp=$(mktemp "$(dirname "$1")/.lvslab.XXXXXX")
	cat >"$lvslab_tmp"
	if [ -f "$1" ] && cmp -s "$lvslab_tmp" "$1"; then
		rm -f "$lvslab_tmp"
		return 1
	fi
	{ chmod "$2" "$lvslab_tmp" && mv -f "$lvslab_tmp" "$1"; } ||
		{ rm -f "$lvslab_tmp"; echo "lvslab: cannot write $1" >&2; exit 1; }
	if command -v restorecon >/dev/null 2>&1; then restorecon "$1" || :; fi
}
`

// detachBlock: over SSH, a step that changes an address may cut the session
// and with it the script; run from a file, the script goes on detached.
const detachBlock = `
# Step %d on change addresses: over SSH the script goes on detached.
if [ -n "${SSH_CONNECTION:-}" ] && [ -z "${LVSLAB_DETACHED:-}" ] && [ -f "$0" ]; then
	LVSLAB_DETACHED=1 setsid sh "$0" >%[2]s 2>&1 </dev/null &
	echo "lvslab: going on detached, logging to "%[2]s"; then ssh root@"%[3]s
	exit 0
fi
`

// Script is a runnable, idempotent POSIX sh script for the node.
func (n *NodePlan) Script(lab string) string {
	var b strings.Builder
	fmt.Fprintf(&b, scriptHeader, n.Node, n.Role, lab, n.OS)
	var checks []string
	for _, s := range n.Steps {
		checks = append(checks, s.Check)
	}
	if h := catalog.Helpers(checks...); h != "" {
		b.WriteString("\n" + h)
	}
	if len(n.Preconditions) > 0 {
		b.WriteString("\n# What this node must already be (lvslab's own VMs are).\n")
		for _, pc := range n.Preconditions {
			fmt.Fprintf(&b, "%s || { echo %s >&2; exit 1; }\n", pc.Check, shell.Quote("lvslab: "+pc.Fail))
		}
	}
	if first := n.firstReaddress(); first > 0 && n.Address != "" {
		fmt.Fprintf(&b, detachBlock, first, shell.Quote(n.logFile()), shell.Quote(n.Address))
	}
	for i, s := range n.Steps {
		fmt.Fprintf(&b, "\n# %d. %s: %s\n", i+1, s.Name, s.Comment)
		if s.Readdress {
			b.WriteString("# (changes an address: over SSH the session may hang; run from the console)\n")
		}
		var cond []string
		if s.File != nil {
			op, body := shell.Heredoc(s.File.Content)
			put := fmt.Sprintf("lvslab_put %s %04o %s", shell.Quote(s.File.Path), uint32(s.File.Mode.Perm()), op)
			if len(s.Apply) == 0 {
				fmt.Fprintf(&b, "%s || :\n%s\n", put, body)
			} else {
				b.WriteString("lvslab_changed=0\n")
				fmt.Fprintf(&b, "%s && lvslab_changed=1\n%s\n", put, body)
				cond = append(cond, `[ "$lvslab_changed" = 1 ]`)
			}
		}
		if s.Check != "" {
			cond = append(cond, "! { "+s.Check+"; } >/dev/null 2>&1")
		}
		if len(s.Apply) == 0 {
			continue
		}
		if len(cond) == 0 {
			for _, c := range s.Apply {
				b.WriteString(c + "\n")
			}
			continue
		}
		fmt.Fprintf(&b, "if %s; then\n", strings.Join(cond, " || "))
		for _, c := range s.Apply {
			b.WriteString("\t" + c + "\n")
		}
		b.WriteString("fi\n")
	}
	fmt.Fprintf(&b, "\necho \"lvslab: %s is configured\"\n", n.Node)
	return b.String()
}
