package verify

import (
	"os"
	"testing"
)

// The fake director's counters are exact at once; tests that give wrong
// counters on purpose must not wait for them to settle.
func TestMain(m *testing.M) {
	CounterSettle = 0
	os.Exit(m.Run())
}
