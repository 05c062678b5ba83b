package host

import (
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
)

func TestNetworkXMLIsolatedWithoutHost(t *testing.T) {
	lab := mustLab(t, "tedu-nat") // its networks say no host:
	n := networkXML(t, lab, lab.Network("private1"))
	if len(n.IPs) != 0 || n.Forward != nil {
		t.Errorf("a network without host: must carry no address and forward nothing: %+v %+v", n.IPs, n.Forward)
	}
}

func TestNetworkXML(t *testing.T) {
	lab := withClassroomHosts(mustLab(t, "tedu-nat"))
	n := networkXML(t, lab, lab.Network("private2"))
	if n.Name != "tedu-private2" {
		t.Errorf("name %q", n.Name)
	}
	if n.Forward != nil {
		t.Errorf("a lab network must be isolated, has <forward mode=%q>", n.Forward.Mode)
	}
	if n.Bridge == nil || n.Bridge.Name != paths.BridgeName(lab, lab.Network("private2")) {
		t.Errorf("bridge %+v", n.Bridge)
	}
	if n.DNS == nil || n.DNS.Enable != "no" {
		t.Errorf("DNS should be off: %+v", n.DNS)
	}
	if len(n.IPs) != 1 || n.IPs[0].Address != "192.168.2.254" || n.IPs[0].Prefix != 24 {
		t.Fatalf("host address: %+v", n.IPs)
	}
	dhcp := n.IPs[0].DHCP
	if dhcp == nil || len(dhcp.Ranges) != 0 {
		t.Fatalf("want DHCP host entries and no dynamic range: %+v", dhcp)
	}
	want := map[string]string{ // MAC -> address, every NIC with an address on private2
		lab.Node("lvs1").NIC("eth1").MAC: "192.168.2.5",
		lab.Node("web1").NIC("eth1").MAC: "192.168.2.100",
		lab.Node("web2").NIC("eth1").MAC: "192.168.2.200",
	}
	if len(dhcp.Hosts) != len(want) {
		t.Errorf("DHCP hosts %+v, want %v", dhcp.Hosts, want)
	}
	for _, h := range dhcp.Hosts {
		if want[h.MAC] != h.IP {
			t.Errorf("DHCP host %+v: want %s", h, want[h.MAC])
		}
	}
	tag, ok := ParseTag(n.Metadata.XML)
	if !ok || tag.Name != "tedu" || tag.Network != "private2" || tag.File != "embedded:tedu-nat" {
		t.Errorf("tag %+v (%v)", tag, ok)
	}
}

