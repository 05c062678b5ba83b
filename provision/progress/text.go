package progress

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Text renders events as the lines people read. On a terminal (tty) the
// wait's node lines are redrawn in place and an image build phase ticks
// every second; otherwise (plain) every line is printed once: a node's line
// when its state changes kind, a phase as it starts and as it ends. The
// events of a source (From) are plain lines, each prefixed "[source] ".
type Text struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	tables  map[string]*table    // the wait's node lines, by source
	sources map[string]*Prefixed // the sources' writers
	tick    *ticker              // the image build phase under way (tty)
	every   time.Duration        // how often it ticks
}

// NewText is a Text renderer to w, redrawing in place when tty.
func NewText(w io.Writer, tty bool) *Text {
	return &Text{w: w, tty: tty, tables: map[string]*table{}, sources: map[string]*Prefixed{}, every: time.Second}
}

// Plain is a Text renderer of plain lines to w.
func Plain(w io.Writer) *Text { return NewText(w, false) }

// Emit prints ev.
func (t *Text) Emit(ev Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	source, ev := unwrap(ev)
	w, tty := t.w, t.tty
	if source != "" {
		w, tty = t.source(source), false
	}
	switch e := ev.(type) {
	case WaitStarted:
		t.tables[source] = newTable(e.Nodes)
	case WaitDone:
		t.table(source).closed = true
	case nodeEvent:
		node, line := e.nodeLine()
		t.table(source).set(w, tty, node, line)
		return
	case PhaseStarted:
		if tty {
			t.startTick(e.label())
			return
		}
	case PhaseDone:
		if tty {
			t.stopTick()
			io.WriteString(w, e.ttyText())
			return
		}
	}
	io.WriteString(w, ev.text())
}

// source is the writer of source's lines.
func (t *Text) source(source string) *Prefixed {
	p := t.sources[source]
	if p == nil {
		p = NewPrefixed(t.w, nil, "["+source+"] ")
		t.sources[source] = p
	}
	return p
}

func (t *Text) table(source string) *table {
	tb := t.tables[source]
	if tb == nil {
		tb = newTable(nil)
		t.tables[source] = tb
	}
	return tb
}

// table is the wait's status line per node.
type table struct {
	names  []string
	width  int
	lines  map[string]string
	kinds  map[string]string // plain: the kind of line last printed
	drawn  int               // tty: the lines drawn last
	closed bool
}

func newTable(names []string) *table {
	tb := &table{lines: map[string]string{}, kinds: map[string]string{}}
	for _, n := range names {
		tb.add(n)
	}
	return tb
}

func (tb *table) add(node string) {
	tb.names = append(tb.names, node)
	tb.width = max(tb.width, len(node))
}

// set makes line node's: on a terminal every line is drawn again in place;
// elsewhere the line is printed when it is of another kind (the text
// before its first "(" or ":") than the node's last.
func (tb *table) set(w io.Writer, tty bool, node, line string) {
	if tb.closed || tb.lines[node] == line {
		return
	}
	if !slices.Contains(tb.names, node) {
		tb.add(node)
	}
	tb.lines[node] = line
	if tty {
		tb.redraw(w)
		return
	}
	kind := line
	if i := strings.IndexAny(kind, "(:"); i >= 0 {
		kind = kind[:i]
	}
	if tb.kinds[node] != kind {
		tb.kinds[node] = kind
		fmt.Fprintf(w, "    %-*s  %s\n", tb.width, node, line)
	}
}

func (tb *table) redraw(w io.Writer) {
	var b strings.Builder
	if tb.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", tb.drawn)
	}
	for _, n := range tb.names {
		fmt.Fprintf(&b, "\r\x1b[2K    %-*s  %s\n", tb.width, n, tb.lines[n])
	}
	tb.drawn = len(tb.names)
	io.WriteString(w, b.String())
}

// ticker redraws the line of an image build phase every second.
type ticker struct {
	label string
	begin time.Time
	stop  chan struct{}
	done  bool // under Text.mu: the phase's last line is written
}

func (t *Text) startTick(label string) {
	k := &ticker{label: label, begin: time.Now(), stop: make(chan struct{})}
	t.tick = k
	io.WriteString(t.w, label+" ...")
	go func() {
		tk := time.NewTicker(t.every)
		defer tk.Stop()
		for {
			select {
			case <-k.stop:
				return
			case <-tk.C:
				t.mu.Lock()
				if !k.done {
					fmt.Fprintf(t.w, "\r%s ... %s", k.label, Since(k.begin).tenths())
				}
				t.mu.Unlock()
			}
		}
	}()
}

func (t *Text) stopTick() {
	if k := t.tick; k != nil {
		k.done = true
		close(k.stop)
		t.tick = nil
	}
}
