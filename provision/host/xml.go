package host

import (
	"fmt"
	"net/netip"
	"slices"

	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/topology"
)

// NetworkXML is the libvirt definition of a lab network: isolated (no
// <forward>, so nothing leaves it), no DNS. Only when the lab file gives
// the network a host: address does its bridge carry it, with DHCP host
// entries MAC -> lab address (for cloud images that ignore the seed's
// network config; no dynamic range); without one it is a plain L2 segment
// the host takes no part in, so copies with the same addresses coexist.
// The tag records the lab file.
func NetworkXML(lab *topology.Lab, nw *topology.Network) (string, error) {
	n := &libvirtxml.Network{
		Name:     paths.NetworkName(lab.Name, nw.Name),
		Metadata: &libvirtxml.NetworkMetadata{XML: Tag{Name: lab.Name, Network: nw.Name, File: lab.File}.Marshal()},
		Bridge:   &libvirtxml.NetworkBridge{Name: paths.BridgeName(lab, nw), STP: "off", Delay: "0"},
		DNS:      &libvirtxml.NetworkDNS{Enable: "no"},
	}
	if nw.Host.IsValid() {
		n.IPs = []libvirtxml.NetworkIP{{Address: nw.Host.String(), Prefix: uint(nw.CIDR.Bits())}}
		if hosts := DHCPHosts(lab, nw); len(hosts) > 0 {
			n.IPs[0].DHCP = &libvirtxml.NetworkDHCP{Hosts: hosts}
		}
	}
	return n.Marshal()
}

// DHCPHosts lists the lab's NICs with an address on nw, in file order.
func DHCPHosts(lab *topology.Lab, nw *topology.Network) []libvirtxml.NetworkDHCPHost {
	var hosts []libvirtxml.NetworkDHCPHost
	for _, node := range lab.Nodes {
		for _, nic := range node.NICs {
			if nic.Network == nw.Name && nic.Address.IsValid() {
				hosts = append(hosts, libvirtxml.NetworkDHCPHost{MAC: nic.MAC, Name: node.Name, IP: nic.Address.Addr().String()})
			}
		}
	}
	return hosts
}

// DomainSpec is what a node's domain is made of besides the lab.
type DomainSpec struct {
	// Type is the libvirt domain type: DomainKVM, DomainQEMU (TCG) or
	// DomainTest.
	Type DomainType
	// Image tells how the node boots: direct kernel boot for built images,
	// the disk's bootloader for a user's qcow2.
	Image image.Image
	// Overlay and Seed are the paths of the node's volumes.
	Overlay, Seed string
	// ConsoleLog is the file the serial console is logged to.
	ConsoleLog string
	// InstanceID and Mgmt (the node's management address) go into the tag.
	InstanceID, Mgmt string
	// Class and Student, of a class's copy, go into the tag too.
	Class, Student string
}

// TCGCacheMiB is the size of QEMU's translation cache for a TCG guest.
var TCGCacheMiB uint = 128

// TCGCmdline is added to a TCG guest's kernel command line. norandmaps:
// QEMU 7.2 reuses a translated block only at the virtual address it was
// translated at, so with ASLR every process translates libc and its own
// code again; at fixed addresses a process costs about half (ip 33 -> 13-22
// ms, ipvsadm 37 -> 14-17 ms in a guest). Under KVM nothing is translated
// and the guest keeps ASLR.
const TCGCmdline = "norandmaps"

