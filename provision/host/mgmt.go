package host

import (
	"fmt"
	"net/netip"
	"os"
	"slices"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/topology"
)

// The management network: every lab gets a libvirt network of its own,
// "<lab>_mgmt", and every VM one NIC on it after its lab NICs, mgmt0 in the
// guest, with a static address from the seed, no default route and no DHCP.
// All of lvslab's SSH goes there, so lab networks need no host address
// (copies with the exercises' identical addresses coexist), a student who
// breaks a lab NIC does not cut lvslab off, and readdressing a lab NIC never
// touches the session. Nothing of LVS uses it.

// MgmtNIC is the guest's name of the management NIC.
const MgmtNIC = "mgmt0"

// EnvMgmtPool overrides DefaultMgmtPool.
const EnvMgmtPool = "LVSLAB_MGMT_POOL"

// DefaultMgmtPool is where management subnets are allocated from, one /24
// per lab: room for 256 labs of up to 245 nodes on one libvirt.
const DefaultMgmtPool = "10.250.0.0/16"

// MgmtBits is the size of one lab's management subnet.
const MgmtBits = 24

// mgmtFirstNode is the host part of the first node's management address;
// the host machine has .1.
const mgmtFirstNode = 10

// MgmtPool is the pool in effect: $LVSLAB_MGMT_POOL, else DefaultMgmtPool.
func MgmtPool() string {
	if p := os.Getenv(EnvMgmtPool); p != "" {
		return p
	}
	return DefaultMgmtPool
}

// MgmtMAC is the MAC of a node's management NIC.
func MgmtMAC(lab, node string) string { return topology.DeriveMAC(lab, node, MgmtNIC) }

// MgmtHost is the host machine's address on a management subnet.
func MgmtHost(subnet netip.Prefix) netip.Addr { return subnet.Addr().Next() }

// MgmtNetworkXML is the libvirt definition of a lab's management network:
// isolated, the host's address .1, no DHCP; the tag records its subnet so
// that down and status find it without the lab file. Its DNS stays on
// (unused by the guests, which have no resolver there): libvirt keeps the
// network's MAC table in dnsmasq's state folder, which only a running
// dnsmasq makes, and without it no VM could be plugged in.
func MgmtNetworkXML(lab, file string, subnet netip.Prefix) (string, error) {
	n := &libvirtxml.Network{
		Name:     paths.MgmtNetworkName(lab),
		Metadata: &libvirtxml.NetworkMetadata{XML: Tag{Name: lab, File: file, Mgmt: subnet.String()}.Marshal()},
		Bridge:   &libvirtxml.NetworkBridge{Name: paths.MgmtBridge(lab), STP: "off", Delay: "0"},
		DNS:      &libvirtxml.NetworkDNS{Enable: "yes", ForwardPlainNames: "no"},
		IPs:      []libvirtxml.NetworkIP{{Address: MgmtHost(subnet).String(), Prefix: uint(subnet.Bits())}},
	}
	return n.Marshal()
}

// AllocateMgmt picks the first subnet of pool that no libvirt network of
// this connection uses, that overlaps none of the lab's networks and that
// is not in skip.
func AllocateMgmt(conn *libvirt.Connect, pool string, lab *topology.Lab, skip ...netip.Prefix) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(pool)
	if err != nil || !p.Addr().Is4() || p.Bits() > MgmtBits || p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("management pool %q: want an IPv4 network of /%d or larger, like %s (set with --mgmt-pool or $%s)", pool, MgmtBits, DefaultMgmtPool, EnvMgmtPool)
	}
	used, err := usedPrefixes(conn)
	if err != nil {
		return netip.Prefix{}, err
	}
	for _, nw := range lab.Networks {
		used = append(used, nw.CIDR)
	}
	used = append(used, skip...)
	for s := netip.PrefixFrom(p.Addr(), MgmtBits); s.IsValid() && p.Contains(s.Addr()); s = nextPrefix(s) {
		if !slices.ContainsFunc(used, s.Overlaps) {
			return s, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("management pool %s is full: every /%d of it is in use; \"lvslab down\" a lab, or give a larger pool (--mgmt-pool or $%s)", pool, MgmtBits, EnvMgmtPool)
}

// nextPrefix is the subnet of the same size right after s, or invalid.
func nextPrefix(s netip.Prefix) netip.Prefix {
	a := s.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	step := uint32(1) << (32 - s.Bits())
	if v+step < v {
		return netip.Prefix{}
	}
	v += step
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), s.Bits())
}

// usedPrefixes lists the IPv4 networks of every libvirt network.
func usedPrefixes(conn *libvirt.Connect) ([]netip.Prefix, error) {
	networks, err := ListAllNetworks(conn)
	var out []netip.Prefix
	for _, n := range networks {
		if p, err := netip.ParsePrefix(n.Host); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out, err
}

// MgmtAddress gives a new node the first management address no other node
// of the lab holds.
func MgmtAddress(subnet netip.Prefix, taken []string) (netip.Addr, error) {
	a := subnet.Addr()
	for range mgmtFirstNode {
		a = a.Next()
	}
	for ; subnet.Contains(a); a = a.Next() {
		if !slices.Contains(taken, a.String()) && subnet.Contains(a.Next()) {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("management subnet %s has no free address left", subnet)
}
