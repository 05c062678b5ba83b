package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// JSON renders each event as one line of JSON: the time, the event's type
// (its Kind), its source when it has one, then its own fields:
//
//	{"time":"2025-01-02T03:04:05.6Z","type":"step.done","step":"image","seconds":0.012}
//
// Durations are seconds, errors their text.
type JSON struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// NewJSON is a JSON lines renderer to w.
func NewJSON(w io.Writer) *JSON { return &JSON{w: w, now: time.Now} }

// envelope is what every line begins with.
type envelope struct {
	Time   time.Time `json:"time"`
	Type   string    `json:"type"`
	Source string    `json:"source,omitempty"`
}

// Emit writes ev as one line.
func (j *JSON) Emit(ev Event) {
	line, err := j.line(ev)
	if err != nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.w.Write(line)
}

func (j *JSON) line(ev Event) ([]byte, error) {
	source, ev := unwrap(ev)
	head, err := json.Marshal(envelope{Time: j.now().UTC(), Type: ev.Kind(), Source: source})
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	line := head[:len(head)-1] // without its "}"
	if len(body) > 2 {         // not "{}"
		line = append(append(line, ','), body[1:]...)
	} else {
		line = append(line, '}')
	}
	return append(line, '\n'), nil
}

// The values of --progress.
const (
	ModeAuto  = "auto"  // tty on a terminal (Interactive), else plain
	ModeTTY   = "tty"   // Text, redrawn in place
	ModePlain = "plain" // Text, plain lines
	ModeJSON  = "json"  // JSON lines
)

// Modes are the values of --progress, the default first.
var Modes = []string{ModeAuto, ModeTTY, ModePlain, ModeJSON}

// New is mode's renderer to w.
func New(mode string, w io.Writer) (Sink, error) {
	switch mode {
	case ModeAuto, "":
		return NewText(w, Interactive(w)), nil
	case ModeTTY:
		return NewText(w, true), nil
	case ModePlain:
		return Plain(w), nil
	case ModeJSON:
		return NewJSON(w), nil
	}
	return nil, fmt.Errorf("progress %q: give one of %s", mode, strings.Join(Modes, ", "))
}
