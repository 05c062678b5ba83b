package provision

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/topology"
)

// StatusOptions tune Status.
type StatusOptions struct {
	// Lab, when set, is the lab file: its nodes are listed even when their
	// VM is missing, and its addresses are probed too.
	Lab *topology.Lab
	// Pool is the storage pool of the lab disks ("" means DefaultPool).
	Pool string
	// DialTimeout bounds each SSH probe (default 2 s).
	DialTimeout time.Duration

	probe func(ctx context.Context, addr string, timeout time.Duration) (string, error) // tests
}

// LabStatus is the state of one lab.
type LabStatus struct {
	Lab      string          `json:"lab"`
	File     string          `json:"file,omitempty"`
	Nodes    []NodeStatus    `json:"nodes"`
	Networks []NetworkStatus `json:"networks"`
	Volumes  []string        `json:"volumes"`
}

// NodeStatus is one node: its VM's state and whether SSH answers.
type NodeStatus struct {
	Node       string   `json:"node"`
	Role       string   `json:"role,omitempty"`
	Domain     string   `json:"domain"`
	State      string   `json:"state"` // running, shut off, ..., or "missing"
	Addresses  []string `json:"addresses,omitempty"`
	SSH        string   `json:"ssh,omitempty"`    // the address that answered, host:port
	Banner     string   `json:"banner,omitempty"` // its SSH banner
	SSHError   string   `json:"ssh_error,omitempty"`
	ConsoleLog string   `json:"console_log,omitempty"`
}

// NetworkStatus is one lab network.
type NetworkStatus struct {
	Name   string `json:"name"`
	Bridge string `json:"bridge"`
	Active bool   `json:"active"`
}

// Status reports a lab found by its tag: each node's domain state, its
// addresses and whether its SSH server answers (TCP connect and banner,
// with a short timeout). name is the lab's name.
func Status(ctx context.Context, conn *libvirt.Connect, name string, opts StatusOptions) (*LabStatus, error) {
	if opts.Lab != nil {
		name = opts.Lab.Name
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 2 * time.Second
	}
	if opts.probe == nil {
		opts.probe = sshBanner
	}
	inv, err := DiscoverLab(conn, opts.Pool, name)
	if err != nil {
		return nil, err
	}
	st := &LabStatus{Lab: name, Networks: []NetworkStatus{}, Volumes: []string{}}
	byNode := map[string]*DomainInfo{}
	for i := range inv.Domains {
		d := &inv.Domains[i]
		byNode[d.Tag.Node] = d
		if st.File == "" {
			st.File = d.Tag.File
		}
	}
	var order []string
	addrs := map[string][]string{}
	roles := map[string]string{}
	if opts.Lab != nil {
		st.File = opts.Lab.File
		for _, n := range opts.Lab.Nodes {
			order = append(order, n.Name)
			roles[n.Name] = n.Role
			for _, a := range n.Addresses() {
				addrs[n.Name] = append(addrs[n.Name], a.String())
			}
		}
	}
	for _, d := range inv.Domains {
		if _, listed := roles[d.Tag.Node]; !listed && !contains(order, d.Tag.Node) {
			order = append(order, d.Tag.Node)
		}
		if roles[d.Tag.Node] == "" {
			roles[d.Tag.Node] = d.Tag.Role
		}
		if d.Tag.SSH != "" && !contains(addrs[d.Tag.Node], d.Tag.SSH) {
			addrs[d.Tag.Node] = append([]string{d.Tag.SSH}, addrs[d.Tag.Node]...)
		}
	}
	st.Nodes = make([]NodeStatus, len(order))
	var wg sync.WaitGroup
	for i, node := range order {
		ns := NodeStatus{Node: node, Role: roles[node], Domain: DomainName(name, node), State: "missing", Addresses: addrs[node]}
		if d := byNode[node]; d != nil {
			ns.Domain, ns.State = d.Name, d.State
			if len(d.Logs) > 0 {
				ns.ConsoleLog = d.Logs[0]
			}
		}
		st.Nodes[i] = ns
		if ns.State != "running" || len(ns.Addresses) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			probeSSH(ctx, &st.Nodes[i], opts.DialTimeout, opts.probe)
		}()
	}
	wg.Wait()
	for _, n := range inv.Networks {
		st.Networks = append(st.Networks, NetworkStatus{Name: n.Name, Bridge: n.Bridge, Active: n.Active})
	}
	for _, v := range inv.Volumes {
		st.Volumes = append(st.Volumes, v.Name)
	}
	return st, nil
}

// probeSSH tries the node's addresses in turn: TCP connect, then the
// server's "SSH-2.0-..." banner.
func probeSSH(ctx context.Context, ns *NodeStatus, timeout time.Duration, probe func(context.Context, string, time.Duration) (string, error)) {
	var errs []string
	for _, a := range ns.Addresses {
		addr := sshAddr(a)
		banner, err := probe(ctx, addr, timeout)
		if err == nil {
			ns.SSH, ns.Banner, ns.SSHError = addr, banner, ""
			return
		}
		errs = append(errs, err.Error())
	}
	ns.SSHError = strings.Join(errs, "; ")
}

func sshBanner(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("%s: no SSH banner: %w", addr, err)
	}
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "SSH-") {
		return "", fmt.Errorf("%s: not an SSH server (%q)", addr, line)
	}
	return line, nil
}

// Labs lists the names of the labs libvirt holds objects of.
func Labs(conn *libvirt.Connect, pool string) ([]string, error) {
	all, err := Discover(conn, pool)
	if err != nil {
		return nil, err
	}
	return labNames(all), nil
}
