package lab

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/roles/engine"
	"github.com/lvslab/lvslab/topology"
)

// StatusOptions tune Status.
type StatusOptions struct {
	// Lab, when set, is the lab file: its nodes are listed even when their
	// VM is missing, with their lab addresses.
	Lab *topology.Lab
	// Paths are lvslab's folders: the lab's key.
	Paths paths.Root
	// DialTimeout bounds each SSH login tried (default 2 s).
	DialTimeout time.Duration
	// SkipSSH reports the VMs' states only, with no login (a page that
	// asks often).
	SkipSSH bool

	// Connector logs in to the nodes (nil means sshx.WaitReady).
	Connector access.Connector
	// Agent reaches the nodes' guest agents (nil means through libvirt).
	Agent host.Agent
}

// LabStatus is the state of one lab.
type LabStatus struct {
	Lab  string `json:"lab"`
	File string `json:"file,omitempty"`
	// Host is the remote hypervisor ("root@10.253.1.2"), "" when local.
	Host string `json:"host,omitempty"`
	// Mgmt is the lab's management subnet.
	Mgmt     string          `json:"mgmt,omitempty"`
	Nodes    []NodeStatus    `json:"nodes"`
	Networks []NetworkStatus `json:"networks"`
	Volumes  []string        `json:"volumes"`
}

// NodeStatus is one node: its VM's state and whether lvslab can log in.
type NodeStatus struct {
	Node      string           `json:"node"`
	Role      string           `json:"role,omitempty"`
	Domain    string           `json:"domain"`
	State     host.DomainState `json:"state"`            // running, shut off, ..., or missing
	Addresses []string         `json:"addresses"`        // lab addresses (from the lab file)
	Mgmt      string           `json:"mgmt,omitempty"`   // management address, where lvslab's SSH goes
	SSH       string           `json:"ssh,omitempty"`    // the address lvslab logged in on, host:port
	Banner    string           `json:"banner,omitempty"` // its SSH server's version
	SSHError  string           `json:"ssh_error,omitempty"`
	// Causes are what keeps lvslab's SSH out of a running node that does
	// not answer, as its guest agent read them (mgmt0 down, sshd stopped,
	// port 22 blocked); NoAgent says that no agent answers either, and
	// names the serial console.
	Causes     []access.Cause `json:"causes"`
	NoAgent    string         `json:"no_agent,omitempty"`
	ConsoleLog string         `json:"console_log,omitempty"`
	// OS and Network (what manages its NICs) are read over SSH; Seeded
	// (lvslab, cloud-init or console) is how its first boot was set up,
	// as its tag records it.
	OS      string `json:"os,omitempty"`
	Network string `json:"network,omitempty"`
	Seeded  string `json:"seeded,omitempty"`
	file    string // the lab file its tag names
}

// NetworkStatus is one lab network, or the management network.
type NetworkStatus struct {
	Name   string `json:"name"`
	Bridge string `json:"bridge"`
	Active bool   `json:"active"`
	// Host is the host machine's address on it, "" for an isolated segment.
	Host string `json:"host,omitempty"`
	Mgmt bool   `json:"mgmt,omitempty"`
}

// Status reports a lab found by its tag: each node's domain state, its
// addresses and whether lvslab logs in over SSH (through Access, with a
// short timeout). name is the lab's name.
func Status(ctx context.Context, conn *host.Conn, name string, opts StatusOptions) (*LabStatus, error) {
	if opts.Lab != nil {
		name = opts.Lab.Name
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 2 * time.Second
	}
	inv, err := host.DiscoverLab(conn, paths.DefaultPool, name)
	if err != nil {
		return nil, err
	}
	window := opts.DialTimeout
	if remote, err := host.RemoteOf(conn); err == nil && remote != nil && window < 10*time.Second {
		// The first login also opens the jump to the hypervisor.
		window = 10 * time.Second
	}
	acc, err := access.Open(conn, name, access.Options{Paths: opts.Paths, File: opts.Lab, DialWindow: window, Connector: opts.Connector, Agent: opts.Agent})
	if err != nil {
		return nil, err
	}
	defer acc.Close()
	st := &LabStatus{Lab: name, Mgmt: inv.MgmtSubnet(), Networks: []NetworkStatus{}, Volumes: []string{}}
	if acc.Remote() != nil {
		st.Host = acc.Remote().Label()
	}
	st.Nodes = nodeStatuses(inv, opts.Lab)
	if opts.Lab != nil {
		st.File = opts.Lab.File
	}
	var wg sync.WaitGroup
	for i := range st.Nodes {
		ns := &st.Nodes[i]
		if st.File == "" && ns.file != "" {
			st.File = ns.file
		}
		if a := acc.Addresses(ns.Node); len(a) > 0 {
			ns.Mgmt = a[0]
		}
		ns.ConsoleLog = host.LogOn(ns.ConsoleLog, acc.Remote())
		if opts.Lab != nil {
			if n := opts.Lab.Node(ns.Node); n != nil {
				for _, a := range n.Addresses() {
					ns.Addresses = append(ns.Addresses, a.String())
				}
			}
		}
		if ns.State != host.StateRunning || ns.Mgmt == "" || opts.SkipSSH {
			continue
		}
		wg.Go(func() {
			probeSSH(ctx, acc, ns)
		})
	}
	wg.Wait()
	for _, n := range inv.Networks {
		st.Networks = append(st.Networks, NetworkStatus{Name: n.Name, Bridge: n.Bridge, Active: n.Active, Host: n.Host, Mgmt: n.IsMgmt()})
	}
	for _, v := range inv.Volumes {
		st.Volumes = append(st.Volumes, v.Name)
	}
	return st, nil
}

