package guest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// The one way lvslab reads a guest: a read-only script of named sections,
// run once (one round trip, under TCG every SSH session costs a few tenths
// of a second), whose answer is split back into its sections by a marker
// drawn afresh for each probe. A section opens with the marker's line,
// printed by the shell's printf builtin (no process):
//
//	\n@@lvslab-<16 hex digits> NAME\n
//
// then whatever its commands print. The leading newline puts the marker on
// a line of its own even after output without a final newline, and the
// split takes it back: a section's text is exactly what its commands
// printed. The last section is "end": an answer without it was cut short.
//
// A guest is hostile ground (a student is root there): what its commands
// print is bounded (MaxSection a section, MaxAnswer in all), and a marker
// line the probe did not ask for, asked for twice or out of its order (a
// command that learnt the marker and printed it) makes the answer an error,
// never a section.

// Limits on what a guest may answer.
const (
	// MaxSection is the most of a section's text kept; the rest is cut and
	// the section listed in Answer.Cut.
	MaxSection = 1 << 20
	// MaxAnswer is the largest answer read at all.
	MaxAnswer = 16 << 20
)

// markerPrefix starts every probe's marker.
const markerPrefix = "@@lvslab-"

// EndSection is the last section of every probe.
const EndSection = "end"

// Probe is a read-only script of named sections under construction.
type Probe struct {
	marker string
	b      strings.Builder
	index  map[string]int // each section's place: where its mark is in the script
	script string         // the whole script, once Script made it
}

// NewMarker draws a marker no guest can foresee: "@@lvslab-" and 64
// random bits in hex. Every probe has its own; so does any other reading of
// a guest's output that must tell its own frames from what the guest
// printed (verify's request loops).
func NewMarker() string {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic("guest: no randomness for a marker: " + err.Error())
	}
	return markerPrefix + hex.EncodeToString(r[:])
}

// NewProbe starts a probe with a marker of its own.
func NewProbe() *Probe {
	return &Probe{marker: NewMarker(), index: map[string]int{}}
}

// Marker is the probe's marker, for tests.
func (p *Probe) Marker() string { return p.marker }

// Mark is the command that opens section name, for a section that only
// some outcome opens ("cat F || MARK"): a shell printf builtin. Sections
// open in the order of their marks in the script; a name is asked for once.
// A name is letters, digits, spaces and ._:- only.
func (p *Probe) Mark(name string) string {
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._:-") != "" {
		panic(fmt.Sprintf("guest: section name %q", name))
	}
	if p.script != "" {
		panic(fmt.Sprintf("guest: section %q asked for after the script was made", name))
	}
	if _, dup := p.index[name]; dup {
		panic(fmt.Sprintf("guest: section %q asked for twice", name))
	}
	p.index[name] = -1 // placed by Script
	return MarkCommand(p.marker, name)
}

// MarkCommand is the shell command that prints marker's line for section
// name.
func MarkCommand(marker, name string) string { return `printf '\n` + marker + " " + name + `\n'` }

// Section adds section name: its mark on a line of its own, then script
// (none: an empty section, whose presence is the answer).
func (p *Probe) Section(name, script string) {
	p.b.WriteString(p.Mark(name) + "\n")
	p.Add(script)
}

// Add adds script lines that belong to the section opened last (or, before
// any, print nothing: shell functions, variables).
func (p *Probe) Add(script string) {
	if script == "" {
		return
	}
	p.b.WriteString(script)
	if !strings.HasSuffix(script, "\n") {
		p.b.WriteString("\n")
	}
}

// Script is the whole probe: its sections, then the end mark. The probe
// is complete then: sections added after it are not in it.
func (p *Probe) Script() string {
	if p.script != "" {
		return p.script
	}
	p.b.WriteString(p.Mark(EndSection) + "\n")
	p.script = p.b.String()
	for name := range p.index {
		p.index[name] = strings.Index(p.script, MarkCommand(p.marker, name))
	}
	return p.script
}

