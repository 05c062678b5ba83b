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

// Every event's type (its Kind, the "type" of its JSON line), in one list
// for a program that reads --progress json: the command or step it
// belongs to, then what happened. The events are declared with their text
// in build.go, up.go, class.go, nodes.go, down.go and trace.go.

func (PhaseStarted) Kind() string { return "build.phase_started" }
func (PhaseDone) Kind() string    { return "build.phase_done" }
func (BuildStale) Kind() string   { return "build.stale" }
func (BuildExists) Kind() string  { return "build.exists" }
func (BuildDone) Kind() string    { return "build.done" }
func (ImportDone) Kind() string   { return "import.done" }

func (UpStarted) Kind() string      { return "up.started" }
func (StepStarted) Kind() string    { return "step.started" }
func (StepDone) Kind() string       { return "step.done" }
func (StepFailed) Kind() string     { return "step.failed" }
func (ImageChosen) Kind() string    { return "image.chosen" }
func (NetworkCreated) Kind() string { return "network.created" }
func (MemoryKept) Kind() string     { return "node.memory_kept" }
func (ImageUploading) Kind() string { return "image.uploading" }
func (ImageUploaded) Kind() string  { return "image.uploaded" }
func (ImageInPool) Kind() string    { return "image.in_pool" }

func (ClassHost) Kind() string    { return "class.host" }
func (ClassStarted) Kind() string { return "class.started" }
func (CopyStarted) Kind() string  { return "copy.started" }
func (CopyDone) Kind() string     { return "copy.done" }

func (WaitStarted) Kind() string      { return "wait.started" }
func (NodeWaiting) Kind() string      { return "node.waiting" }
func (NodeReady) Kind() string        { return "node.ready" }
func (NodeFailed) Kind() string       { return "node.failed" }
func (NodeRestored) Kind() string     { return "node.restored" }
func (NodeConsole) Kind() string      { return "node.console" }
func (WaitDone) Kind() string         { return "wait.done" }
func (ConfigureStarted) Kind() string { return "configure.started" }
func (ConfigureStep) Kind() string    { return "configure.step" }
func (NodeConfigured) Kind() string   { return "node.configured" }
func (ConfigureDone) Kind() string    { return "configure.done" }

func (Removed) Kind() string    { return "down.removed" }
func (ImagesKept) Kind() string { return "down.images_kept" }
func (LogsKept) Kind() string   { return "down.logs_kept" }

func (Traced) Kind() string { return "debug.call" }

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
