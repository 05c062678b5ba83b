package provision

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"

	"golang.org/x/crypto/ssh"
	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/console"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/topology"
)

var sshMarshalAuthorizedKey = ssh.MarshalAuthorizedKey

func networkDef(n *libvirt.Network) (*libvirtxml.Network, error) {
	x, err := n.GetXMLDesc(0)
	if err != nil {
		return nil, err
	}
	def := &libvirtxml.Network{}
	if err := def.Unmarshal(x); err != nil {
		return nil, err
	}
	return def, nil
}

// syncDHCPHosts makes the network's DHCP host entries those of the lab file
// (a lab brought up in another mode may have moved the nodes).
func (r *run) syncDHCPHosts(n *libvirt.Network, def *libvirtxml.Network, nw *topology.Network, active bool) error {
	want := dhcpHosts(r.lab, nw)
	var have []libvirtxml.NetworkDHCPHost
	hasDHCP := false
	for _, ip := range def.IPs {
		if ip.DHCP != nil && (ip.Family == "" || ip.Family == "ipv4") {
			have = append(have, ip.DHCP.Hosts...)
			hasDHCP = true
		}
	}
	key := func(h libvirtxml.NetworkDHCPHost) string { return h.MAC + " " + h.IP + " " + h.Name }
	if sameHosts(want, have, key) {
		return nil
	}
	if !hasDHCP {
		// libvirt cannot add a <dhcp> element to a defined network; it only
		// matters for cloud images, which read the seed anyway.
		return nil
	}
	flags := libvirt.NETWORK_UPDATE_AFFECT_CONFIG
	if active {
		flags |= libvirt.NETWORK_UPDATE_AFFECT_LIVE
	}
	entry := func(h libvirtxml.NetworkDHCPHost) string {
		return fmt.Sprintf("<host mac='%s' name='%s' ip='%s'/>", h.MAC, h.Name, h.IP)
	}
	wanted := map[string]bool{}
	for _, h := range want {
		wanted[key(h)] = true
	}
	present := map[string]bool{}
	for _, h := range have {
		present[key(h)] = true
		if !wanted[key(h)] {
			if err := console.Libvirt("network: delete DHCP host "+entry(h), func() error {
				return n.Update(libvirt.NETWORK_UPDATE_COMMAND_DELETE, libvirt.NETWORK_SECTION_IP_DHCP_HOST, -1, entry(h), flags)
			}); err != nil {
				return err
			}
		}
	}
	for _, h := range want {
		if !present[key(h)] {
			if err := console.Libvirt("network: add DHCP host "+entry(h), func() error {
				return n.Update(libvirt.NETWORK_UPDATE_COMMAND_ADD_LAST, libvirt.NETWORK_SECTION_IP_DHCP_HOST, -1, entry(h), flags)
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

func sameHosts(a, b []libvirtxml.NetworkDHCPHost, key func(libvirtxml.NetworkDHCPHost) string) bool {
	if len(a) != len(b) {
		return false
	}
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i], kb[i] = key(a[i]), key(b[i])
	}
	sort.Strings(ka)
	sort.Strings(kb)
	for i := range ka {
		if ka[i] != kb[i] {
			return false
		}
	}
	return true
}

// memoryMiB is a domain's memory in MiB.
func memoryMiB(d *libvirtxml.Domain) int {
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

// imageCapacity is the size the guest sees of the image disk: from the
// manifest of a built image, else the qcow2 header or the raw file's size.
func imageCapacity(img image.Image) (uint64, error) {
	if img.Manifest != nil && img.Manifest.VirtualBytes > 0 {
		return uint64(img.Manifest.VirtualBytes), nil
	}
	f, err := os.Open(img.Disk)
	if err != nil {
		return 0, fmt.Errorf("image disk: %w", err)
	}
	defer f.Close()
	if img.Format == "qcow2" {
		hdr := make([]byte, 32)
		if _, err := f.ReadAt(hdr, 0); err != nil {
			return 0, fmt.Errorf("read qcow2 header of %s: %w", img.Disk, err)
		}
		if string(hdr[:4]) != "QFI\xfb" {
			return 0, fmt.Errorf("%s is not a qcow2 file", img.Disk)
		}
		return binary.BigEndian.Uint64(hdr[24:32]), nil
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return uint64(st.Size()), nil
}
