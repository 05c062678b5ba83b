package render

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/rolestest"
)

var heredocOp = regexp.MustCompile(`^(?:cat > |lvslab_put )(\S+) .*<<'([^']+)'`)

// heredocs reads the here-documents of a plan the way sh does: each body
// ends at the first line equal to its delimiter. It returns the bodies by
// path and the lines outside them (what sh runs).
func heredocs(t *testing.T, text string) (bodies map[string]string, commands []string) {
	t.Helper()
	bodies = map[string]string{}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		m := heredocOp.FindStringSubmatch(lines[i])
		commands = append(commands, lines[i])
		if m == nil {
			continue
		}
		var body []string
		for i++; i < len(lines) && lines[i] != m[2]; i++ {
			body = append(body, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("here-document for %s never ends", m[1])
		}
		bodies[m[1]] = strings.Join(body, "\n") + "\n"
	}
	return bodies, commands
}

// A page holding the delimiter line must stay the page: the line after it
// must not become a command of the handout or the script.
func TestHostilePageStaysInItsHeredoc(t *testing.T) {
	const page = "<h1>web1</h1>\nLVSLAB_EOF\ntouch /tmp/lvslab-pwned\nLVSLAB_EOF_2\n'LVSLAB_EOF'"
	lab := rolestest.Lab(t, "tedu-nat")
	lab.Node("web1").Page = page
	for _, osf := range catalog.OSFamilies {
		p := Plan(lab, osf)
		p.Nodes = slices.DeleteFunc(p.Nodes, func(n NodePlan) bool { return n.Node != "web1" })
		for _, format := range []string{FormatText, FormatScript} {
			out, err := p.Render(format)
			if err != nil {
				t.Fatal(err)
			}
			bodies, commands := heredocs(t, out)
			if got := bodies[catalog.IndexFile]; got != page+"\n" {
				t.Errorf("%s %s: index.html carries %q, want %q", osf, format, got, page+"\n")
			}
			for _, c := range commands {
				if strings.Contains(c, "lvslab-pwned") {
					t.Errorf("%s %s: the page's line runs as a command: %q", osf, format, c)
				}
			}
		}
	}
}
