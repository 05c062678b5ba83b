package image

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/lvslab/lvslab/provision/console"
)

// progress prints one line per build phase with its elapsed time. On a
// terminal the line ticks every second; elsewhere (CI logs, files) it prints
// plain start and end lines.
type progress struct {
	w     io.Writer
	tty   bool
	total int
	n     int
	start time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, tty: console.Interactive(w), total: total, start: time.Now()}
}

// phase runs fn as the next numbered phase.
func (p *progress) phase(title string, fn func() error) error {
	p.n++
	label := fmt.Sprintf("[%d/%d] %s", p.n, p.total, title)
	begin := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if p.tty {
		fmt.Fprintf(p.w, "%s ...", label)
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					fmt.Fprintf(p.w, "\r%s ... %s", label, since(begin))
				}
			}
		}()
	} else {
		fmt.Fprintf(p.w, "%s ...\n", label)
	}
	err := fn()
	close(stop)
	wg.Wait()
	status := "done"
	if err != nil {
		status = "FAILED"
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%s ... %s in %s\x1b[K\n", label, status, since(begin))
	} else {
		fmt.Fprintf(p.w, "%s: %s in %s\n", label, status, since(begin))
	}
	return err
}

func since(t time.Time) string {
	return time.Since(t).Round(100 * time.Millisecond).String()
}
