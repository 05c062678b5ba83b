package serve

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on what a guest can make the server hold or show.
const (
	maxName     = 64   // a node's name, state, an address, a check's node
	maxLine     = 200  // a check's name
	maxText     = 2000 // a check's why or fix, an error message
	maxChecks   = 500  // checks in one result
	maxNodes    = 64   // nodes in one copy
	maxAddrs    = 16   // addresses of one node
	maxHandout  = 4 << 20
	maxHistory  = 50 // checks kept per student
	maxSentence = 400
)

// clean makes text from a guest safe to hold and show: valid UTF-8, no
// control characters (newlines and tabs kept only when multiline), at most
// max bytes (cut on a rune boundary, marked with an ellipsis).
func clean(s string, max int, multiline bool) string {
	var b strings.Builder
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				r = '\uFFFD'
			}
		}
		switch {
		case multiline && (r == '\n' || r == '\t'):
		case r == '\t' || r == '\n' || r == '\r':
			r = ' '
		case unicode.IsControl(r), r == '\u2028', r == '\u2029', unicode.Is(unicode.Bidi_Control, r):
			continue
		}
		if b.Len()+utf8.RuneLen(r) > max {
			return strings.TrimRight(b.String(), " \n\t") + "…"
		}
		b.WriteRune(r)
	}
	return b.String()
}

func cleanNodes(nodes []Node) []Node {
	if len(nodes) > maxNodes {
		nodes = nodes[:maxNodes]
	}
	out := make([]Node, 0, len(nodes))
	for _, n := range nodes {
		c := Node{Name: clean(n.Name, maxName, false), State: clean(n.State, maxName, false)}
		for i, a := range n.Addresses {
			if i == maxAddrs {
				break
			}
			c.Addresses = append(c.Addresses, clean(a, maxName, false))
		}
		out = append(out, c)
	}
	return out
}

func cleanResult(r CheckResult) CheckResult {
	out := CheckResult{Error: clean(r.Error, maxText, true)}
	checks := r.Checks
	if len(checks) > maxChecks {
		checks = checks[:maxChecks]
		if out.Error == "" {
			out.Error = "the check gave more results than the server keeps; the first ones are shown"
		}
	}
	for _, c := range checks {
		out.Checks = append(out.Checks, Check{
			Node: clean(c.Node, maxName, false), Name: clean(c.Name, maxLine, false), Pass: c.Pass,
			Why: clean(c.Why, maxText, true), Fix: clean(c.Fix, maxText, true),
		})
	}
	return out
}
