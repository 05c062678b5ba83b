package progress

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Lines written in pieces come out whole, each with its prefix; a chunk of
// several lines is one write; the last line waits for Flush.
func TestWholeLinesEachPrefixed(t *testing.T) {
	var out recorder
	w := NewPrefixed(&out, nil, "web1 | ")
	for _, piece := range []string{"192.168.", "2.100/24\nlo", "\n\nup\ndown\nhalf"} {
		if n, err := w.Write([]byte(piece)); n != len(piece) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", piece, n, err)
		}
	}
	want := []string{"web1 | 192.168.2.100/24\n", "web1 | lo\nweb1 | \nweb1 | up\nweb1 | down\n"}
	if !slices.Equal(out.writes(), want) {
		t.Fatalf("writes %q, want %q", out.writes(), want)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil { // nothing left: nothing written
		t.Fatal(err)
	}
	want = append(want, "web1 | half\n")
	if !slices.Equal(out.writes(), want) {
		t.Fatalf("after Flush, writes %q, want %q", out.writes(), want)
	}
}

// Writers of one destination that write at once, in pieces that split
// their lines anywhere, never mix two lines, never write at the same time,
// and lose no line; each source's lines keep their order. So do two
// goroutines writing whole lines to one Writer.
func TestConcurrentWritersDoNotInterleave(t *testing.T) {
	var out recorder
	var mu sync.Mutex
	const sources, lines = 8, 200
	var wg sync.WaitGroup
	for s := range sources {
		w := NewPrefixed(&out, &mu, fmt.Sprintf("s%d | ", s))
		wg.Go(func() {
			var text strings.Builder
			for i := range lines {
				fmt.Fprintf(&text, "line %d of s%d\n", i, s)
			}
			b := []byte(text.String())
			for len(b) > 0 { // pieces of 1 to 13 bytes
				n := min(len(b), 1+(len(b)*7+s)%13)
				w.Write(b[:n])
				b = b[n:]
			}
		})
	}
	shared := NewPrefixed(&out, &mu, "both | ")
	for g := range 2 {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(shared, "line %d of g%d\n", i, g)
			}
		})
	}
	wg.Wait()
	if out.overlaps.Load() != 0 {
		t.Errorf("%d writes reached the destination while another was under way", out.overlaps.Load())
	}
	next := map[string]int{}
	for line := range strings.Lines(strings.Join(out.writes(), "")) {
		var src, who string
		var i int
		_, err := fmt.Sscanf(line, "%s | line %d of %s\n", &src, &i, &who)
		if err != nil || (src != who && src != "both") || line != fmt.Sprintf("%s | line %d of %s\n", src, i, who) {
			t.Fatalf("a mixed line: %q", line)
		}
		if i != next[who] {
			t.Fatalf("%s: line %d after line %d", who, i, next[who]-1)
		}
		next[who]++
	}
	for s := range sources {
		if got := next[fmt.Sprintf("s%d", s)]; got != lines {
			t.Errorf("s%d: %d lines of %d", s, got, lines)
		}
	}
	if next["g0"] != lines || next["g1"] != lines {
		t.Errorf("one Writer of two goroutines: %d and %d lines of %d", next["g0"], next["g1"], lines)
	}
}

// The destination's error is the Writer's.
func TestWriteErrorReturned(t *testing.T) {
	broken := errors.New("broken pipe")
	w := NewPrefixed(failing{broken}, nil, "p ")
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Errorf("nothing was written yet, got %v", err)
	}
	if err := w.Flush(); !errors.Is(err, broken) {
		t.Errorf("Flush: %v", err)
	}
	if _, err := w.Write([]byte("line\n")); !errors.Is(err, broken) {
		t.Errorf("Write: %v", err)
	}
}

// recorder keeps each write it gets and counts the writes that came while
// another was under way (they would mix on a real stream).
type recorder struct {
	mu       sync.Mutex
	got      []string
	busy     atomic.Bool
	overlaps atomic.Int32
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.busy.CompareAndSwap(false, true) {
		r.overlaps.Add(1)
	}
	time.Sleep(time.Microsecond)
	r.mu.Lock()
	r.got = append(r.got, string(b))
	r.mu.Unlock()
	r.busy.Store(false)
	return len(b), nil
}

func (r *recorder) writes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

type failing struct{ err error }

func (f failing) Write([]byte) (int, error) { return 0, f.err }
