// Package progress is what lvslab tells the person (or the program) that
// watches it work: typed events, in the manner of lima's host agent events,
// and the renderers that show them.
//
// The lab lifecycle (up, its wait for SSH and configure, down), the image
// build and the class commands emit events to a Sink and print nothing
// themselves. cmd chooses the Sink: Text on a terminal (node lines redrawn
// in place, a ticking image build phase), Text as plain lines elsewhere (CI
// logs, files, pipes), or JSON, one event per line for CI and live views.
// The --debug trace of every libvirt call and SSH command is events too
// (Call), and Prefixed puts the lines of several sources that run at once
// into one stream.
package progress

import (
	"encoding/json"
	"math"
	"time"
)

// Event is one thing that happened. Its Kind names it in JSON lines
// ("step.done"); its text is what the text renderers print for it.
type Event interface {
	Kind() string
	// text is the event's plain lines, each ending in a newline ("": it
	// prints nothing as text).
	text() string
}

// Sink receives events. Emit may be called from several goroutines at
// once; it does not fail (a renderer that cannot write drops the event).
type Sink interface {
	Emit(Event)
}

// Discard is a Sink that drops every event.
var Discard Sink = discard{}

type discard struct{}

func (discard) Emit(Event) {}

// Or is s, or Discard when s is nil.
func Or(s Sink) Sink {
	if s == nil {
		return Discard
	}
	return s
}

// Func is a function that is a Sink.
type Func func(Event)

// Emit calls f.
func (f Func) Emit(ev Event) { f(ev) }

// Sourced is an event of one of several sources that work at once (the
// copies of a class, each named by its student).
type Sourced struct {
	Source string
	Event  Event
}

// Kind is the event's.
func (s Sourced) Kind() string { return s.Event.Kind() }

func (s Sourced) text() string { return s.Event.text() }

// From is s with every event marked as source's: the text renderers print
// its lines prefixed with "[source] ", JSON gives it a "source" field.
func From(s Sink, source string) Sink {
	s = Or(s)
	return Func(func(ev Event) { s.Emit(Sourced{Source: source, Event: ev}) })
}

// unwrap is ev's source ("" for none) and the event itself.
func unwrap(ev Event) (string, Event) {
	if s, ok := ev.(Sourced); ok {
		return s.Source, s.Event
	}
	return "", ev
}

// Duration is a time.Duration that JSON lines carry as seconds.
type Duration time.Duration

// Since is the time from t until now.
func Since(t time.Time) Duration { return Duration(time.Since(t)) }

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d in seconds.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.D().Seconds()) }

// UnmarshalJSON reads seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = Duration(math.Round(s * float64(time.Second)))
	return nil
}

// round is d as up prints a step's time: to the millisecond under a
// second, else to the tenth.
func (d Duration) round() time.Duration {
	if d.D() < time.Second {
		return d.D().Round(time.Millisecond)
	}
	return d.D().Round(100 * time.Millisecond)
}

// tenths is d to the tenth of a second.
func (d Duration) tenths() time.Duration { return d.D().Round(100 * time.Millisecond) }

// ErrorText is err's message, "" for nil: events carry errors as text.
func ErrorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
