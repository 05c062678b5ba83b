package image

import (
	"context"
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

// phase is one numbered step of a build.
type phase struct {
	title string
	fn    func() error
}

// runPhases runs a build's or an import's phases in order, each reported
// to sink as it starts and ends, up to the first failure or the end of ctx.
func runPhases(ctx context.Context, sink progress.Sink, list []phase) error {
	p := &phases{sink: sink, total: len(list)}
	for _, s := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := p.run(s.title, s.fn); err != nil {
			return err
		}
	}
	return nil
}
