package lab

import (
	"fmt"
	"net/netip"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/topology"
)

// ensureNetworks defines and starts the lab networks, or reuses them when
// they are this lab's and carry the same bridge and host address.
func ensureNetworks(r *run) error {
	for _, nw := range r.lab.Networks {
		if err := r.ensureNetwork(nw); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) ensureNetwork(nw *topology.Network) error {
	name := paths.NetworkName(r.lab.Name, nw.Name)
	info, tagged, err := host.LookupNetwork(r.conn, name)
	if err != nil && !host.IsNotFound(err) {
		return err
	}
	if err == nil {
		return r.reuseNetwork(info, tagged, name, nw)
	}
	if err := r.hostAddressFree(nw); err != nil {
		return err
	}
	x, err := host.NetworkXML(r.lab, nw)
	if err != nil {
		return err
	}
	made := progress.NetworkCreated{Name: name, Bridge: paths.BridgeName(r.lab, nw), Detail: describeHost(nw)}
	if err := r.defineNetwork(name, x, made.What()); err != nil {
		return err
	}
	r.sink.Emit(made)
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
	return host.DefineNetwork(r.conn, name, x, what, func() {
		r.made("network "+name, func() error { return host.RemoveNetwork(r.conn, name) })
	})
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

func (r *run) reuseNetwork(info host.NetworkInfo, tagged bool, name string, nw *topology.Network) error {
	if !tagged || info.Tag.Name != r.lab.Name || info.Tag.Network != nw.Name {
		return foreignNetwork(name, info.Tag, tagged)
	}
	if err := host.NetworkMatches(info.Def, r.lab, nw); err != nil {
		return fmt.Errorf("network %s of the running lab differs from the lab file: %v; run \"lvslab down %s\" first", name, err, r.lab.Name)
	}
	if err := host.SyncDHCPHosts(r.conn, name, info.Def, host.DHCPHosts(r.lab, nw), info.Active); err != nil {
		return fmt.Errorf("network %s: update DHCP hosts: %w", name, err)
	}
	r.reused = append(r.reused, "network "+name)
	return host.StartNetwork(r.conn, name, info.Active)
}
