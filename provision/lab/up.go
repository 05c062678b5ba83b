package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/topology"
)

// Default SSH readiness timeouts: TCG boots a VM in ~35 s alone and ~90 s
// four at a time on two cores.
const (
	DefaultTimeoutTCG = 5 * time.Minute
	DefaultTimeoutKVM = 2 * time.Minute
)

// Options tune Up.
type Options struct {
	// Accel is "auto" (default: KVM when libvirt offers it), "kvm" or "tcg".
	Accel string
	// Paths are lvslab's folders: the lab's key and pins, the image store,
	// and the pool (DefaultPool) and console logs, which are the
	// hypervisor's own (Remote) on a remote libvirt.
	Paths paths.Root
	// Retain keeps what a failed run created, for debugging.
	Retain bool
	// Timeout bounds the wait for SSH on every node (0: DefaultTimeoutTCG, or
	// DefaultTimeoutKVM under KVM).
	Timeout time.Duration
	// Progress receives up's events (its steps, the wait for each node,
	// what configure changed); nil discards them.
	Progress progress.Sink
	// VMsOnly stops after the ssh step: nothing is configured over SSH.
	VMsOnly bool
	// Bare seeds new VMs with management access only (no lab addresses, the
	// image's hostname, no first-boot files) and configures nothing: the
	// lab as a classroom hands out fresh clones, for students to configure.
	Bare bool
	// Nodes limits the configure step to these nodes (a student who fell
	// behind); all when empty.
	Nodes []string
	// MgmtPool is where a new lab's management subnet is allocated from
	// ("" means MgmtPool()).
	MgmtPool string
	// Class and Student make the lab Student's copy of Class ("lvslab
	// class"): up writes both into each domain's tag as it defines it, so
	// the class finds the copy on its host even after an up that failed or
	// was cut short. A domain whose tag names another class or student is
	// refused. Empty: reused domains keep the mark their tags carry, and
	// new ones take it from them.
	Class, Student string

	// What Up reaches outside the process, nil for the real thing; tests
	// on test:///default (no volume upload, no guests) put fakes here.
	//
	// Images finds the lab's image (nil means image.Resolve).
	Images ImageResolver
	// Volumes writes seeds and image files into volumes (nil means
	// through libvirt streams).
	Volumes host.VolumeWriter
	// Connector logs in to the nodes (nil means sshx.WaitReady).
	Connector access.Connector
	// Consoles opens a node's serial console, for an image set up over it
	// (nil means through libvirt).
	Consoles access.ConsoleOpener
	// Agent reaches the nodes' guest agents (nil means through libvirt).
	Agent host.Agent
	// SurveyDial reaches a running node for DryRun's survey (nil means
	// over SSH).
	SurveyDial SurveyDialer
	// AfterStep, when set, runs after each step with its name; its error
	// fails Up right there, as the step's own would.
	AfterStep func(step string) error
	// configureNode configures one node (nil means configureNode): tests
	// on test:///default, whose guests run no engine, watch the order.
	configureNode configureFunc
}

// ImageResolver finds an image by name or path in the store dir.
type ImageResolver interface {
	Resolve(dir, nameOrPath string) (image.Image, error)
}

// ImageResolverFunc is a function that is an ImageResolver.
type ImageResolverFunc func(dir, nameOrPath string) (image.Image, error)

// Resolve calls f.
func (f ImageResolverFunc) Resolve(dir, nameOrPath string) (image.Image, error) {
	return f(dir, nameOrPath)
}

// Endpoint is how to reach one node over SSH, as up reached it.
type Endpoint struct {
	Node   string
	Domain string
	// Addr is host:port of the node's SSH server, as it answered.
	Addr string
	User string
	// KeyFile is the lab's private key, KnownHostsFile its pins.
	KeyFile        string
	KnownHostsFile string
	// HostKeyAlias is the name the node's host key is pinned under (the
	// domain name), valid whatever address the node has.
	HostKeyAlias string
	// ConsoleLog is the VM's serial console log.
	ConsoleLog string
	// Created tells whether this run created the VM (else it was reused).
	Created bool
	// Ready is how long the node took, from the start of the wait, to accept
	// the SSH login.
	Ready time.Duration
}

// Result is what Up made.
type Result struct {
	Lab   string
	Nodes []*Endpoint
	// Created and Reused list the libvirt objects by kind and name.
	Created, Reused []string
	// DomainType is host.DomainKVM or host.DomainQEMU (TCG).
	DomainType host.DomainType
	// SSHReady is the time from starting the wait until the last node
	// accepted SSH.
	SSHReady time.Duration
	Elapsed  time.Duration
	// Configured is what the configure step did to each node (none with
	// VMsOnly).
	Configured []NodeOutcome
}

