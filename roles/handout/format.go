package handout

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/topology"
)

// Formats of a handout.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatHTML     = "html"
)

// Formats lists the handout formats.
var Formats = []string{FormatText, FormatMarkdown, FormatHTML}

// Render formats the handout.
func (h *Handout) Render(format string) (string, error) {
	switch format {
	case FormatText:
		return h.Text(), nil
	case FormatMarkdown:
		return h.Markdown(), nil
	case FormatHTML:
		var b bytes.Buffer
		if err := h.WriteHTML(&b); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("unknown handout format %q: use %s", format, strings.Join(Formats, ", "))
}

func (h *Handout) subtitle() string {
	if h.From != "" {
		return "The stage after " + h.From + " on the same VMs: only what changes"
	}
	return "The exercise, node by node"
}

// Text is the handout as plain text: explanations as # comments, every
// other line a command to type as it stands.
func (h *Handout) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n# %s.\n", h.Title, h.subtitle())
	if h.Description != "" {
		fmt.Fprintf(&b, "# %s\n", h.Description)
	}
	for _, n := range h.Notes {
		wrapComment(&b, "", n)
	}
	b.WriteString("# Lines starting with # are explanations; every other line is a command.\n")
	for pi, p := range h.Parts {
		fmt.Fprintf(&b, "\n# ==== %d. %s ====\n", pi+1, p.Title)
		for _, n := range p.Nodes {
			fmt.Fprintf(&b, "\n## %s (%s)\n", n.Name, n.Role)
			for _, note := range n.Notes {
				wrapComment(&b, "", note)
			}
			for i, s := range n.Steps {
				b.WriteString("\n")
				wrapComment(&b, "", fmt.Sprintf("%d. %s: %s", h.number(pi, n.Name)+i, s.Title, s.Why))
				for _, c := range s.Commands {
					b.WriteString(c + "\n")
				}
				for _, note := range s.Notes {
					wrapComment(&b, "   ", "("+note+")")
				}
			}
		}
	}
	fmt.Fprintf(&b, "\n# ==== Expected results ====\n")
	for _, e := range h.Expect {
		b.WriteString("\n")
		wrapComment(&b, "", "On "+e.Node+", "+e.What+":")
		b.WriteString(e.Command + "\n")
		b.WriteString("# prints:\n")
		for _, o := range e.Output {
			b.WriteString(strings.TrimRight("#   "+o, " ") + "\n")
		}
		for _, note := range e.Notes {
			wrapComment(&b, "", note)
		}
	}
	return b.String()
}

// wrapComment writes text as # lines of at most about 100 characters.
func wrapComment(b *strings.Builder, indent, text string) {
	line := "#" + indent
	for _, word := range strings.Fields(text) {
		if len(line) > 1+len(indent) && len(line)+1+len(word) > 100 {
			b.WriteString(line + "\n")
			line = "#" + indent + "  "
		}
		line += " " + word
	}
	b.WriteString(line + "\n")
}