func TestDomainXMLBuiltImage(t *testing.T) {
	lab := mustLab(t, "tedu-nat")
	node := lab.Node("web1")
	node.Memory, node.VCPUs = 768, 2
	img := image.Image{Kind: image.Built, Name: "debian-12", Disk: "/img/disk.qcow2", Format: "qcow2",
		Kernel: "/img/vmlinuz", Initrd: "/img/initrd.img", Cmdline: image.Cmdline}
	x, err := DomainXML(lab, node, DomainSpec{Type: "qemu", Image: img, Overlay: "/pool/tedu_web1.qcow2",
		Seed: "/pool/tedu_web1.seed.iso", ConsoleLog: "/var/log/lvslab/tedu-web1.log", InstanceID: "tedu-web1-1234", Mgmt: "10.250.0.12"})
	if err != nil {
		t.Fatal(err)
	}
	var d libvirtxml.Domain
	if err := d.Unmarshal(x); err != nil {
		t.Fatal(err)
	}
	if d.Type != "qemu" || d.Name != "tedu-web1" {
		t.Errorf("type %q name %q", d.Type, d.Name)
	}
	if d.Memory.Value != 768 || d.Memory.Unit != "MiB" || d.VCPU.Value != 2 {
		t.Errorf("memory %+v vcpu %+v", d.Memory, d.VCPU)
	}
	if tcg := d.Features.TCG; tcg == nil || tcg.TBCache == nil || tcg.TBCache.Size != TCGCacheMiB || tcg.TBCache.Unit != "MiB" {
		t.Errorf("a TCG guest's translation cache: %+v", tcg)
	}
	if d.OS.Kernel != img.Kernel || d.OS.Initrd != img.Initrd || d.OS.Cmdline != image.Cmdline+" norandmaps" {
		t.Errorf("direct kernel boot: %+v", d.OS)
	}
	if len(d.OS.BootDevices) != 0 {
		t.Errorf("direct kernel boot needs no boot device: %+v", d.OS.BootDevices)
	}
	disks := d.Devices.Disks
	if len(disks) != 2 {
		t.Fatalf("disks: %+v", disks)
	}
	if disks[0].Source.File.File != "/pool/tedu_web1.qcow2" || disks[0].Target.Dev != "vda" || disks[0].Target.Bus != "virtio" || disks[0].Driver.Type != "qcow2" {
		t.Errorf("overlay disk: %+v %+v %+v", disks[0].Source.File, disks[0].Target, disks[0].Driver)
	}
	if disks[1].Source.File.File != "/pool/tedu_web1.seed.iso" || disks[1].Target.Dev != "vdb" || disks[1].ReadOnly == nil || disks[1].Driver.Type != "raw" {
		t.Errorf("seed disk: %+v %+v", disks[1].Source.File, disks[1].Target)
	}
	ifs := d.Devices.Interfaces
	if len(ifs) != len(node.NICs)+1 {
		t.Fatalf("%d interfaces for %d NICs and the management NIC", len(ifs), len(node.NICs))
	}
	if m := ifs[len(ifs)-1]; m.MAC.Address != MgmtMAC("tedu", "web1") || m.Source.Network.Network != "tedu_mgmt" {
		t.Errorf("the last NIC is not the management NIC: %+v %+v", m.MAC, m.Source.Network)
	}
	for i, nic := range node.NICs { // file order: eth0, eth1
		if ifs[i].MAC.Address != nic.MAC || ifs[i].Source.Network.Network != "tedu-"+nic.Network || ifs[i].Model.Type != "virtio" {
			t.Errorf("NIC %d: %+v %+v, want %s on %s", i, ifs[i].MAC, ifs[i].Source.Network, nic.MAC, nic.Network)
		}
	}
	if s := d.Devices.Serials; len(s) != 1 || s[0].Log == nil || s[0].Log.File != "/var/log/lvslab/tedu-web1.log" {
		t.Errorf("serial console log: %+v", s)
	}
	if c := d.Devices.Channels; len(c) != 1 || c[0].Target == nil || c[0].Target.VirtIO == nil || c[0].Target.VirtIO.Name != AgentChannel ||
		c[0].Source == nil || c[0].Source.UNIX == nil {
		t.Errorf("no virtio-serial channel to the guest agent (a UNIX socket libvirt places): %+v", c)
	}
	tag, ok := ParseTag(d.Metadata.XML)
	want := Tag{Name: "tedu", Node: "web1", Role: "web", File: "embedded:tedu-nat", InstanceID: "tedu-web1-1234", Mgmt: "10.250.0.12", Seed: image.SeedAgent}
	tag.XMLName = want.XMLName
	if !ok || tag != want {
		t.Errorf("tag %+v, want %+v", tag, want)
	}
	if !WantHardware(lab, node).Equal(DomainHardware(&d)) {
		t.Errorf("hardware %v, want %v", DomainHardware(&d), WantHardware(lab, node))
	}
}

func TestDomainXMLUserDiskBootsItsBootloader(t *testing.T) {
	lab := mustLab(t, "tedu-nat")
	img := image.Image{Kind: image.UserDisk, Name: "cloud.qcow2", Disk: "/home/u/cloud.qcow2", Format: "qcow2"}
	x, err := DomainXML(lab, lab.Node("lvs1"), DomainSpec{Type: "kvm", Image: img, Overlay: "/p/o.qcow2", Seed: "/p/s.iso", ConsoleLog: "/l"})
	if err != nil {
		t.Fatal(err)
	}
	var d libvirtxml.Domain
	if err := d.Unmarshal(x); err != nil {
		t.Fatal(err)
	}
	if d.OS.Kernel != "" || len(d.OS.BootDevices) != 1 || d.OS.BootDevices[0].Dev != "hd" {
		t.Errorf("bootloader boot: %+v", d.OS)
	}
	if d.Type != "kvm" || d.CPU == nil || d.CPU.Mode != "host-passthrough" {
		t.Errorf("kvm: type %q cpu %+v", d.Type, d.CPU)
	}
}

