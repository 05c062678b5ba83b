package host

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
)

// DomainInfo is one lab VM found in libvirt by its tag.
type DomainInfo struct {
	Name  string
	Tag   Tag
	State DomainState
	// Disks are the paths of the domain's disks (overlay, seed); Logs its
	// serial console logs.
	Disks []string
	Logs  []string
	// Def is the domain's definition.
	Def *libvirtxml.Domain
}

// NetworkInfo is one lab network found in libvirt by its tag.
type NetworkInfo struct {
	Name   string
	Tag    Tag
	Bridge string
	Active bool
	// Host is the host machine's address on it with its prefix, or "" for
	// an isolated segment.
	Host string
	// Def is the network's definition.
	Def *libvirtxml.Network
}

// IsMgmt tells whether this is the lab's management network.
func (n NetworkInfo) IsMgmt() bool { return n.Tag.Mgmt != "" }

// File is the lab file the lab was last brought up from, as its tags
// record it, or "".
func (i *Inventory) File() string {
	for _, d := range i.Domains {
		if d.Tag.File != "" {
			return d.Tag.File
		}
	}
	for _, n := range i.Networks {
		if n.Tag.File != "" {
			return n.Tag.File
		}
	}
	return ""
}

// MgmtSubnet is the lab's management subnet, or "".
func (i *Inventory) MgmtSubnet() string {
	for _, n := range i.Networks {
		if n.IsMgmt() {
			return n.Tag.Mgmt
		}
	}
	return ""
}

// VolumeInfo is one lab disk in the lvslab pool, found by its name.
type VolumeInfo struct {
	Pool, Name, Path string
}

// Inventory is everything libvirt holds of one lab.
type Inventory struct {
	Lab      string
	Domains  []DomainInfo
	Networks []NetworkInfo
	Volumes  []VolumeInfo
}

// Empty tells whether nothing of the lab exists.
func (i *Inventory) Empty() bool {
	return len(i.Domains) == 0 && len(i.Networks) == 0 && len(i.Volumes) == 0
}

// Discover returns the objects of every lab libvirt holds, by lab name:
// domains and networks carrying lvslab's tag, and volumes of the pool named
// "<lab>_<node>.qcow2" or "<lab>_<node>.seed.iso". Untagged objects are
// never listed. pool "" means DefaultPool.
func Discover(conn *libvirt.Connect, pool string) (map[string]*Inventory, error) {
	if pool == "" {
		pool = paths.DefaultPool
	}
	labs := map[string]*Inventory{}
	inv := func(lab string) *Inventory {
		if labs[lab] == nil {
			labs[lab] = &Inventory{Lab: lab}
		}
		return labs[lab]
	}
	domains, err := ListDomains(conn)
	if err != nil {
		return nil, err
	}
	for _, d := range domains {
		inv(d.Tag.Name).Domains = append(inv(d.Tag.Name).Domains, d)
	}
	networks, err := listNetworks(conn)
	if err != nil {
		return nil, err
	}
	for _, n := range networks {
		inv(n.Tag.Name).Networks = append(inv(n.Tag.Name).Networks, n)
	}
	vols, err := listVolumes(conn, pool)
	if err != nil {
		return nil, err
	}
	for _, v := range vols {
		lab, _, _ := paths.VolumeOwner(v.Name)
		inv(lab).Volumes = append(inv(lab).Volumes, v)
	}
	for _, i := range labs {
		sort.Slice(i.Domains, func(a, b int) bool { return i.Domains[a].Name < i.Domains[b].Name })
		sort.Slice(i.Networks, func(a, b int) bool { return i.Networks[a].Name < i.Networks[b].Name })
		sort.Slice(i.Volumes, func(a, b int) bool { return i.Volumes[a].Name < i.Volumes[b].Name })
	}
	return labs, nil
}

// DiscoverLab is Discover for one lab; a lab with nothing is an empty
// Inventory, not an error.
func DiscoverLab(conn *libvirt.Connect, pool, lab string) (*Inventory, error) {
	all, err := Discover(conn, pool)
	if err != nil {
		return nil, err
	}
	if i := all[lab]; i != nil {
		return i, nil
	}
	return &Inventory{Lab: lab}, nil
}

func ListDomains(conn *libvirt.Connect) ([]DomainInfo, error) {
	list := func() ([]libvirt.Domain, error) { return conn.ListAllDomains(0) }
	return inspectAll("domains", list, InspectDomain, (*libvirt.Domain).Free)
}

