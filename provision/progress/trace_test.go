package progress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTraceLinesNeverInterleave(t *testing.T) {
	var b bytes.Buffer
	SetDebug(Plain(&b))
	defer SetDebug(nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			Trace("ssh web1", fmt.Sprintf("cmd%d", i), time.Now(), fmt.Sprintf("out%d-a\nout%d-b\n", i, i), nil)
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 60 {
		t.Fatalf("%d lines, want 60:\n%s", len(lines), b.String())
	}
	for j := 0; j < len(lines); j += 3 {
		var i int
		if _, err := fmt.Sscanf(lines[j], "debug: ssh web1: cmd%d (", &i); err != nil {
			t.Fatalf("line %d %q: %v", j, lines[j], err)
		}
		if lines[j+1] != fmt.Sprintf("    | out%d-a", i) || lines[j+2] != fmt.Sprintf("    | out%d-b", i) {
			t.Fatalf("output of cmd%d interleaved:\n%s", i, b.String())
		}
	}
}

func TestLibvirtTraceAndOff(t *testing.T) {
	var b bytes.Buffer
	SetDebug(Plain(&b))
	err := Libvirt("NetworkCreate tedu-private1", func() error { return errors.New("Network is already in use") })
	SetDebug(nil)
	if err == nil || !strings.HasPrefix(b.String(), "debug: libvirt: NetworkCreate tedu-private1 (") || !strings.Contains(b.String(), "): Network is already in use\n") {
		t.Fatalf("err %v, trace %q", err, b.String())
	}
	b.Reset()
	if Libvirt("DomainCreate x", func() error { return nil }) != nil || b.Len() != 0 || Debugging() {
		t.Fatalf("with the trace off: %q", b.String())
	}
}

// With JSON lines, each call is one "debug.call" event.
func TestTraceAsJSON(t *testing.T) {
	var b bytes.Buffer
	SetDebug(fixedJSON(&b))
	defer SetDebug(nil)
	Trace("ssh web1", "cat /etc/os-release", time.Now().Add(-1500*time.Millisecond), "ID=debian\n", errors.New("exit status 1"))
	var ev struct {
		Type, Where, Call, Output, Error string
		Seconds                          float64
	}
	if err := json.Unmarshal(b.Bytes(), &ev); err != nil || ev.Type != "debug.call" || ev.Where != "ssh web1" || ev.Call != "cat /etc/os-release" ||
		ev.Output != "ID=debian\n" || ev.Error != "exit status 1" || ev.Seconds < 1.5 || ev.Seconds > 10 {
		t.Errorf("%v: %s", err, b.String())
	}
}