// DomainXML is the libvirt definition of a node's VM: memory and vCPUs from
// the lab, the overlay as vda, the seed as read-only vdb, one virtio NIC per
// lab NIC in file order with the lab's MAC on its lab network, the serial
// console on a pty and logged to a file, the guest agent's channel,
// lvslab's tag in <metadata>, and last the management NIC on the lab's
// management network.
func DomainXML(lab *topology.Lab, node *topology.Node, spec DomainSpec) (string, error) {
	tag := Tag{Name: lab.Name, Node: node.Name, Role: node.Role, File: lab.File, InstanceID: spec.InstanceID, Mgmt: spec.Mgmt,
		Class: spec.Class, Student: spec.Student, Seed: spec.Image.Seeding()}
	port := uint(0)
	d := &libvirtxml.Domain{
		Type:        string(spec.Type),
		Name:        paths.DomainName(lab.Name, node.Name),
		Description: fmt.Sprintf("lvslab lab %s, node %s (%s)", lab.Name, node.Name, node.Role),
		Metadata:    &libvirtxml.DomainMetadata{XML: tag.Marshal()},
		Memory:      &libvirtxml.DomainMemory{Value: uint(node.Memory), Unit: "MiB"},
		VCPU:        &libvirtxml.DomainVCPU{Value: uint(node.VCPUs)},
		OS:          &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Type: "hvm", Arch: "x86_64"}},
		Features:    &libvirtxml.DomainFeatureList{ACPI: &libvirtxml.DomainFeature{}, APIC: &libvirtxml.DomainFeatureAPIC{}},
		Clock:       &libvirtxml.DomainClock{Offset: "utc"},
		OnPoweroff:  "destroy",
		OnReboot:    "restart",
		OnCrash:     "destroy",
		Devices: &libvirtxml.DomainDeviceList{
			Disks: []libvirtxml.DomainDisk{
				{
					Device: "disk",
					Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "qcow2", Discard: "unmap"},
					Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: spec.Overlay}},
					Target: &libvirtxml.DomainDiskTarget{Dev: "vda", Bus: "virtio"},
				},
				{
					Device:   "disk",
					Driver:   &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "raw"},
					Source:   &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: spec.Seed}},
					Target:   &libvirtxml.DomainDiskTarget{Dev: "vdb", Bus: "virtio"},
					ReadOnly: &libvirtxml.DomainDiskReadOnly{},
				},
			},
			Serials: []libvirtxml.DomainSerial{{
				Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
				Target: &libvirtxml.DomainSerialTarget{Port: &port},
				Log:    &libvirtxml.DomainChardevLog{File: spec.ConsoleLog, Append: "off"},
			}},
			// The guest agent's channel: lvslab's way in that needs no
			// guest network (agent.go).
			Channels: []libvirtxml.DomainChannel{agentChannel()},
			RNGs: []libvirtxml.DomainRNG{{
				Model:   "virtio",
				Backend: &libvirtxml.DomainRNGBackend{Random: &libvirtxml.DomainRNGBackendRandom{Device: "/dev/urandom"}},
			}},
			MemBalloon: &libvirtxml.DomainMemBalloon{Model: "none"},
		},
	}
	if spec.Type == DomainKVM {
		d.CPU = &libvirtxml.DomainCPU{Mode: "host-passthrough"}
	} else {
		// QEMU's default translation cache under TCG is 1 GiB; the part a
		// lab guest fills shows as host memory of every VM (make
		// bench-copies measures it).
		d.Features.TCG = &libvirtxml.DomainFeatureTCG{TBCache: &libvirtxml.DomainFeatureTCGTBCache{Unit: "MiB", Size: TCGCacheMiB}}
	}
	if spec.Image.DirectBoot() {
		d.OS.Kernel = spec.Image.Kernel
		d.OS.Initrd = spec.Image.Initrd
		d.OS.Cmdline = spec.Image.Cmdline
		if d.OS.Cmdline == "" {
			d.OS.Cmdline = image.Cmdline
		}
		if spec.Type != DomainKVM {
			d.OS.Cmdline += " " + TCGCmdline
		}
	} else {
		ownBootloader(d, spec.Image)
	}
	for _, hw := range WantHardware(lab, node) {
		d.Devices.Interfaces = append(d.Devices.Interfaces, libvirtxml.DomainInterface{
			MAC:    &libvirtxml.DomainInterfaceMAC{Address: hw.MAC},
			Source: &libvirtxml.DomainInterfaceSource{Network: &libvirtxml.DomainInterfaceSourceNetwork{Network: hw.Network}},
			Model:  &libvirtxml.DomainInterfaceModel{Type: "virtio"},
		})
	}
	return d.Marshal()
}

// NoCloudSerial is the SMBIOS system serial number a VM of an image with
// its own bootloader gets: cloud-init's ds-identify reads it and takes the
// NoCloud datasource (the "cidata" volume) alone, with no wait for a
// metadata server, as "ds=nocloud" on a kernel command line would.
const NoCloudSerial = "ds=nocloud"

// ownBootloader makes a domain boot from its disk (BIOS, or UEFI firmware
// for a disk with only an EFI system partition) and pins cloud-init's
// datasource in the SMBIOS serial number.
func ownBootloader(d *libvirtxml.Domain, img image.Image) {
	d.OS.BootDevices = []libvirtxml.DomainBootDevice{{Dev: "hd"}}
	if img.Boot() == image.BootUEFI {
		d.OS.Firmware = "efi"
	}
	d.OS.SMBios = &libvirtxml.DomainSMBios{Mode: "sysinfo"}
	d.SysInfo = []libvirtxml.DomainSysInfo{{SMBIOS: &libvirtxml.DomainSysInfoSMBIOS{
		System: &libvirtxml.DomainSysInfoSystem{Entry: []libvirtxml.DomainSysInfoEntry{{Name: "serial", Value: NoCloudSerial}}},
	}}}
}

