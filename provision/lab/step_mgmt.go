package lab

import (
	"fmt"
	"net/netip"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
)

// ensureMgmt makes (or reuses) the lab's management network.
func ensureMgmt(r *run) error {
	name := paths.MgmtNetworkName(r.lab.Name)
	info, tagged, err := host.LookupNetwork(r.conn, name)
	if err == nil {
		if !tagged || info.Tag.Name != r.lab.Name || !info.IsMgmt() {
			return foreignNetwork(name, info.Tag, tagged)
		}
		if r.mgmt, err = netip.ParsePrefix(info.Tag.Mgmt); err != nil {
			return fmt.Errorf("network %s: its tag's subnet %q: %w", name, info.Tag.Mgmt, err)
		}
		r.reused = append(r.reused, "network "+name)
		return host.StartNetwork(r.conn, name, info.Active)
	}
	if !host.IsNotFound(err) {
		return err
	}
	// Another "up" may take the same subnet at the same time: libvirt then
	// refuses to start the second network, and the next subnet is tried.
	var taken []netip.Prefix
	for attempt := 1; ; attempt++ {
		if r.mgmt, err = host.AllocateMgmt(r.conn, r.opts.MgmtPool, r.lab, taken...); err != nil {
			return err
		}
		x, err := host.MgmtNetworkXML(r.lab.Name, r.lab.File, r.mgmt)
		if err != nil {
			return err
		}
		made := progress.NetworkCreated{Name: name, Bridge: paths.MgmtBridge(r.lab.Name), Detail: r.mgmt.String(), Mgmt: true}
		err = r.defineNetwork(name, x, made.What())
		if err == nil {
			r.sink.Emit(made)
			return nil
		}
		if attempt == 3 {
			return err
		}
		if rmErr := host.RemoveNetwork(r.conn, name); rmErr != nil {
			return fmt.Errorf("%w (and removing it again: %v)", err, rmErr)
		}
		taken = append(taken, r.mgmt)
	}
}
