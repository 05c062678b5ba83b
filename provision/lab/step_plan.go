package lab

import (
	"fmt"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/roles"
)

// planNodes finds each node's domain: an existing one of this lab is reused
// after checking its NICs, a missing one will be created.
func planNodes(r *run) error {
	if (r.opts.Class == "") != (r.opts.Student == "") {
		return fmt.Errorf("lab %s: a class's copy needs both its class and its student (got class %q, student %q)", r.lab.Name, r.opts.Class, r.opts.Student)
	}
	for _, node := range r.lab.Nodes {
		n := &nodeRun{
			node:       node,
			desired:    roles.DesiredFor(r.lab, node),
			domain:     paths.DomainName(r.lab.Name, node.Name),
			consoleLog: r.consoleLog(node.Name),
		}
		if err := r.planNode(n); err != nil {
			return err
		}
		r.nodes = append(r.nodes, n)
	}
	inheritClass(r.nodes)
	// New nodes get the first management addresses nobody holds.
	var taken []string
	for _, n := range r.nodes {
		taken = append(taken, n.tag.Mgmt)
	}
	for _, n := range r.nodes {
		if n.tag.Mgmt != "" {
			continue
		}
		a, err := host.MgmtAddress(r.mgmt, taken)
		if err != nil {
			return err
		}
		n.tag.Mgmt = a.String()
		taken = append(taken, n.tag.Mgmt)
	}
	return nil
}

func (r *run) planNode(n *nodeRun) error {
	info, tagged, err := host.LookupDomain(r.conn, n.domain)
	if host.IsNotFound(err) {
		n.tag = host.Tag{Name: r.lab.Name, Node: n.node.Name, Role: n.node.Role, File: r.lab.File, InstanceID: instanceID(r.lab.Name, n.node.Name),
			Class: r.opts.Class, Student: r.opts.Student}
		return nil
	}
	if err != nil {
		return err
	}
	if !tagged || info.Tag.Name != r.lab.Name || info.Tag.Node != n.node.Name {
		owner := "has no lvslab tag"
		if tagged {
			owner = "belongs to " + host.DescribeTag(info.Tag)
		}
		return fmt.Errorf("a libvirt domain named %s exists and %s: lvslab will not touch it; rename the lab or node, or remove that domain", n.domain, owner)
	}
	if err := r.sameCopy(n.domain, info.Tag); err != nil {
		return err
	}
	want, got := host.WantHardware(r.lab, n.node), host.DomainHardware(info.Def)
	if !want.Equal(got) {
		return fmt.Errorf("node %s (domain %s) runs with NICs [%s] but the lab file wants [%s]: a lab's VM hardware cannot change while it exists; run \"lvslab down %s\" first",
			n.node.Name, n.domain, got, want, r.lab.Name)
	}
	if info.Def.Memory != nil && host.MemoryMiB(info.Def) != n.node.Memory {
		r.sink.Emit(progress.MemoryKept{Domain: n.domain, MiB: host.MemoryMiB(info.Def), Want: n.node.Memory})
	}
	n.exists, n.state, n.tag = true, info.State, info.Tag
	n.tag.File, n.tag.Role = r.lab.File, n.node.Role
	if r.opts.Class != "" {
		n.tag.Class, n.tag.Student = r.opts.Class, r.opts.Student
	}
	for _, l := range info.Logs {
		n.consoleLog = l
	}
	if len(info.Disks) > 0 {
		n.overlay = info.Disks[0]
	}
	if len(info.Disks) > 1 {
		n.seed = info.Disks[1]
	}
	r.reused = append(r.reused, "domain "+n.domain)
	return nil
}

// inheritClass gives the new nodes of a class's copy, brought up without
// naming the class (a plain "up --as"), the mark their reused siblings
// carry: every domain of a copy says whose it is.
func inheritClass(nodes []*nodeRun) {
	var mark host.Tag
	for _, n := range nodes {
		if n.exists && n.tag.Class != "" {
			mark = n.tag
			break
		}
	}
	for _, n := range nodes {
		if !n.exists && n.tag.Class == "" {
			n.tag.Class, n.tag.Student = mark.Class, mark.Student
		}
	}
}

// sameCopy refuses a reused domain that is another class's or student's
// copy than the one asked: lab names of two classes can meet (class "lvs",
// student "a-b" and class "lvs-a", student "b" are both lvs-a-b), and one
// class must not take over, nor later remove, the other's VMs. A domain
// with no class mark is adopted (a lab brought up by "up --as" before).
func (r *run) sameCopy(domain string, t host.Tag) error {
	if r.opts.Class == "" || t.Class == "" || (t.Class == r.opts.Class && t.Student == r.opts.Student) {
		return nil
	}
	return fmt.Errorf("domain %s is student %s's copy of class %s, not student %s's of class %s: lvslab will not take it over; \"lvslab class down\" with class %s's file (or \"lvslab down %s\") removes it, or rename the class",
		domain, t.Student, t.Class, r.opts.Student, r.opts.Class, t.Class, r.lab.Name)
}
