package progress

import (
	"bytes"
	"io"
	"sync"
)

// Prefixed puts the output of several sources that run at once (nodes,
// copies of a class, simulated hypervisors) into one stream, a whole line
// at a time, each line prefixed with the name of its source.
//
// A Prefixed prefixes each line written to it and passes complete lines on
// to its destination, under a lock shared by every Prefixed of that
// destination, so that lines of different sources never mix. A last line
// without a newline waits for Flush. A Prefixed may be written from several
// goroutines.
type Prefixed struct {
	dest   io.Writer
	destMu *sync.Mutex // shared with the destination's other writers
	prefix []byte

	mu   sync.Mutex // guards part
	part []byte     // the line begun but not ended yet
}

// NewPrefixed is a Prefixed to dest whose lines begin with prefix; destMu
// is the lock of dest shared by its Prefixed writers (nil: a lock of this
// one's own, enough when it is dest's only writer).
func NewPrefixed(dest io.Writer, destMu *sync.Mutex, prefix string) *Prefixed {
	if destMu == nil {
		destMu = new(sync.Mutex)
	}
	return &Prefixed{dest: dest, destMu: destMu, prefix: []byte(prefix)}
}

// Write takes b and writes the lines it completes, prefixed, in one write
// to the destination.
func (p *Prefixed) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.part = append(p.part, b...)
	end := bytes.LastIndexByte(p.part, '\n')
	if end < 0 {
		return len(b), nil
	}
	var out []byte
	for line := range bytes.Lines(p.part[:end+1]) {
		out = append(append(out, p.prefix...), line...)
	}
	p.part = append(p.part[:0], p.part[end+1:]...)
	return len(b), p.emit(out)
}

// Flush writes a last line that has no newline yet, ending it with one.
func (p *Prefixed) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.part) == 0 {
		return nil
	}
	out := append(append(append([]byte(nil), p.prefix...), p.part...), '\n')
	p.part = p.part[:0]
	return p.emit(out)
}

func (p *Prefixed) emit(out []byte) error {
	p.destMu.Lock()
	defer p.destMu.Unlock()
	_, err := p.dest.Write(out)
	return err
}
