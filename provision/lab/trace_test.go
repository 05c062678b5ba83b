package lab

import (
	"context"
	"regexp"
	"testing"

	"github.com/lvslab/lvslab/provision/progress/progresstest"
)

// --debug: every libvirt call up and down make is traced with its duration.
func TestDebugTracesLibvirtCalls(t *testing.T) {
	conn, opts := fresh(t)
	trace := progresstest.Debug(t)
	if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err != nil {
		t.Fatal(err)
	}
	if _, err := Down(context.Background(), conn, Selector{Lab: "tedu"}, DownOptions{Paths: opts.Paths}); err != nil {
		t.Fatal(err)
	}
	for _, call := range []string{
		"define storage pool lvslab", "build storage pool lvslab", "start storage pool lvslab",
		"define network tedu-private1", "start network tedu-private1",
		"create volume tedu_web1.qcow2", "create volume tedu_web1.seed.iso", `upload \d+ bytes to volume tedu_web1.seed.iso`,
		"define domain tedu-web1", "start domain tedu-web1", "list domains",
		"look up domain tedu-web1", "stop domain tedu-web1", "undefine domain tedu-web1", "undefine network tedu-private2",
		"delete volume tedu_web2.qcow2",
	} {
		re := regexp.MustCompile(`(?m)^debug: libvirt: ` + call + ` \([0-9.]+[mµn]?s\)$`)
		if !re.Match(trace.Bytes()) {
			t.Errorf("the trace lacks %q", call)
		}
	}
	if t.Failed() {
		t.Log(trace.String())
	}
}