// OverlayXML is a node's disk: a qcow2 volume backed by the image (a linked
// clone, instant and small), as large as the image's virtual size.
func OverlayXML(name string, img image.Image, capacity uint64) (string, error) {
	v := &libvirtxml.StorageVolume{
		Name:     name,
		Capacity: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: capacity},
		Target:   &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: "qcow2"}},
		BackingStore: &libvirtxml.StorageVolumeBackingStore{
			Path:   img.Disk,
			Format: &libvirtxml.StorageVolumeTargetFormat{Type: img.Format},
		},
	}
	return v.Marshal()
}

// SeedVolumeXML is a raw volume of size bytes for the seed ISO.
func SeedVolumeXML(name string, size uint64) (string, error) {
	v := &libvirtxml.StorageVolume{
		Name:       name,
		Capacity:   &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: size},
		Allocation: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: size},
		Target:     &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: "raw"}},
	}
	return v.Marshal()
}

// PoolXML is the "lvslab" dir pool.
func PoolXML(name, dir string) (string, error) {
	p := &libvirtxml.StoragePool{
		Type:   "dir",
		Name:   name,
		Target: &libvirtxml.StoragePoolTarget{Path: dir, Permissions: &libvirtxml.StoragePoolTargetPermissions{Mode: "0711"}},
	}
	return p.Marshal()
}

// hardware is the part of a domain that a running lab must keep: NICs in
// order (MAC and network). It is compared when "up" reuses a domain.
type hardware []nicHW

type nicHW struct{ MAC, Network string }

func (h hardware) String() string {
	s := ""
	for i, n := range h {
		if i > 0 {
			s += ", "
		}
		s += n.MAC + " on " + n.Network
	}
	if s == "" {
		return "no NICs"
	}
	return s
}

// WantHardware is the node's NICs: its lab NICs in file order, then the
// management NIC.
func WantHardware(lab *topology.Lab, node *topology.Node) hardware {
	var h hardware
	for _, nic := range node.NICs {
		h = append(h, nicHW{MAC: nic.MAC, Network: paths.NetworkName(lab.Name, nic.Network)})
	}
	return append(h, nicHW{MAC: MgmtMAC(lab.Name, node.Name), Network: paths.MgmtNetworkName(lab.Name)})
}

func DomainHardware(d *libvirtxml.Domain) hardware {
	var h hardware
	if d.Devices == nil {
		return h
	}
	for _, ifc := range d.Devices.Interfaces {
		var hw nicHW
		if ifc.MAC != nil {
			hw.MAC = ifc.MAC.Address
		}
		if ifc.Source != nil && ifc.Source.Network != nil {
			hw.Network = ifc.Source.Network.Network
		}
		h = append(h, hw)
	}
	return h
}

func (h hardware) Equal(o hardware) bool {
	if len(h) != len(o) {
		return false
	}
	for i := range h {
		if h[i] != o[i] {
			return false
		}
	}
	return true
}

// NetworkMatches tells whether an existing network definition carries the
// lab network's bridge and host address.
func NetworkMatches(def *libvirtxml.Network, lab *topology.Lab, nw *topology.Network) error {
	if def.Forward != nil && def.Forward.Mode != "" {
		return fmt.Errorf("it forwards (mode %s) instead of being isolated", def.Forward.Mode)
	}
	if def.Bridge == nil || def.Bridge.Name != paths.BridgeName(lab, nw) {
		got := ""
		if def.Bridge != nil {
			got = def.Bridge.Name
		}
		return fmt.Errorf("its bridge is %q, the lab wants %q", got, paths.BridgeName(lab, nw))
	}
	var have []netip.Prefix
	for _, ip := range def.IPs {
		if a, err := netip.ParseAddr(ip.Address); err == nil && (ip.Family == "" || ip.Family == "ipv4") {
			have = append(have, netip.PrefixFrom(a, prefixBits(ip)))
		}
	}
	switch want := netip.PrefixFrom(nw.Host, nw.CIDR.Bits()); {
	case !nw.Host.IsValid() && len(have) > 0:
		return fmt.Errorf("it carries the host address %s, the lab file gives it none", have[0])
	case nw.Host.IsValid() && !slices.Contains(have, want):
		return fmt.Errorf("it does not carry the host address %s", want)
	}
	return nil
}

// MemoryMiB is a domain's memory in MiB.
func MemoryMiB(d *libvirtxml.Domain) int {
	v := uint64(d.Memory.Value)
	switch d.Memory.Unit {
	case "", "KiB", "k", "K":
		return int(v / 1024)
	case "MiB", "M", "m":
		return int(v)
	case "GiB", "G", "g":
		return int(v * 1024)
	case "b", "bytes":
		return int(v >> 20)
	}
	return int(v / 1024)
}
