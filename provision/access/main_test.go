package access

import (
	"fmt"
	"path/filepath"
	"testing"

	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/host/hosttest"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
)

// labFixture is where upLab left the lab's state.
type labFixture struct{ Paths paths.Root }

// upLab is what Access finds of a lab brought up, on test:///default and
// without Up: the lab's login key in its state folder, and a running
// domain per node, tagged with the management address up would give it
// (.10 on, in file order).
func upLab(t *testing.T, lab *topology.Lab) (*libvirt.Connect, labFixture) {
	t.Helper()
	conn := hosttest.Conn(t)
	root := paths.InHome(filepath.Join(t.TempDir(), "home"))
	if _, _, err := sshx.EnsureKey(root.KeyFile(lab.Name)); err != nil {
		t.Fatal(err)
	}
	for i, node := range lab.Nodes {
		if d, err := conn.LookupDomainByName(paths.DomainName(lab.Name, node.Name)); err == nil {
			d.Free() // up reuses it, as here (connections open at once share the mock's state)
			continue
		}
		x, err := host.DomainXML(lab, node, host.DomainSpec{Type: host.DomainTest,
			Overlay: "/p/" + node.Name + ".qcow2", Seed: "/p/" + node.Name + ".iso", ConsoleLog: root.ConsoleLog(lab.Name, node.Name),
			InstanceID: node.Name, Mgmt: fmt.Sprintf("10.250.0.%d", 10+i)})
		if err != nil {
			t.Fatal(err)
		}
		d, err := conn.DomainDefineXML(x)
		if err != nil {
			t.Fatal(err)
		}
		err = d.Create()
		d.Free()
		if err != nil {
			t.Fatal(err)
		}
	}
	return conn, labFixture{Paths: root}
}

var mustLab = rolestest.Lab