// Only a TCG guest boots without ASLR: under KVM no block is translated.
func TestDomainXMLKVMKeepsASLR(t *testing.T) {
	lab := mustLab(t, "tedu-nat")
	img := image.Image{Kind: image.Built, Name: "debian-12", Disk: "/img/disk.qcow2", Format: "qcow2",
		Kernel: "/img/vmlinuz", Initrd: "/img/initrd.img", Cmdline: image.Cmdline}
	for typ, want := range map[DomainType]string{DomainKVM: image.Cmdline, DomainQEMU: image.Cmdline + " norandmaps"} {
		x, err := DomainXML(lab, lab.Node("lvs1"), DomainSpec{Type: typ, Image: img, Overlay: "/p/o.qcow2", Seed: "/p/s.iso", ConsoleLog: "/l"})
		if err != nil {
			t.Fatal(err)
		}
		var d libvirtxml.Domain
		if err := d.Unmarshal(x); err != nil {
			t.Fatal(err)
		}
		if d.OS.Cmdline != want {
			t.Errorf("%s guest's kernel command line %q, want %q", typ, d.OS.Cmdline, want)
		}
	}
}

func TestOverlayXMLIsLinkedClone(t *testing.T) {
	x, err := OverlayXML("tedu_web1.qcow2", image.Image{Disk: "/img/disk.qcow2", Format: "qcow2"}, 4<<30)
	if err != nil {
		t.Fatal(err)
	}
	var v libvirtxml.StorageVolume
	if err := v.Unmarshal(x); err != nil {
		t.Fatal(err)
	}
	if v.Target.Format.Type != "qcow2" || v.BackingStore == nil || v.BackingStore.Path != "/img/disk.qcow2" || v.BackingStore.Format.Type != "qcow2" || v.Capacity.Value != 4<<30 {
		t.Errorf("overlay: %s", x)
	}
}

// networkXML is nw's libvirt definition, parsed back.
func networkXML(t *testing.T, lab *topology.Lab, nw *topology.Network) libvirtxml.Network {
	t.Helper()
	x, err := NetworkXML(lab, nw)
	if err != nil {
		t.Fatal(err)
	}
	var n libvirtxml.Network
	if err := n.Unmarshal(x); err != nil {
		t.Fatal(err)
	}
	return n
}

var (
	mustLab            = rolestest.Lab
	withClassroomHosts = rolestest.WithClassroomHosts
)

// An image with its own bootloader boots from its disk with cloud-init's
// datasource pinned in the SMBIOS serial number; one with only an EFI
// system partition gets UEFI firmware. The tag records how the VM was
// seeded, and test:///default takes the definition.
func TestDomainXMLOwnBootloaderPinsNoCloud(t *testing.T) {
	lab := mustLab(t, "tedu-nat")
	for boot, firmware := range map[string]string{image.BootBIOS: "", image.BootUEFI: "efi"} {
		img := image.Image{Kind: image.Imported, Name: "base", Disk: "/img/base/disk.qcow2", Format: "qcow2",
			Manifest: &image.Manifest{Detected: &image.Detected{Readable: true, Boot: boot}}}
		x, err := DomainXML(lab, lab.Node("web1"), DomainSpec{Type: "test", Image: img, Overlay: "/p/o.qcow2", Seed: "/p/s.iso", ConsoleLog: "/l", Mgmt: "10.250.0.12"})
		if err != nil {
			t.Fatal(err)
		}
		var d libvirtxml.Domain
		if err := d.Unmarshal(x); err != nil {
			t.Fatal(err)
		}
		if d.OS.Firmware != firmware || d.OS.SMBios == nil || d.OS.SMBios.Mode != "sysinfo" || len(d.OS.BootDevices) != 1 || d.OS.Kernel != "" {
			t.Errorf("%s: os %+v", boot, d.OS)
		}
		if len(d.SysInfo) != 1 || d.SysInfo[0].SMBIOS == nil || d.SysInfo[0].SMBIOS.System == nil ||
			d.SysInfo[0].SMBIOS.System.Entry[0] != (libvirtxml.DomainSysInfoEntry{Name: "serial", Value: "ds=nocloud"}) {
			t.Errorf("%s: sysinfo %+v", boot, d.SysInfo)
		}
		if tag, ok := ParseTag(d.Metadata.XML); !ok || tag.Seed != image.SeedConsole {
			t.Errorf("%s: tag %+v", boot, tag)
		}
		if boot != image.BootBIOS {
			continue
		}
		conn, err := Connect("test:///default")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := DefineDomain(conn, "tedu-web1", x); err != nil {
			t.Fatal(err)
		}
		dom, _ := conn.LookupDomainByName("tedu-web1")
		back, _ := dom.GetXMLDesc(0)
		dom.Undefine()
		dom.Free()
		if !strings.Contains(back, "<entry name='serial'>ds=nocloud</entry>") || !strings.Contains(back, `seed="console"`) {
			t.Errorf("test:///default kept:\n%s", back)
		}
	}
}
