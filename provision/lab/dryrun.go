package lab

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/engine"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology"
)

// Plan is what "up" would do to a lab, found without changing anything
// ("lvslab up --dry-run"): the libvirt objects it would create, reuse or
// start, and per running node the steps its configure phase would change.
type Plan struct {
	Lab      string          `json:"lab"`
	File     string          `json:"file"`
	Image    string          `json:"image"`
	Accel    host.DomainType `json:"accel"` // kvm or qemu (TCG)
	Identity string          `json:"identity"`
	Pool     string          `json:"pool"`
	Networks []PlanItem      `json:"networks"`
	Nodes    []NodeDraft     `json:"nodes"`
	// Remove lists what an earlier up made for nodes and networks the
	// file no longer has: up removes it.
	Remove []PlanItem `json:"remove"`
}

// PlanItem is one object and what up would do to it.
type PlanItem struct {
	Name   string `json:"name"`
	Action string `json:"action"` // create, reuse, start
	Detail string `json:"detail,omitempty"`
}

// NodeDraft is one node: its VM, and what configuring it would change.
type NodeDraft struct {
	Node   string   `json:"node"`
	VM     PlanItem `json:"vm"`
	Create []string `json:"create"` // volumes a new VM gets
	// Changes are the configure steps that differ from the running node
	// (Surveyed), or every step of a node that is not running yet.
	Changes   []engine.StepResult `json:"changes"`
	Unchanged int                 `json:"unchanged"`
	Surveyed  bool                `json:"surveyed"` // the node was asked over SSH
	Error     string              `json:"error,omitempty"`
}

// Plan actions.
const (
	ActionCreate = "create"
	ActionReuse  = "reuse"
	ActionStart  = "start"
	ActionRemove = "remove"
)

// DryRun finds what Up(ctx, conn, lab, opts) would do and does none of it:
// it only reads libvirt and the lab's state folder, and asks running nodes
// over SSH (the same survey configure starts with). What Up would refuse
// (a foreign network or VM of the same name, changed NICs) is its error.
func DryRun(ctx context.Context, conn *host.Conn, lab *topology.Lab, opts Options) (*Plan, error) {
	r := &run{ctx: ctx, conn: conn, lab: lab, opts: opts, sink: progress.Discard}
	r.opts.Progress = nil
	if err := r.opts.Paths.Check(); err != nil {
		return nil, err
	}
	if r.opts.Images == nil {
		r.opts.Images = ImageResolverFunc(image.Resolve)
	}
	p := &Plan{Lab: lab.Name, File: lab.File, Pool: paths.DefaultPool}
	// Read-only steps of Up itself: the image and the domains.
	if err := resolveImage(r); err != nil {
		return nil, err
	}
	p.Image, p.Accel = r.img.Name+" ("+r.img.Disk+")", r.domType
	mgmt, err := r.draftMgmt()
	if err != nil {
		return nil, err
	}
	p.Networks = append(p.Networks, mgmt)
	if err := planNodes(r); err != nil {
		return nil, err
	}
	p.Identity = r.opts.Paths.LabDir(lab.Name)
	if _, err := os.Stat(r.opts.Paths.KeyFile(lab.Name)); err != nil {
		p.Identity = ActionCreate + " " + p.Identity
	} else {
		p.Identity = ActionReuse + " " + p.Identity
	}
	if exists, active := host.PoolState(conn, paths.DefaultPool); exists {
		p.Pool = map[bool]string{true: ActionReuse, false: ActionStart}[active] + " " + paths.DefaultPool
	} else {
		p.Pool = ActionCreate + " " + paths.DefaultPool + " (" + r.opts.Paths.Pool + ")"
	}
	for _, nw := range lab.Networks {
		item, err := r.draftNetwork(nw)
		if err != nil {
			return nil, err
		}
		p.Networks = append(p.Networks, item)
	}
	p.Nodes = r.draftNodes()
	if p.Remove, err = r.draftPrune(); err != nil {
		return nil, err
	}
	return p, nil
}