// step is one stage of Up, in the style of kind's create actions: a name, a
// line for "up --help", and its action.
type step struct {
	name string
	doc  string
	run  func(r *run) error
}

// Stage is one step of Up as "lvslab up --help" lists it.
type Stage struct{ Name, Doc string }

// Stages are the steps of Up, in the order they run.
func Stages() []Stage {
	var out []Stage
	for _, s := range upSteps() {
		out = append(out, Stage{Name: s.name, Doc: s.doc})
	}
	return out
}

// upSteps are the stages of Up, in order.
func upSteps() []step {
	return []step{
		{"image", `finds the lab's image (lvslab image ls, or a qcow2 path) and picks KVM or TCG`, resolveImage},
		{"identity", `the lab's state folder with its SSH login key and known_hosts, made once`, labIdentity},
		{"pool", `the storage pool "lvslab" of every lab's disks, made once`, ensurePool},
		{"upload", `on a remote libvirt: the image (disk, kernel, initrd) uploaded into its pool
once per image version (volumes image-NAME-CHECKSUM.*); local libvirt uses the files`, stageImage},
		{"mgmt", fmt.Sprintf(`the lab's management network "<lab>_mgmt": a /%d from the pool %s
(--mgmt-pool), the host .1; each VM's last NIC, mgmt0, gets a static address on
it (no gateway, no DHCP) and all of lvslab's SSH goes there`, host.MgmtBits, host.DefaultMgmtPool), ensureMgmt},
		{"networks", `one isolated network per lab network, "<lab>-<network>": a plain L2 segment,
with the host's address on its bridge only where the lab file says host:`, ensureNetworks},
		{"plan", `finds each node's VM: an existing one of this lab is reused after checking its NICs`, planNodes},
		{"prune", `removes what an earlier up made for nodes and networks the lab file no longer
has: their VMs, disks, console logs and host key pins`, pruneRemoved},
		{"disks", `per new node a qcow2 linked clone of the image (instant, small)`, ensureVolumes},
		{"seeds", `per new node a cloud-init "cidata" volume: hostname, the lab's SSH key, a host key
lvslab pins in known_hosts, static lab and mgmt0 addresses, first-boot files`, ensureSeeds},
		{"domains", `"<lab>-<node>" VMs with one NIC per lab NIC (same order, fixed MACs), then mgmt0`, defineDomains},
		{"start", `starts every VM that is not running, all at once`, startDomains},
		{"ssh", `waits until each node accepts the SSH login (lab key, pinned host key) on its
mgmt0 address; a node that ran already and does not answer has its guest agent
asked why, and what cut lvslab off (mgmt0 down, sshd stopped, a firewall rule on
port 22) is undone through it`, waitSSH},
		{"configure", `brings every node to its desired state over SSH, each as soon as it answers
(one that never does fails alone, by name): hostname,
NICs (persistent, DHCP off), gateway, sysctls, VIP aliases, web page, ipvsadm
rules read back and compared; each node reports "changed (steps)" or
"unchanged" (skipped with --vms-only and --bare; --node: only those nodes)`, configure},
	}
}

// run is the state shared by the steps of one Up.
type run struct {
	ctx        context.Context
	conn       *host.Conn
	lab        *topology.Lab
	opts       Options
	sink       progress.Sink // opts.Progress, never nil
	img        image.Image
	domType    host.DomainType
	authKey    string
	signer     ssh.Signer
	nodes      []*nodeRun
	undo       []undoItem
	created    []string
	reused     []string
	sshReady   time.Duration
	access     *access.Access
	configured []NodeOutcome
	// configuring configures each node as soon as it answers SSH (nil
	// when up configures nothing); sshErr is the nodes that never did.
	configuring *configuring
	sshErr      error
	step        string       // the step running now
	mgmt        netip.Prefix // the lab's management subnet
	remote      *host.Remote // the hypervisor of a remote libvirt, else nil
	capacity    uint64       // the image's virtual size, read before it is staged
}

// nodeRun is one node's state in a run.
type nodeRun struct {
	node       *topology.Node
	desired    *roles.NodeState // computed once: the seed and configure both use it
	domain     string
	exists     bool             // the domain existed before this run
	state      host.DomainState // its state then
	tag        host.Tag
	overlay    string
	seed       string
	consoleLog string
	hostKey    []byte // private PEM, new nodes only
	hostPub    string
	endpoint   *Endpoint
}

