package sshx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
)

// Retry says how WaitReady keeps dialing a node that does not answer yet.
type Retry struct {
	// Poll is the pause between tries (default 1 s).
	Poll time.Duration
	// Attempt, when set, sees each failed try; an error it returns ends the
	// wait at once with that error (e.g. the VM stopped).
	Attempt func(addr string, err error) error
}

// WaitReady dials until the node accepts the login or ctx ends: the one
// polling loop of lvslab (boot waits and reconnects alike). A changed host
// key, or a jump host that refuses us, stops it at once: waiting will not
// fix that.
func WaitReady(ctx context.Context, cfg Config, r Retry) (*Client, error) {
	cfg = cfg.withDefaults()
	conn, err := dialUntil(ctx, cfg, r)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, conn: conn}, nil
}

func dialUntil(ctx context.Context, cfg Config, r Retry) (*ssh.Client, error) {
	if r.Poll <= 0 {
		r.Poll = time.Second
	}
	start := time.Now()
	var prev error
	for tries := 1; ; tries++ {
		conn, err := dial(ctx, cfg)
		if err == nil {
			return conn, nil
		}
		var changed *HostKeyChangedError
		var jump *JumpError
		if errors.As(err, &changed) || errors.As(err, &jump) {
			return nil, err
		}
		if r.Attempt != nil {
			if stop := r.Attempt(cfg.Addr, err); stop != nil {
				return nil, stop
			}
		}
		select {
		case <-ctx.Done():
			// A dial cut short by ctx says less than the failure before it.
			if errors.Is(err, context.DeadlineExceeded) && prev != nil {
				err = prev
			}
			return nil, fmt.Errorf("gave up after %d tries in %s: %w",
				tries, time.Since(start).Round(time.Millisecond), err)
		case <-time.After(r.Poll):
		}
		prev = err
	}
}
