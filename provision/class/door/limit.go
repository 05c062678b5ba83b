package door

import (
	"sync"
	"time"
)

// maxLimiterEntries bounds a limiter's memory: names and addresses are the
// client's to choose.
const maxLimiterEntries = 16384

// limiter counts failed logins per key (a name or an address) and locks a
// key that failed too often: free failures within window, then a lockout
// that doubles at each further failure, up to maxLock.
type limiter struct {
	mu                    sync.Mutex
	free                  int
	window, lock, maxLock time.Duration
	now                   func() time.Time
	m                     map[string]*record
}

type record struct {
	fails int
	last  time.Time // last failure
	until time.Time // locked until
}

func newLimiter(free int, window, lock, maxLock time.Duration) *limiter {
	return &limiter{free: free, window: window, lock: lock, maxLock: maxLock, now: time.Now, m: map[string]*record{}}
}

// blocked returns how long key stays locked (0: not locked).
func (l *limiter) blocked(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.m[key]; r != nil {
		if d := r.until.Sub(l.now()); d > 0 {
			return d
		}
	}
	return 0
}

// begin is an attempt for key: it returns the lock's remaining time if key
// is locked; otherwise it counts the attempt as a failure at once (undo
// takes it back when it succeeds), so that attempts running side by side
// cannot exceed the limit.
func (l *limiter) begin(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	r := l.m[key]
	if r != nil {
		if d := r.until.Sub(now); d > 0 {
			return d
		}
		if now.Sub(r.last) > l.window {
			*r = record{}
		}
	} else {
		if len(l.m) >= maxLimiterEntries && !l.evict(now) {
			// every entry is locked: a storm from everywhere; refuse
			// newcomers until entries expire
			return l.lock
		}
		r = &record{}
		l.m[key] = r
	}
	r.fails++
	r.last = now
	if r.fails >= l.free {
		d := l.lock
		for i := l.free; i < r.fails && d < l.maxLock; i++ {
			d *= 2
		}
		r.until = now.Add(min(d, l.maxLock))
	}
	return 0
}

// undo takes back the failure begin counted, for an attempt that
// succeeded.
func (l *limiter) undo(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.m[key]; r != nil {
		if r.fails--; r.fails < l.free {
			r.until = time.Time{}
		}
		if r.fails <= 0 {
			delete(l.m, key)
		}
	}
}

// reset forgets key's failures (a name that logged in with its passphrase).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

// evict makes room: it drops the expired entries, or else the unlocked
// entry whose last failure is the oldest. It reports whether it made room.
func (l *limiter) evict(now time.Time) bool {
	var oldest string
	var oldestAt time.Time
	for k, r := range l.m {
		if now.Before(r.until) {
			continue
		}
		if now.Sub(r.last) > l.window {
			delete(l.m, k)
			continue
		}
		if oldest == "" || r.last.Before(oldestAt) {
			oldest, oldestAt = k, r.last
		}
	}
	if len(l.m) < maxLimiterEntries {
		return true
	}
	if oldest == "" {
		return false
	}
	delete(l.m, oldest)
	return true
}