// draftPrune lists what pruneRemoved would remove.
func (r *run) draftPrune() ([]PlanItem, error) {
	inv, err := host.DiscoverLab(r.conn, paths.DefaultPool, r.lab.Name)
	if err != nil {
		return nil, err
	}
	gone := staleParts(inv, r.lab.Nodes, r.labNetworkNames())
	out := []PlanItem{}
	for _, d := range gone.Domains {
		out = append(out, PlanItem{Name: d.Name, Action: ActionRemove, Detail: "VM of node " + d.Tag.Node + ", no longer in the lab file, with its disks"})
	}
	for _, n := range gone.Networks {
		out = append(out, PlanItem{Name: n.Name, Action: ActionRemove, Detail: "network no longer in the lab file"})
	}
	return out, nil
}

// draftMgmt finds the lab's management subnet, or the one up would take.
func (r *run) draftMgmt() (PlanItem, error) {
	item := PlanItem{Name: paths.MgmtNetworkName(r.lab.Name), Action: ActionReuse}
	inv, err := host.DiscoverLab(r.conn, paths.DefaultPool, r.lab.Name)
	if err != nil {
		return item, err
	}
	if s := inv.MgmtSubnet(); s != "" {
		r.mgmt, err = netip.ParsePrefix(s)
	} else {
		item.Action = ActionCreate
		r.mgmt, err = host.AllocateMgmt(r.conn, cmp.Or(r.opts.MgmtPool, host.MgmtPool()), r.lab)
	}
	item.Detail = fmt.Sprintf("management network %s, bridge %s", r.mgmt, paths.MgmtBridge(r.lab.Name))
	return item, err
}

func (r *run) draftNetwork(nw *topology.Network) (PlanItem, error) {
	name := paths.NetworkName(r.lab.Name, nw.Name)
	item := PlanItem{Name: name, Action: ActionCreate,
		Detail: fmt.Sprintf("bridge %s, %s", paths.BridgeName(r.lab, nw), describeHost(nw))}
	info, tagged, err := host.LookupNetwork(r.conn, name)
	if host.IsNotFound(err) {
		return item, nil
	}
	if err != nil {
		return item, err
	}
	if !tagged || info.Tag.Name != r.lab.Name || info.Tag.Network != nw.Name {
		return item, fmt.Errorf("a libvirt network named %s exists and is not this lab's: up would refuse it; rename the lab or remove that network", name)
	}
	if err := host.NetworkMatches(info.Def, r.lab, nw); err != nil {
		return item, fmt.Errorf("network %s of the running lab differs from the lab file: %v; up would refuse it (\"lvslab down %s\" first)", name, err, r.lab.Name)
	}
	item.Action = ActionReuse
	if !info.Active {
		item.Action = ActionStart
	}
	return item, nil
}

// draftNodes says what each node's VM would get, and surveys the running
// ones over SSH, all at once.
func (r *run) draftNodes() []NodeDraft {
	drafts := make([]NodeDraft, len(r.nodes))
	acc, accErr := access.Open(r.conn, r.lab.Name, access.Options{Paths: r.opts.Paths, File: r.lab, Connector: r.opts.Connector})
	if accErr == nil {
		defer acc.Close()
	}
	var wg sync.WaitGroup
	for i, n := range r.nodes {
		d := &drafts[i]
		d.Node, d.VM = n.node.Name, PlanItem{Name: n.domain, Action: ActionReuse, Detail: string(n.state)}
		steps := catalog.Steps(n.desired, catalog.OSFamilies[0])
		if !n.exists {
			d.VM = PlanItem{Name: n.domain, Action: ActionCreate, Detail: "then start"}
			d.Create = []string{paths.OverlayVolume(r.lab.Name, n.node.Name), paths.SeedVolume(r.lab.Name, n.node.Name)}
		} else if n.state != host.StateRunning {
			d.VM.Action, d.VM.Detail = ActionStart, "now "+string(n.state)
		}
		if !n.exists || n.state != host.StateRunning || r.opts.VMsOnly {
			for _, s := range steps {
				d.Changes = append(d.Changes, engine.StepResult{Name: s.Name, Status: engine.StatusChanged, Wrote: wrote(s), Commands: s.Apply})
			}
			if r.opts.VMsOnly {
				d.Changes = nil
			}
			continue
		}
		if accErr != nil {
			d.Error = accErr.Error()
			continue
		}
		wg.Go(func() {
			r.surveyNode(acc, n, d)
		})
	}
	wg.Wait()
	return drafts
}

