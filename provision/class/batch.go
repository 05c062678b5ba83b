package class

import (
	"context"
	"sync"
)

// Each runs f on every index of n items, at most limit at a time, started
// in order: a copy's SSH wait is bounded, so a class's copies boot a batch
// at a time instead of all at once (where thirty would time out together).
// One failing does not stop the others; f reports each outcome in its own
// result. Once ctx ends no further item starts (f is called with ctx ended,
// to say so).
func Each[T any](ctx context.Context, n, limit int, f func(ctx context.Context, i int) T) []T {
	out := make([]T, n)
	limit = max(limit, 1)
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			out[i] = f(ctx, i)
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			out[i] = f(ctx, i)
		})
	}
	wg.Wait()
	return out
}
