package image

import (
	"time"

	"github.com/lvslab/lvslab/provision/progress"
)

// phases numbers the build's phases and reports each as it starts and
// ends, with its time.
type phases struct {
	sink  progress.Sink
	total int
	n     int
}

// run runs fn as the next phase.
func (p *phases) run(title string, fn func() error) error {
	p.n++
	begin := time.Now()
	p.sink.Emit(progress.PhaseStarted{N: p.n, Total: p.total, Title: title})
	err := fn()
	p.sink.Emit(progress.PhaseDone{N: p.n, Total: p.total, Title: title, Elapsed: progress.Since(begin), Error: progress.ErrorText(err)})
	return err
}