// inspectAll lists the connection's objects of one kind (traced), inspects
// and frees each, and returns those inspect keeps; one removed meanwhile is
// passed over.
func inspectAll[T, I any](what string, list func() ([]T, error), inspect func(*T) (I, bool, error), free func(*T) error) ([]I, error) {
	start := time.Now()
	objs, err := list()
	progress.Trace("libvirt", "list "+what, start, fmt.Sprintf("%d %s", len(objs), what), err)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	var out []I
	for i := range objs {
		info, keep, err := inspect(&objs[i])
		free(&objs[i])
		if IsNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		if keep {
			out = append(out, info)
		}
	}
	return out, nil
}

// InspectDomain reads a domain's definition and tag; ok is false for a
// domain lvslab did not make.
func InspectDomain(d *libvirt.Domain) (DomainInfo, bool, error) {
	x, err := d.GetXMLDesc(0)
	if err != nil {
		return DomainInfo{}, false, err
	}
	def := &libvirtxml.Domain{}
	if err := def.Unmarshal(x); err != nil {
		return DomainInfo{}, false, err
	}
	if def.Metadata == nil {
		return DomainInfo{}, false, nil
	}
	tag, ok := ParseTag(def.Metadata.XML)
	if !ok {
		return DomainInfo{}, false, nil
	}
	info := DomainInfo{Name: def.Name, Tag: tag, Def: def}
	if state, _, err := d.GetState(); err == nil {
		info.State = StateName(state)
	} else if !IsNotFound(err) {
		return DomainInfo{}, false, err
	}
	if def.Devices != nil {
		for _, disk := range def.Devices.Disks {
			if disk.Source != nil && disk.Source.File != nil && disk.Source.File.File != "" {
				info.Disks = append(info.Disks, disk.Source.File.File)
			}
		}
		for _, s := range def.Devices.Serials {
			if s.Log != nil && s.Log.File != "" {
				info.Logs = append(info.Logs, s.Log.File)
			}
			if s.Source != nil && s.Source.File != nil && s.Source.File.Path != "" {
				info.Logs = append(info.Logs, s.Source.File.Path)
			}
		}
	}
	return info, true, nil
}

func listNetworks(conn *libvirt.Connect) ([]NetworkInfo, error) {
	all, err := ListAllNetworks(conn)
	var out []NetworkInfo
	for _, n := range all {
		if n.Tag.Name != "" {
			out = append(out, n)
		}
	}
	return out, err
}

// ListAllNetworks lists every network of the connection, tagged or not.
func ListAllNetworks(conn *libvirt.Connect) ([]NetworkInfo, error) {
	all := func(n *libvirt.Network) (NetworkInfo, bool, error) {
		info, _, err := InspectNetwork(n)
		return info, true, err
	}
	list := func() ([]libvirt.Network, error) { return conn.ListAllNetworks(0) }
	return inspectAll("networks", list, all, (*libvirt.Network).Free)
}

// InspectNetwork reads a network's definition and tag; tagged is false for
// a network lvslab did not make (its Tag is then empty).
func InspectNetwork(n *libvirt.Network) (info NetworkInfo, tagged bool, err error) {
	def, err := NetworkDef(n)
	if err != nil {
		return NetworkInfo{}, false, err
	}
	info = NetworkInfo{Name: def.Name, Def: def}
	if def.Metadata != nil {
		info.Tag, tagged = ParseTag(def.Metadata.XML)
	}
	if def.Bridge != nil {
		info.Bridge = def.Bridge.Name
	}
	for _, ip := range def.IPs {
		if ip.Family == "" || ip.Family == "ipv4" {
			info.Host = fmt.Sprintf("%s/%d", ip.Address, prefixBits(ip))
		}
	}
	if info.Active, err = n.IsActive(); err != nil {
		return NetworkInfo{}, false, err
	}
	return info, tagged, nil
}

// prefixBits is the prefix length of a network's address, given as a
// prefix or (as libvirt's default network does) as a netmask.
func prefixBits(ip libvirtxml.NetworkIP) int {
	if ip.Prefix > 0 || ip.Netmask == "" {
		return int(ip.Prefix)
	}
	mask := net.ParseIP(ip.Netmask).To4()
	if mask == nil {
		return 0
	}
	ones, _ := net.IPv4Mask(mask[0], mask[1], mask[2], mask[3]).Size()
	return ones
}