// Missing says whether no node of the lab has a VM.
func (st *LabStatus) Missing() bool {
	for _, n := range st.Nodes {
		if n.State != host.StateMissing {
			return false
		}
	}
	return true
}

// nodeStatuses lists the lab's nodes: the lab file's in its order (missing
// when they have no VM), then those only libvirt knows.
func nodeStatuses(inv *host.Inventory, file *topology.Lab) []NodeStatus {
	var out []NodeStatus
	index := map[string]int{}
	add := func(node, role string) *NodeStatus {
		if i, ok := index[node]; ok {
			return &out[i]
		}
		index[node] = len(out)
		out = append(out, NodeStatus{Node: node, Role: role, Domain: paths.DomainName(inv.Lab, node), State: host.StateMissing, Causes: []access.Cause{}})
		return &out[len(out)-1]
	}
	if file != nil {
		for _, n := range file.Nodes {
			add(n.Name, n.Role)
		}
	}
	for _, d := range inv.Domains {
		ns := add(d.Tag.Node, d.Tag.Role)
		ns.Domain, ns.State, ns.file, ns.Seeded = d.Name, d.State, d.Tag.File, d.Tag.Seed
		if ns.Role == "" {
			ns.Role = d.Tag.Role
		}
		if len(d.Logs) > 0 {
			ns.ConsoleLog = d.Logs[0]
		}
	}
	return out
}

// probeSSH logs in to the node through acc; one that does not answer has
// its guest agent asked why (Access.Dial).
func probeSSH(ctx context.Context, acc *access.Access, ns *NodeStatus) {
	c, err := acc.Dial(ctx, ns.Node)
	if err != nil {
		ns.SSHError = err.Error()
		var cut *access.CutOffError
		var none *access.NoAgentError
		if errors.As(err, &cut) {
			ns.Causes = cut.Causes
		}
		if errors.As(err, &none) {
			ns.NoAgent = fmt.Sprintf("no guest agent answers either: %q logs in on its serial console", none.Console)
		}
		return
	}
	ns.SSH = access.SSHAddr(ns.Mgmt)
	if c != nil {
		ns.Banner = c.ServerVersion()
		if g, err := engine.Describe(ctx, c); err == nil {
			ns.OS, ns.Network = g.OS, g.Network
		}
	}
}

// Labs lists the names of the labs libvirt holds objects of.
func Labs(conn *host.Conn, pool string) ([]string, error) {
	all, err := host.Discover(conn, pool)
	if err != nil {
		return nil, err
	}
	return host.LabNames(all), nil
}

// LabSummary is one line of "lvslab ls".
type LabSummary struct {
	Lab string `json:"lab"`
	// Source is the lab file it was last brought up from ("tedu-nat" for
	// an embedded lab): a copy's source differs from its name.
	Source string `json:"source"`
	// Nodes are the nodes that have a VM, Running those whose VM runs.
	Nodes   []string `json:"nodes"`
	Running []string `json:"running"`
	Mgmt    string   `json:"mgmt"`
}

// List summarises every lab libvirt holds objects of, by name.
func List(conn *host.Conn, pool string) ([]LabSummary, error) {
	all, err := host.Discover(conn, pool)
	if err != nil {
		return nil, err
	}
	out := []LabSummary{}
	for _, name := range host.LabNames(all) {
		inv := all[name]
		s := LabSummary{Lab: name, Source: topology.FileRef(inv.File()), Nodes: []string{}, Running: []string{}, Mgmt: inv.MgmtSubnet()}
		for _, d := range inv.Domains {
			s.Nodes = append(s.Nodes, d.Tag.Node)
			if d.State == host.StateRunning {
				s.Running = append(s.Running, d.Tag.Node)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// Down says why the node is not up (no VM, a VM not running, no SSH), or
// "" when it runs and lvslab logs in.
func (n NodeStatus) Down() string {
	switch {
	case n.State == host.StateMissing:
		return n.Node + " has no VM"
	case n.State != host.StateRunning:
		return fmt.Sprintf("%s's VM is %s", n.Node, n.State)
	case n.SSH == "" && len(n.Causes) > 0:
		d := access.Diagnosis{Causes: n.Causes}
		return n.Node + " does not answer SSH: " + d.Summary()
	case n.SSH == "" && n.NoAgent != "":
		return n.Node + " does not answer SSH, and " + n.NoAgent
	case n.SSH == "":
		return n.Node + " does not answer SSH"
	}
	return ""
}

// CutOff tells whether the node runs and its guest agent read what keeps
// lvslab's SSH out ("lvslab up" restores it).
func (n NodeStatus) CutOff() bool {
	return n.State == host.StateRunning && n.SSH == "" && len(n.Causes) > 0
}

// Recorded loads the lab file lab name was last brought up from (its
// tags say which), under that name; nil when nothing of it runs.
func Recorded(conn *host.Conn, name string) (*topology.Lab, error) {
	inv, err := host.DiscoverLab(conn, "", name)
	if err != nil {
		return nil, err
	}
	file := inv.File()
	if file == "" {
		return nil, nil
	}
	lab, err := labs.Load(topology.FileRef(file))
	if err != nil {
		return nil, fmt.Errorf("lab %s was brought up from %s: %w", name, file, err)
	}
	lab.Name = name
	return lab, nil
}