// CommandLines counts what a student types: every line of the text that
// is neither blank nor a comment.
func (h *Handout) CommandLines() int {
	n := 0
	for _, l := range strings.Split(h.Text(), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

// number is the number of the first step of node in part pi: a node's
// steps are numbered on through the parts.
func (h *Handout) number(pi int, node string) int {
	n := 1
	for _, p := range h.Parts[:pi] {
		for _, nd := range p.Nodes {
			if nd.Name == node {
				n += len(nd.Steps)
			}
		}
	}
	return n
}

// Line is one command line of the handout and the node it is typed on.
type Line struct {
	Node    string `json:"node"`
	Command string `json:"command"`
}

// Lines are the handout's command lines in the order of its text: what a
// scenario runs literally, each on its node (over "lvslab ssh NODE").
func (h *Handout) Lines() []Line {
	var out []Line
	for _, p := range h.Parts {
		for _, n := range p.Nodes {
			for _, s := range n.Steps {
				for _, c := range s.Commands {
					out = append(out, Line{Node: n.Name, Command: c})
				}
			}
		}
	}
	return out
}

// Only keeps the steps and results of nodes.
func (h *Handout) Only(nodes ...string) {
	for i := range h.Parts {
		h.Parts[i].Nodes = slices.DeleteFunc(h.Parts[i].Nodes, func(n Node) bool { return !slices.Contains(nodes, n.Name) })
	}
	h.Parts = slices.DeleteFunc(h.Parts, func(p Part) bool { return len(p.Nodes) == 0 })
	h.Expect = slices.DeleteFunc(h.Expect, func(e Expectation) bool { return !slices.Contains(nodes, e.Node) })
}

// Markdown is the printable handout: numbered steps per node, the
// topology, the expected outputs.
func (h *Handout) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n%s.", mdEscape(h.Title), mdEscape(h.subtitle()))
	if h.Description != "" {
		fmt.Fprintf(&b, " %s", mdEscape(h.Description))
	}
	b.WriteString("\n\n")
	for _, n := range h.Notes {
		fmt.Fprintf(&b, "- %s\n", mdEscape(n))
	}
	if h.Graph != "" {
		fmt.Fprintf(&b, "\n## Topology\n\n```text\n%s```\n", h.Graph)
	}
	for pi, p := range h.Parts {
		fmt.Fprintf(&b, "\n## %d. %s\n", pi+1, mdEscape(p.Title))
		for _, n := range p.Nodes {
			fmt.Fprintf(&b, "\n### %s (%s)\n\n", mdEscape(n.Name), mdEscape(n.Role))
			for _, note := range n.Notes {
				fmt.Fprintf(&b, "%s.\n\n", mdEscape(note))
			}
			for i, s := range n.Steps {
				f := fence(s.Commands)
				fmt.Fprintf(&b, "%d. **%s**: %s\n\n   %ssh\n", h.number(pi, n.Name)+i, mdEscape(s.Title), mdEscape(s.Why), f)
				for _, c := range s.Commands {
					fmt.Fprintf(&b, "   %s\n", c)
				}
				fmt.Fprintf(&b, "   %s\n\n", f)
				for _, note := range s.Notes {
					fmt.Fprintf(&b, "   (%s)\n\n", mdEscape(note))
				}
			}
		}
	}
	b.WriteString("\n## Expected results\n")
	for _, e := range h.Expect {
		cf, of := fence([]string{e.Command}), fence(e.Output)
		fmt.Fprintf(&b, "\nOn **%s**, %s:\n\n%ssh\n%s\n%s\n\nprints:\n\n%stext\n", mdEscape(e.Node), mdEscape(e.What), cf, e.Command, cf, of)
		for _, o := range e.Output {
			b.WriteString(strings.TrimRight(o, " ") + "\n")
		}
		b.WriteString(of + "\n")
		for _, note := range e.Notes {
			fmt.Fprintf(&b, "\n%s\n", mdEscape(note))
		}
	}
	return b.String()
}

// fence is a code fence longer than any run of backticks in lines, so
// that no line (a page from a lab file) can end the block.
func fence(lines []string) string {
	n := 3
	for _, l := range lines {
		run := 0
		for _, r := range l {
			if r == '`' {
				run++
				n = max(n, run+1)
			} else {
				run = 0
			}
		}
	}
	return strings.Repeat("`", n)
}

// mdEscape keeps text from a lab file from being read as markup.
func mdEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`, "#", `\#`, "|", `\|`)
	return r.Replace(s)
}

//go:embed handout.html.tmpl
var htmlText string

var htmlTemplate = template.Must(template.New("handout").Funcs(template.FuncMap{
	"inc":   func(i int) int { return i + 1 },
	"trim":  func(s string) string { return strings.TrimRight(s, " ") },
	"title": func(h *Handout) string { return h.subtitle() },
	"start": func(h *Handout, pi int, node string) int { return h.number(pi, node) },
}).Parse(htmlText))

// WriteHTML writes the printable handout as one HTML page (html/template:
// every value from the lab file is escaped).
func (h *Handout) WriteHTML(w io.Writer) error {
	return htmlTemplate.Execute(w, h)
}

// HTML writes one lab's handout as an HTML page: what the class server
// shows a student for their own copy.
func HTML(w io.Writer, lab *topology.Lab, opts Options) error {
	h, err := Build(lab, opts)
	if err != nil {
		return err
	}
	return h.WriteHTML(w)
}
