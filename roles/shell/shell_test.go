package shell

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/topology/testkit/cases"
)

// sh runs script in the system's sh and returns its standard output.
func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", script, err)
	}
	return string(out)
}

var hostile = []string{
	"", "web1", "it's", "a b", "$(touch /tmp/x)", "`id`", "a;b", "x\ny", "'", "''", `\`, `"`,
	"*", "~root", "#c", "-n", "FOO=bar", "a=b", "=x", "1=x", "é", "\t", "!", "a'b'c", "{a,b}",
}

func TestQuoteIsOneExactWord(t *testing.T) {
	for _, s := range hostile {
		got := sh(t, "printf '%s|' "+Quote(s))
		if got != s+"|" {
			t.Errorf("Quote(%q) = %s: sh read %q", s, Quote(s), got)
		}
	}
}

func TestQuoteBareOnlyWhenSafe(t *testing.T) {
	cases.Strings(t, "Quote", Quote, map[string]string{
		"web1":                    "web1",
		"/etc/hostname":           "/etc/hostname",
		"http://192.168.4.15:80/": "http://192.168.4.15:80/",
		"net.ipv4.ip_forward=1":   "net.ipv4.ip_forward=1",
		"FOO=bar":                 "'FOO=bar'", // would be an assignment as a command's first word
		"":                        "''",
		"it's":                    `'it'\''s'`,
		"a b":                     "'a b'",
	})
}

// A content line equal to the delimiter must not end the document: the line
// after it would run as a command.
func TestHeredocContentCannotEndIt(t *testing.T) {
	for _, content := range []string{
		"<h1>web1</h1>\n",
		"before\nLVSLAB_EOF\necho pwned\n",
		"LVSLAB_EOF\nLVSLAB_EOF_2\nLVSLAB_EOF_3\necho pwned\n",
		"$(echo pwned) `echo pwned` $HOME \\\n",
		"no final newline",
		"",
		"LVSLAB_EOF",
		"'LVSLAB_EOF'\n LVSLAB_EOF\nLVSLAB_EOF \n",
	} {
		op, body := Heredoc(content)
		got := sh(t, "cat "+op+"\n"+body+"\necho END")
		want := content
		if want != "" && !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		if got != want+"END\n" {
			t.Errorf("Heredoc(%q): sh printed %q, want %q", content, got, want+"END\n")
		}
	}
}

func TestHeredocReadableDelimiter(t *testing.T) {
	if op, body := Heredoc("web1\n"); op != "<<'LVSLAB_EOF'" || body != "web1\nLVSLAB_EOF" {
		t.Errorf("Heredoc = %q %q", op, body)
	}
	if op, _ := Heredoc("LVSLAB_EOF\nLVSLAB_EOF_2\n"); op != "<<'LVSLAB_EOF_3'" {
		t.Errorf("op = %q, want the first delimiter that is no line", op)
	}
}

// FuzzHeredoc: the only body line equal to the delimiter is the last one.
func FuzzHeredoc(f *testing.F) {
	for _, s := range []string{"", "a\n", "LVSLAB_EOF\n", "LVSLAB_EOF_2\nLVSLAB_EOF\n", "x\nLVSLAB_EOF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		op, body := Heredoc(content)
		delim := strings.TrimSuffix(strings.TrimPrefix(op, "<<'"), "'")
		lines := strings.Split(body, "\n")
		for i, l := range lines {
			if l == delim && i != len(lines)-1 {
				t.Fatalf("content %q: delimiter %q at line %d of %d", content, delim, i+1, len(lines))
			}
		}
		if lines[len(lines)-1] != delim {
			t.Fatalf("content %q: body does not end with %q", content, delim)
		}
	})
}