type undoItem struct {
	what string
	fn   func() error
}

// Up brings the lab up: pool, networks, disks (linked clones of the image),
// seeds, domains, all started in parallel, then waits until every node
// accepts SSH with the lab's key and a pinned host key, and runs the
// configure phase. What exists already is reused (a second "up" of a running
// lab starts what is stopped and checks that the hardware still matches);
// on failure whatever this run created is removed, unless opts.Retain.
func Up(ctx context.Context, conn *host.Conn, lab *topology.Lab, opts Options) (res *Result, err error) {
	start := time.Now()
	r, err := newRun(ctx, conn, lab, opts)
	if err != nil {
		return nil, err
	}
	defer func() { err = r.finish(err) }()
	r.sink.Emit(progress.UpStarted{Lab: lab.Name, File: lab.File, Networks: len(lab.Networks), Nodes: len(lab.Nodes)})
	for _, s := range upSteps() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := time.Now()
		r.step = s.name
		r.sink.Emit(progress.StepStarted{Step: s.name})
		if err := s.run(r); err != nil {
			r.sink.Emit(progress.StepFailed{Step: s.name, Elapsed: progress.Since(t), Error: err.Error()})
			return nil, err
		}
		r.sink.Emit(progress.StepDone{Step: s.name, Elapsed: progress.Since(t)})
		if r.opts.AfterStep != nil {
			if err := r.opts.AfterStep(s.name); err != nil {
				return nil, err
			}
		}
	}
	res = &Result{Lab: lab.Name, Created: r.created, Reused: r.reused, DomainType: r.domType, SSHReady: r.sshReady,
		Elapsed: time.Since(start), Configured: r.configured}
	for _, n := range r.nodes {
		res.Nodes = append(res.Nodes, n.endpoint)
	}
	return res, nil
}

// newRun is the state of one Up, its options' defaults filled in.
func newRun(ctx context.Context, conn *host.Conn, lab *topology.Lab, opts Options) (*run, error) {
	r := &run{ctx: ctx, conn: conn, lab: lab, opts: opts, sink: progress.Or(opts.Progress)}
	var err error
	if r.remote, err = host.RemoteOf(conn); err != nil {
		return nil, err
	}
	if err := r.opts.Paths.Check(); err != nil {
		return nil, err
	}
	if r.remote != nil {
		r.opts.Paths = r.opts.Paths.Remote()
	}
	if r.opts.MgmtPool == "" {
		r.opts.MgmtPool = host.MgmtPool()
	}
	if r.opts.Images == nil {
		r.opts.Images = ImageResolverFunc(image.Resolve)
	}
	if r.opts.Volumes == nil {
		r.opts.Volumes = host.StreamVolumes{}
	}
	return r, nil
}

// finish closes the run's connections and, when it failed, removes what
// it created (unless Retain) and says so in the error it returns.
func (r *run) finish(err error) error {
	r.configuring.wait()
	if r.access != nil {
		r.access.Close()
	}
	if err == nil {
		return nil
	}
	if r.ctx.Err() != nil {
		return r.interrupted(r.ctx)
	}
	if r.opts.Retain {
		if len(r.undo) > 0 {
			err = fmt.Errorf("%w\n(--retain: kept what this run created; \"lvslab down %s\" removes it)", err, r.lab.Name)
		}
		return err
	}
	made := len(r.undo)
	if cleanupErr := r.rollback(); cleanupErr != nil {
		err = fmt.Errorf("%w\ncleanup after the failure also failed: %v (\"lvslab down %s\" removes the rest)", err, cleanupErr, r.lab.Name)
	} else if made > 0 {
		err = fmt.Errorf("%w\n(removed what this run created; --retain keeps it for debugging)", err)
	}
	return err
}

// made records an object this run created, with how to remove it again.
func (r *run) made(what string, fn func() error) {
	r.created = append(r.created, what)
	r.undo = append(r.undo, undoItem{what: what, fn: fn})
}

// rollback removes what this run created, newest first.
func (r *run) rollback() error {
	var errs []error
	for i := len(r.undo) - 1; i >= 0; i-- {
		if err := r.undo[i].fn(); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", r.undo[i].what, err))
		}
	}
	r.undo = nil
	return errors.Join(errs...)
}

// ---- helpers ----

func instanceID(lab, node string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return lab + "-" + node + "-" + hex.EncodeToString(b)
}