// Run runs the probe's script on x in one round trip and splits the
// answer. Output before the first mark (a login banner) is dropped.
func (p *Probe) Run(ctx context.Context, x Executor) (*Answer, error) {
	out, err := x.Run(ctx, p.Script())
	if err != nil {
		return nil, err
	}
	return p.Parse(out)
}

// Answer is a probe's answer, section by section.
type Answer struct {
	text  map[string]string
	order []string
	// Cut lists the sections cut at MaxSection.
	Cut []string
}

// Parse splits out, the output of the probe's script, into its sections.
func (p *Probe) Parse(out string) (*Answer, error) {
	if len(out) > MaxAnswer {
		return nil, fmt.Errorf("the node's answer is %d bytes, more than the %d a probe reads", len(out), MaxAnswer)
	}
	p.Script()
	a := &Answer{text: map[string]string{}}
	sep := "\n" + p.marker + " "
	parts := strings.Split(out, sep)
	last := -1
	for _, part := range parts[1:] {
		name, text, ok := strings.Cut(part, "\n")
		i, asked := p.index[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("the node's answer breaks off in the mark of section %q", name)
		case !asked || i < 0:
			return nil, fmt.Errorf("the node's answer opens a section %q it was not asked for: something on it printed the probe's marker", name)
		case i <= last:
			return nil, fmt.Errorf("the node's answer opens section %q again or out of order: something on it printed the probe's marker", name)
		}
		last = i
		if len(text) > MaxSection {
			text = text[:MaxSection]
			a.Cut = append(a.Cut, name)
		}
		a.text[name] = text
		a.order = append(a.order, name)
	}
	if _, ok := a.text[EndSection]; !ok {
		return nil, fmt.Errorf("the node's answer ends early (no %q mark): %q", EndSection, tail(out))
	}
	return a, nil
}

func tail(s string) string {
	if len(s) > 200 {
		return "..." + s[len(s)-200:]
	}
	return s
}

// Has tells whether section name was opened.
func (a *Answer) Has(name string) bool {
	_, ok := a.text[name]
	return ok
}

// Text is exactly what section name printed; "" when it was not opened.
func (a *Answer) Text(name string) string { return a.text[name] }

// Lines are the lines section name printed (the final newline ends the
// last line, it opens no empty one); none when it was not opened.
func (a *Answer) Lines(name string) []string {
	t, ok := a.text[name]
	if !ok || t == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(t, "\n"), "\n")
}

// Names are the sections opened, in order.
func (a *Answer) Names() []string { return append([]string(nil), a.order...) }

// ScriptSection is one section of a probe's script: what a fake guest
// answers section by section.
type ScriptSection struct {
	Name   string
	Script string // the lines after its mark, up to the next section's
}

// ReadScript takes a probe's script apart, for fakes that answer as a
// guest would: what comes before its first mark (commands run in the same
// round trip), its marker and its sections. ok is false when script holds
// no probe.
func ReadScript(script string) (before, marker string, sections []ScriptSection, ok bool) {
	const open = `printf '\n` + markerPrefix
	start := strings.Index(script, open)
	for start > 0 && script[start-1] != '\n' {
		next := strings.Index(script[start+1:], open)
		if next < 0 {
			return "", "", nil, false
		}
		start += 1 + next
	}
	if start < 0 {
		return "", "", nil, false
	}
	before, rest := script[:start], script[start+len(`printf '\n`):]
	marker, _, _ = strings.Cut(rest, " ")
	lineStart := `printf '\n` + marker + " "
	for _, chunk := range strings.Split("\n"+script[start:], "\n"+lineStart)[1:] {
		head, body, _ := strings.Cut(chunk, "\n")
		name := strings.TrimSuffix(head, `\n'`)
		sections = append(sections, ScriptSection{Name: name, Script: body})
	}
	return before, marker, sections, true
}

// Frame is what a guest prints when section name opens: for fakes.
func Frame(marker, name string) string { return "\n" + marker + " " + name + "\n" }