// listVolumes lists the pool's volumes named by lvslab; a missing pool has
// none. An inactive pool is started to be read.
func listVolumes(conn *libvirt.Connect, poolName string) ([]VolumeInfo, error) {
	pool, err := conn.LookupStoragePoolByName(poolName)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage pool %s: %w", poolName, err)
	}
	defer pool.Free()
	if active, err := pool.IsActive(); err == nil && !active {
		if err := progress.Libvirt("start storage pool "+poolName, func() error { return pool.Create(0) }); err != nil {
			return nil, fmt.Errorf("start storage pool %s to list its volumes: %w", poolName, err)
		}
	}
	_ = pool.Refresh(0) // files removed behind libvirt's back
	start := time.Now()
	vols, err := pool.ListAllStorageVolumes(0)
	progress.Trace("libvirt", "list volumes of pool "+poolName, start, fmt.Sprintf("%d volumes", len(vols)), err)
	if err != nil {
		return nil, fmt.Errorf("list volumes of pool %s: %w", poolName, err)
	}
	var out []VolumeInfo
	for i := range vols {
		name, err := vols[i].GetName()
		if err == nil {
			if _, _, ok := paths.VolumeOwner(name); ok {
				path, _ := vols[i].GetPath()
				out = append(out, VolumeInfo{Pool: poolName, Name: name, Path: path})
			}
		}
		vols[i].Free()
	}
	return out, nil
}

// DomainState is a VM's state as lvslab names it (status prints it).
type DomainState string

// The states of a VM, and StateMissing for a node that has none.
const (
	StateRunning      DomainState = "running"
	StateBlocked      DomainState = "blocked"
	StatePaused       DomainState = "paused"
	StateShuttingDown DomainState = "shutting down"
	StateShutOff      DomainState = "shut off"
	StateCrashed      DomainState = "crashed"
	StateSuspended    DomainState = "suspended"
	StateUnknown      DomainState = "unknown"
	StateMissing      DomainState = "missing"
)

// Runs tells whether the VM runs: running, or blocked on a resource.
func (s DomainState) Runs() bool { return s == StateRunning || s == StateBlocked }

// StateName is lvslab's name of a libvirt domain state.
func StateName(s libvirt.DomainState) DomainState {
	switch s {
	case libvirt.DOMAIN_RUNNING:
		return StateRunning
	case libvirt.DOMAIN_BLOCKED:
		return StateBlocked
	case libvirt.DOMAIN_PAUSED:
		return StatePaused
	case libvirt.DOMAIN_SHUTDOWN:
		return StateShuttingDown
	case libvirt.DOMAIN_SHUTOFF:
		return StateShutOff
	case libvirt.DOMAIN_CRASHED:
		return StateCrashed
	case libvirt.DOMAIN_PMSUSPENDED:
		return StateSuspended
	}
	return StateUnknown
}

// LabNames lists the labs in a Discover result, sorted.
func LabNames(all map[string]*Inventory) []string {
	var out []string
	for name := range all {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// DescribeTag is "lab tedu, node web1" for messages.
func DescribeTag(t Tag) string {
	var parts []string
	parts = append(parts, "lab "+t.Name)
	if t.Node != "" {
		parts = append(parts, "node "+t.Node)
	}
	if t.Network != "" {
		parts = append(parts, "network "+t.Network)
	}
	return strings.Join(parts, ", ")
}

func NetworkDef(n *libvirt.Network) (*libvirtxml.Network, error) {
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

// SetTag rewrites a domain's tag in its persistent definition (and the live
// one when it runs).
func SetTag(conn *libvirt.Connect, domain string, tag Tag) error {
	d, err := conn.LookupDomainByName(domain)
	if err != nil {
		return fmt.Errorf("domain %s: %w", domain, err)
	}
	defer d.Free()
	flags := libvirt.DOMAIN_AFFECT_CONFIG
	if active, err := d.IsActive(); err == nil && active {
		flags |= libvirt.DOMAIN_AFFECT_LIVE
	}
	if err := progress.Libvirt("domain "+domain+": set lvslab tag", func() error {
		return d.SetMetadata(libvirt.DOMAIN_METADATA_ELEMENT, tag.MarshalBare(), metadataPrefix, Namespace, flags)
	}); err != nil {
		return fmt.Errorf("domain %s: update lvslab tag: %w", domain, err)
	}
	return nil
}

func DomainStateOf(conn *libvirt.Connect, name string) DomainState {
	d, err := conn.LookupDomainByName(name)
	if err != nil {
		return ""
	}
	defer d.Free()
	st, _, err := d.GetState()
	if err != nil {
		return ""
	}
	return StateName(st)
}
