package sshx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
)

// WaitReady dials until the node accepts the login or ctx ends, calling
// attempt (if not nil) with each failure so callers can show progress. A
// changed host key stops it at once: waiting will not fix that.
func WaitReady(ctx context.Context, cfg Config, poll time.Duration, attempt func(err error)) (*Client, error) {
	cfg = cfg.withDefaults()
	conn, err := dialUntil(ctx, cfg, poll, attempt)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, conn: conn}, nil
}

func dialUntil(ctx context.Context, cfg Config, poll time.Duration, attempt func(err error)) (*ssh.Client, error) {
	if poll <= 0 {
		poll = time.Second
	}
	start := time.Now()
	var prev error
	for tries := 1; ; tries++ {
		conn, err := dial(ctx, cfg)
		if err == nil {
			return conn, nil
		}
		var changed *HostKeyChangedError
		if errors.As(err, &changed) {
			return nil, err
		}
		if attempt != nil {
			attempt(err)
		}
		select {
		case <-ctx.Done():
			// A dial cut short by ctx says less than the failure before it.
			if errors.Is(err, context.DeadlineExceeded) && prev != nil {
				err = prev
			}
			return nil, fmt.Errorf("gave up after %d tries in %s: %w",
				tries, time.Since(start).Round(time.Millisecond), err)
		case <-time.After(poll):
		}
		prev = err
	}
}
