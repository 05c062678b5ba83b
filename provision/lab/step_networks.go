package lab

import (
	"fmt"
	"net/netip"
	"sort"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/console"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/topology"
)

// ensureNetworks defines and starts the lab networks, or reuses them when
// they are this lab's and carry the same bridge and host address.
type ensureNetworks struct{}

func (ensureNetworks) name() string { return "networks" }
func (ensureNetworks) doc() string {
	return `one isolated network per lab network, "<lab>-<network>": a plain L2 segment,
with the host's address on its bridge only where the lab file says host:`
}
func (ensureNetworks) run(r *run) error {
	for _, nw := range r.lab.Networks {
		if err := r.ensureNetwork(nw); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) ensureNetwork(nw *topology.Network) error {
	name := paths.NetworkName(r.lab.Name, nw.Name)
	n, err := r.conn.LookupNetworkByName(name)
	if err != nil && !host.IsNotFound(err) {
		return fmt.Errorf("network %s: %w", name, err)
	}
	if err == nil {
		defer n.Free()
		return r.reuseNetwork(n, name, nw)
	}
	if err := r.hostAddressFree(nw); err != nil {
		return err
	}
	x, err := host.NetworkXML(r.lab, nw)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("network %s (bridge %s, %s)", name, paths.BridgeName(r.lab, nw), describeHost(nw))
	if err := r.defineNetwork(name, x, what); err != nil {
		return err
	}
	r.progressf("  %s\n", what)
	return nil
}

// describeHost says what the host machine has on a lab network.
func describeHost(nw *topology.Network) string {
	if !nw.Host.IsValid() {
		return "isolated: no host address"
	}
	return fmt.Sprintf("host %s/%d", nw.Host, nw.CIDR.Bits())
}

// defineNetwork defines, notes for the undo, and starts a network.
func (r *run) defineNetwork(name, x, what string) error {
	n, err := console.Call("define network "+name, func() (*libvirt.Network, error) { return r.conn.NetworkDefineXML(x) })
	if err != nil {
		return fmt.Errorf("define %s: %w", what, err)
	}
	defer n.Free()
	r.made("network "+name, func() error { return host.RemoveNetwork(r.conn, name) })
	if err := console.Libvirt("network "+name+": autostart off", func() error { return n.SetAutostart(false) }); err != nil {
		return fmt.Errorf("network %s: %w", name, err)
	}
	if err := console.Libvirt("start network "+name, n.Create); err != nil {
		return fmt.Errorf("start %s: %w", what, err)
	}
	return nil
}

func startNetwork(n *libvirt.Network, name string, active bool) error {
	if active {
		return nil
	}
	if err := console.Libvirt("start network "+name, n.Create); err != nil {
		return fmt.Errorf("start network %s: %w", name, err)
	}
	return nil
}

func foreignNetwork(name string, tag host.Tag, tagged bool) error {
	owner := "has no lvslab tag"
	if tagged {
		owner = "belongs to " + host.DescribeTag(tag)
	}
	return fmt.Errorf("a libvirt network named %s exists and %s: lvslab will not touch it; rename the lab (up --as NAME) or remove that network", name, owner)
}

// hostAddressFree refuses a host address that another network of this
// libvirt already carries: libvirt's own error names only a bridge.
func (r *run) hostAddressFree(nw *topology.Network) error {
	if !nw.Host.IsValid() {
		return nil
	}
	networks, err := host.ListAllNetworks(r.conn)
	if err != nil {
		return err
	}
	for _, other := range networks {
		a, err := netip.ParsePrefix(other.Host)
		if err != nil || a.Addr() != nw.Host {
			continue
		}
		holder := fmt.Sprintf("the libvirt network %s (bridge %s)", other.Name, other.Bridge)
		if other.Tag.Name != "" {
			holder = fmt.Sprintf("lab %s (its network %s, libvirt network %s)", other.Tag.Name, other.Tag.Network, other.Name)
		}
		return fmt.Errorf("lab %s asks for the host address %s on its network %s, but %s already has it: one host address can be on one network only. "+
			"lvslab needs none (it reaches the nodes over their management network): remove \"host:\" from network %s in %s, or bring the other lab down first (\"lvslab down %s\")",
			r.lab.Name, nw.Host, nw.Name, holder, nw.Name, r.lab.File, other.Tag.Name)
	}
	return nil
}

func (r *run) reuseNetwork(n *libvirt.Network, name string, nw *topology.Network) error {
	info, tagged, err := host.InspectNetwork(n)
	if err != nil {
		return fmt.Errorf("network %s: %w", name, err)
	}
	if !tagged || info.Tag.Name != r.lab.Name || info.Tag.Network != nw.Name {
		return foreignNetwork(name, info.Tag, tagged)
	}
	def, err := host.NetworkDef(n)
	if err != nil {
		return err
	}
	if err := host.NetworkMatches(def, r.lab, nw); err != nil {
		return fmt.Errorf("network %s of the running lab differs from the lab file: %v; run \"lvslab down %s\" first", name, err, r.lab.Name)
	}
	if err := r.syncDHCPHosts(n, def, nw, info.Active); err != nil {
		return fmt.Errorf("network %s: update DHCP hosts: %w", name, err)
	}
	r.reused = append(r.reused, "network "+name)
	return startNetwork(n, name, info.Active)
}

// syncDHCPHosts makes the network's DHCP host entries those of the lab file
// (a lab brought up in another mode may have moved the nodes).
func (r *run) syncDHCPHosts(n *libvirt.Network, def *libvirtxml.Network, nw *topology.Network, active bool) error {
	want := host.DHCPHosts(r.lab, nw)
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