// SurveyDialer reaches a node for the dry run's survey: over acc, unless
// Options.SurveyDial is set.
type SurveyDialer func(ctx context.Context, acc *access.Access, node string) (guest.Executor, error)

// surveyDial is the real SurveyDialer: a node's SSH connection.
func surveyDial(ctx context.Context, acc *access.Access, node string) (guest.Executor, error) {
	c, err := acc.Dial(ctx, node)
	if err == nil && c == nil {
		return nil, errors.New("no SSH connection")
	}
	return c, err
}

func (r *run) surveyNode(acc *access.Access, n *nodeRun, d *NodeDraft) {
	dial := r.opts.SurveyDial
	if dial == nil {
		dial = surveyDial
	}
	x, err := dial(r.ctx, acc, n.node.Name)
	if err != nil {
		d.Error = "cannot survey it over SSH: " + err.Error()
		return
	}
	osf, err := engine.DetectOS(r.ctx, x)
	if err != nil {
		d.Error = err.Error()
		return
	}
	res, err := engine.Survey(r.ctx, x, catalog.Steps(n.desired, osf))
	if err != nil {
		d.Error = err.Error()
		return
	}
	d.Surveyed = true
	for _, s := range res.Steps {
		if s.Status == engine.StatusChanged {
			d.Changes = append(d.Changes, s)
		} else {
			d.Unchanged++
		}
	}
}

func wrote(s catalog.Step) string {
	if s.File == nil {
		return ""
	}
	return s.File.Path
}

// WritePlan prints a Plan for people.
func WritePlan(w io.Writer, p *Plan) {
	accel := "TCG"
	if p.Accel == host.DomainKVM {
		accel = "KVM"
	}
	fmt.Fprintf(w, "lab %s from %s: what \"lvslab up\" would do (dry run: nothing was changed)\n", p.Lab, p.File)
	fmt.Fprintf(w, "  image     %s, %s\n", p.Image, accel)
	fmt.Fprintf(w, "  identity  %s\n", p.Identity)
	fmt.Fprintf(w, "  pool      %s\n", p.Pool)
	for _, n := range p.Networks {
		fmt.Fprintf(w, "  network   %s %s (%s)\n", n.Action, n.Name, n.Detail)
	}
	for _, x := range p.Remove {
		fmt.Fprintf(w, "  remove    %s (%s)\n", x.Name, x.Detail)
	}
	for _, d := range p.Nodes {
		vm := d.VM.Action + " VM " + d.VM.Name
		if d.VM.Detail != "" {
			vm += " (" + d.VM.Detail + ")"
		}
		if len(d.Create) > 0 {
			vm += ", disks " + strings.Join(d.Create, " ")
		}
		fmt.Fprintf(w, "  node %s: %s\n", d.Node, vm)
		switch {
		case d.Error != "":
			fmt.Fprintf(w, "      configure: unknown: %s\n", d.Error)
		case !d.Surveyed && len(d.Changes) > 0:
			fmt.Fprintf(w, "      configure: all %d steps once it boots (the first boot applies what needs no service)\n", len(d.Changes))
		case !d.Surveyed:
			fmt.Fprintf(w, "      configure: nothing (--vms-only)\n")
		case len(d.Changes) == 0:
			fmt.Fprintf(w, "      configure: unchanged (%d steps as the lab wants)\n", d.Unchanged)
		default:
			fmt.Fprintf(w, "      configure: %d of %d steps would change:\n", len(d.Changes), len(d.Changes)+d.Unchanged)
			for _, s := range d.Changes {
				what := strings.Join(s.Commands, "; ")
				if s.Wrote != "" {
					what = strings.TrimSuffix("write "+s.Wrote+"; "+what, "; ")
				}
				if line := progress.FirstLine(what); line != what {
					what = line + " ..."
				}
				fmt.Fprintf(w, "        %-22s %s\n", s.Name, what)
			}
		}
	}
}
