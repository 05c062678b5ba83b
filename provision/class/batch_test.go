package class

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// At most limit run at once; a failing item does not stop the others.
func TestEachBounded(t *testing.T) {
	var mu sync.Mutex
	running, peak := 0, 0
	errs := Each(context.Background(), 10, 3, func(_ context.Context, i int) error {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		if i == 4 {
			return errors.New("boot timed out")
		}
		return nil
	})
	if peak != 3 {
		t.Fatalf("peak %d, want 3", peak)
	}
	for i, err := range errs {
		if (err != nil) != (i == 4) {
			t.Fatalf("item %d: %v", i, err)
		}
	}
}

// Once ctx ends nothing more starts; each item still gets its outcome.
func TestEachCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	out := Each(ctx, 5, 1, func(ctx context.Context, i int) string {
		if i == 0 {
			close(started)
			cancel()
			return "ran"
		}
		if ctx.Err() != nil {
			return "not started"
		}
		return "ran"
	})
	<-started
	if out[0] != "ran" || out[4] != "not started" {
		t.Fatal(out)
	}
}
