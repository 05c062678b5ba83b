package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/lab"
)

// status says per node what runs in it, what manages its network and how
// it was seeded; a node with none of it known (no VM) gets no line.
func TestStatusGuestLines(t *testing.T) {
	var b bytes.Buffer
	printStatus(&b, &lab.LabStatus{Lab: "tedu", Nodes: []lab.NodeStatus{
		{Node: "lvs1", State: "running", OS: "Debian GNU/Linux 12 (bookworm)", Network: "systemd-networkd", Seeded: "cloud-init"},
		{Node: "web1", State: "running", Seeded: "console"},
		{Node: "web2", State: "missing"},
	}})
	out := b.String()
	for _, want := range []string{
		"  guest lvs1: Debian GNU/Linux 12 (bookworm), network by systemd-networkd, seeded by cloud-init\n",
		"  guest web1: OS unknown, network by unknown, seeded by console\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "guest web2") {
		t.Errorf("a node without a VM got a guest line:\n%s", out)
	}
}
