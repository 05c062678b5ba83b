package lab

import (
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/topology"
)

// The values that reach libvirt XML unvalidated are paths (the user's disk,
// the lab file in the tag): XML must carry them back exactly.
func TestHostileValuesInXML(t *testing.T) {
	const path = `/srv/a"b'<c>&d ]]> e.yaml`
	if err := topology.CheckImage(path); err != nil {
		t.Fatalf("a disk path is the user's business: %v", err)
	}
	img := image.Image{Kind: image.UserDisk, Name: "d", Disk: path, Format: "qcow2"}
	x, err := host.OverlayXML("tedu_web1.qcow2", img, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var v libvirtxml.StorageVolume
	if err := v.Unmarshal(x); err != nil || v.BackingStore == nil || v.BackingStore.Path != path {
		t.Errorf("overlay backing store: %v %+v\n%s", err, v.BackingStore, x)
	}

	lab := mustLab(t, "tedu-nat")
	lab.File = path
	x, err = host.DomainXML(lab, lab.Node("web1"), host.DomainSpec{Type: "qemu", Image: img, Overlay: path, Seed: path, ConsoleLog: path, InstanceID: path, Mgmt: "10.250.0.12"})
	if err != nil {
		t.Fatal(err)
	}
	var d libvirtxml.Domain
	if err := d.Unmarshal(x); err != nil {
		t.Fatalf("%v\n%s", err, x)
	}
	tag, ok := host.ParseTag(d.Metadata.XML)
	if !ok || tag.File != path || tag.InstanceID != path || tag.Node != "web1" {
		t.Errorf("tag %+v\n%s", tag, d.Metadata.XML)
	}
	if d.Devices.Disks[0].Source.File.File != path || d.Devices.Serials[0].Log.File != path {
		t.Errorf("paths changed in the domain XML:\n%s", x)
	}
}
