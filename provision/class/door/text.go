package door

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// clean makes a string from a client or a guest (a node name, an error
// message that may quote a guest) safe to print on a terminal or in a log:
// control and format characters (escape sequences, bidi overrides, bells)
// are dropped, invalid UTF-8 is replaced, and it is cut to max runes.
func clean(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			continue
		}
		if n == max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// validName is a login name the door will look up: printable, no spaces,
// at most 64 bytes.
func validName(s string) bool {
	if s == "" || len(s) > 64 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// maxLine bounds a line typed at the menu.
const maxLine = 64

// lineReader reads the menu's answers from the session's input. On a
// pseudo-terminal the client sends raw keys, so it echoes them and handles
// Enter, Backspace, Ctrl-U, Ctrl-C, Ctrl-D and ignores escape sequences
// (arrows); without one it reads plain lines.
type lineReader struct {
	in      <-chan []byte
	pending []byte
	pty     bool
	echo    func(string)
}

// readLine returns a line, or ok false when the input ended.
func (r *lineReader) readLine() (line string, ok bool) {
	var buf []byte
	esc := 0 // 1 after ESC, 2 inside CSI/SS3
	for {
		if len(r.pending) == 0 {
			b, more := <-r.in
			if !more {
				return "", false
			}
			r.pending = b
		}
		c := r.pending[0]
		r.pending = r.pending[1:]
		switch {
		case esc == 1:
			esc = 0
			if c == '[' || c == 'O' {
				esc = 2
			}
			continue
		case esc == 2:
			if c >= 0x40 && c <= 0x7e {
				esc = 0
			}
			continue
		}
		switch c {
		case '\r', '\n':
			if c == '\r' && !r.pty {
				continue
			}
			if r.pty {
				r.echo("\r\n")
			}
			return string(buf), true
		case 0x1b:
			esc = 1
		case 0x7f, 0x08:
			if len(buf) > 0 {
				buf = buf[:len(buf)-1]
				if r.pty {
					r.echo("\b \b")
				}
			}
		case 0x15: // Ctrl-U
			if r.pty {
				r.echo(strings.Repeat("\b \b", len(buf)))
			}
			buf = buf[:0]
		case 0x03: // Ctrl-C
			if r.pty {
				r.echo("^C\r\n")
			}
			return "", true
		case 0x04: // Ctrl-D
			if len(buf) == 0 {
				return "", false
			}
		default:
			if c >= 0x20 && c < 0x7f && len(buf) < maxLine {
				buf = append(buf, c)
				if r.pty {
					r.echo(string(c))
				}
			}
		}
	}
}

// takePending returns what was typed beyond the last line (typed ahead of a
// node's shell).
func (r *lineReader) takePending() []byte {
	p := r.pending
	r.pending = nil
	return p
}
