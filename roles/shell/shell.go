// Package shell renders values for POSIX sh: one quoting of words and one
// here-document form, so that no value from a lab file can end its quoting
// and run as a command.
package shell

import (
	"strconv"
	"strings"
)

// safe are the bytes a word may hold and still be written bare: a handout
// reads better with "hostnamectl set-hostname web1" than with quotes.
const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+"

// Quote makes s exactly one sh word, bare when every byte is safe and it
// cannot be read as an assignment, single-quoted otherwise. Exact for every
// byte but NUL, which no sh word can hold.
func Quote(s string) string {
	if s != "" && strings.Trim(s, safe) == "" && !isAssignment(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// isAssignment tells whether sh would read s, as the first word of a
// command, as NAME=value.
func isAssignment(s string) bool {
	name, _, ok := strings.Cut(s, "=")
	if !ok || name == "" || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	return strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == ""
}

// Delimiter is the here-document delimiter lvslab uses unless the content
// holds a line equal to it.
const Delimiter = "LVSLAB_EOF"

// Heredoc carries content in a quoted here-document: the operator goes on
// the command's line (cmd + " " + op + the rest of that line), the body on
// the lines after it; the body ends with the delimiter line, without a
// newline. The delimiter is Delimiter, or Delimiter_N for the smallest N
// that is no line of content, so nothing in content can end the document;
// being quoted, nothing in it is expanded. A here-document always ends with
// a newline: content without a final one gets it.
func Heredoc(content string) (op, body string) {
	if content != "" && !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	delim := delimiterFor(content)
	return "<<'" + delim + "'", content + delim
}

func delimiterFor(content string) string {
	lines := map[string]bool{}
	for _, l := range strings.Split(content, "\n") {
		if strings.HasPrefix(l, Delimiter) {
			lines[l] = true
		}
	}
	delim := Delimiter
	for n := 2; lines[delim]; n++ {
		delim = Delimiter + "_" + strconv.Itoa(n)
	}
	return delim
}
