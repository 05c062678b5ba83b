package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/console"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/seed"
	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
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
	// Home is lvslab's state folder ("" means Home()).
	Home string
	// ImageDir is the image store ("" means image.DefaultDir()).
	ImageDir string
	// Pool and PoolDir name the storage pool of the lab disks and its folder
	// ("" means DefaultPool and DefaultPoolDir()).
	Pool, PoolDir string
	// LogDir holds the serial console logs ("" means DefaultLogDir()).
	LogDir string
	// Retain keeps what a failed run created, for debugging.
	Retain bool
	// Timeout bounds the wait for SSH on every node (0: DefaultTimeoutTCG, or
	// DefaultTimeoutKVM under KVM).
	Timeout time.Duration
	// Out receives progress; nil discards it. On a terminal the per-node
	// status lines are redrawn in place.
	Out io.Writer
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
	// SurveyDial reaches a running node for DryRun's survey (nil means
	// over SSH).
	SurveyDial SurveyDialer
	// AfterStep, when set, runs after each step with its name; its error
	// fails Up right there, as the step's own would.
	AfterStep func(step string) error
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
type step interface {
	name() string
	doc() string
	run(r *run) error
}

// Stage is one step of Up as "lvslab up --help" lists it.
type Stage struct{ Name, Doc string }

// Stages are the steps of Up, in the order they run.
func Stages() []Stage {
	var out []Stage
	for _, s := range upSteps() {
		out = append(out, Stage{Name: s.name(), Doc: s.doc()})
	}
	return out
}

// upSteps are the stages of Up, in order.
func upSteps() []step {
	return []step{
		resolveImage{},
		labIdentity{},
		ensurePool{},
		stageImage{},
		ensureMgmt{},
		ensureNetworks{},
		planNodes{},
		ensureVolumes{},
		ensureSeeds{},
		defineDomains{},
		startDomains{},
		waitSSH{},
		configure{},
	}
}

// run is the state shared by the steps of one Up.
type run struct {
	ctx        context.Context
	conn       *libvirt.Connect
	lab        *topology.Lab
	opts       Options
	out        io.Writer
	img        image.Image
	domType    host.DomainType
	stateDir   string
	knownHosts string
	keyFile    string
	authKey    string
	signer     ssh.Signer
	nodes      []*nodeRun
	undo       []undoItem
	created    []string
	reused     []string
	progress   *nodeProgress
	sshReady   time.Duration
	access     *access.Access
	configured []NodeOutcome
	step       string       // the step running now
	mgmt       netip.Prefix // the lab's management subnet
	remote     *host.Remote // the hypervisor of a remote libvirt, else nil
	capacity   uint64       // the image's virtual size, read before it is staged
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
func Up(ctx context.Context, conn *libvirt.Connect, lab *topology.Lab, opts Options) (res *Result, err error) {
	start := time.Now()
	r := &run{ctx: ctx, conn: conn, lab: lab, opts: opts, out: opts.Out}
	if r.out == nil {
		r.out = io.Discard
	}
	if r.remote, err = host.RemoteOf(conn); err != nil {
		return nil, err
	}
	if r.opts.Pool == "" {
		r.opts.Pool = paths.DefaultPool
	}
	if r.opts.PoolDir == "" {
		r.opts.PoolDir = paths.DefaultPoolDir()
		if r.remote != nil {
			r.opts.PoolDir = paths.RemotePoolDir
		}
	}
	if r.opts.LogDir == "" {
		r.opts.LogDir = paths.DefaultLogDir()
		if r.remote != nil {
			r.opts.LogDir = paths.RemoteLogDir
		}
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
	defer func() {
		if r.access != nil {
			r.access.Close()
		}
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			err = r.interrupted(ctx)
			return
		}
		if r.opts.Retain {
			if len(r.undo) > 0 {
				err = fmt.Errorf("%w\n(--retain: kept what this run created; \"lvslab down %s\" removes it)", err, lab.Name)
			}
			return
		}
		made := len(r.undo)
		if cleanupErr := r.rollback(); cleanupErr != nil {
			err = fmt.Errorf("%w\ncleanup after the failure also failed: %v (\"lvslab down %s\" removes the rest)", err, cleanupErr, lab.Name)
		} else if made > 0 {
			err = fmt.Errorf("%w\n(removed what this run created; --retain keeps it for debugging)", err)
		}
	}()
	fmt.Fprintf(r.out, "lab %s from %s: %d networks, %d nodes\n", lab.Name, lab.File, len(lab.Networks), len(lab.Nodes))
	for _, s := range upSteps() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := time.Now()
		r.step = s.name()
		if err := s.run(r); err != nil {
			return nil, err
		}
		fmt.Fprintf(r.out, "  %-10s done in %s\n", s.name(), since(t))
		if r.opts.AfterStep != nil {
			if err := r.opts.AfterStep(s.name()); err != nil {
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

// ---- steps ----

// resolveImage finds the lab's image and picks the domain type.
type resolveImage struct{}

func (resolveImage) name() string { return "image" }
func (resolveImage) doc() string {
	return `finds the lab's image (lvslab image ls, or a qcow2 path) and picks KVM or TCG`
}
func (resolveImage) run(r *run) error {
	img, err := r.opts.Images.Resolve(r.opts.ImageDir, r.lab.Image)
	if err != nil {
		return err
	}
	r.img = img
	if r.domType, err = host.DomainTypeFor(r.conn, r.opts.Accel); err != nil {
		return err
	}
	boot := "its own bootloader (cloud-init reads the seed)"
	if img.DirectBoot() {
		boot = "direct kernel boot"
	}
	accel := "TCG emulation"
	if r.domType == host.DomainKVM {
		accel = "KVM"
	}
	fmt.Fprintf(r.out, "  image %s (%s), %s, %s\n", img.Name, img.Disk, boot, accel)
	return nil
}

// labIdentity makes (or reuses) the lab's state folder and SSH login key.
type labIdentity struct{}

func (labIdentity) name() string { return "identity" }
func (labIdentity) doc() string {
	return `the lab's state folder with its SSH login key and known_hosts, made once`
}
func (labIdentity) run(r *run) error {
	r.stateDir = paths.StateDir(r.opts.Home, r.lab.Name)
	r.knownHosts = paths.KnownHostsFile(r.stateDir)
	r.keyFile = paths.KeyFile(r.stateDir)
	if _, err := os.Stat(r.stateDir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(r.stateDir, 0o700); err != nil {
			return fmt.Errorf("lab state folder: %w", err)
		}
		dir := r.stateDir
		r.made("folder "+dir, func() error { return os.RemoveAll(dir) })
	}
	signer, line, err := sshx.EnsureKey(r.stateDir)
	if err != nil {
		return fmt.Errorf("lab SSH key in %s: %w", r.stateDir, err)
	}
	r.signer, r.authKey = signer, line
	return nil
}

// ensurePool makes the shared storage pool if it is missing and starts it.
type ensurePool struct{}

func (ensurePool) name() string { return "pool" }
func (ensurePool) doc() string {
	return `the storage pool "lvslab" of every lab's disks, made once`
}
func (ensurePool) run(r *run) error {
	pool, err := r.conn.LookupStoragePoolByName(r.opts.Pool)
	if err == nil {
		defer pool.Free()
		active, err := pool.IsActive()
		if err != nil {
			return err
		}
		if !active {
			if err := console.Libvirt("start storage pool "+r.opts.Pool, func() error { return pool.Create(0) }); err != nil {
				return fmt.Errorf("start storage pool %s: %w", r.opts.Pool, err)
			}
		}
		r.reused = append(r.reused, "pool "+r.opts.Pool)
		return nil
	}
	if !host.IsNotFound(err) {
		return fmt.Errorf("storage pool %s: %w", r.opts.Pool, err)
	}
	x, err := host.PoolXML(r.opts.Pool, r.opts.PoolDir)
	if err != nil {
		return err
	}
	pool, err = console.Call("define storage pool "+r.opts.Pool, func() (*libvirt.StoragePool, error) { return r.conn.StoragePoolDefineXML(x, 0) })
	if err != nil {
		if again, lerr := r.conn.LookupStoragePoolByName(r.opts.Pool); lerr == nil {
			again.Free() // another "up" made it meanwhile: share it
			return ensurePool{}.run(r)
		}
		return fmt.Errorf("define storage pool %s (%s): %w", r.opts.Pool, r.opts.PoolDir, err)
	}
	defer pool.Free()
	name := r.opts.Pool
	r.made("pool "+name, func() error { return host.RemovePool(r.conn, name) })
	if err := console.Libvirt("build storage pool "+name, func() error { return pool.Build(0) }); err != nil {
		return fmt.Errorf("make the folder %s of storage pool %s: %w", r.opts.PoolDir, name, err)
	}
	if err := console.Libvirt("start storage pool "+name, func() error { return pool.Create(0) }); err != nil {
		return fmt.Errorf("start storage pool %s: %w", name, err)
	}
	if err := console.Libvirt("storage pool "+name+": autostart on", func() error { return pool.SetAutostart(true) }); err != nil {
		return fmt.Errorf("storage pool %s: autostart: %w", name, err)
	}
	return nil
}

// progressf prints a progress line.
func (r *run) progressf(format string, args ...any) {
	fmt.Fprintf(r.out, format, args...)
}

// planNodes finds each node's domain: an existing one of this lab is reused
// after checking its NICs, a missing one will be created.
type planNodes struct{}

func (planNodes) name() string { return "plan" }
func (planNodes) doc() string {
	return `finds each node's VM: an existing one of this lab is reused after checking its NICs`
}
func (planNodes) run(r *run) error {
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
	d, err := r.conn.LookupDomainByName(n.domain)
	if host.IsNotFound(err) {
		n.tag = host.Tag{Name: r.lab.Name, Node: n.node.Name, Role: n.node.Role, File: r.lab.File, InstanceID: instanceID(r.lab.Name, n.node.Name),
			Class: r.opts.Class, Student: r.opts.Student}
		return nil
	}
	if err != nil {
		return fmt.Errorf("domain %s: %w", n.domain, err)
	}
	defer d.Free()
	info, tagged, err := host.InspectDomain(d)
	if err != nil {
		return fmt.Errorf("domain %s: %w", n.domain, err)
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
		r.progressf("  note: %s has %d MiB, the lab file says %d MiB; kept (\"lvslab down\" then \"up\" applies it)\n", n.domain, host.MemoryMiB(info.Def), n.node.Memory)
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

// ensureVolumes makes each new node's disk, a qcow2 overlay on the image.
type ensureVolumes struct{}

func (ensureVolumes) name() string { return "disks" }
func (ensureVolumes) doc() string {
	return `per new node a qcow2 linked clone of the image (instant, small)`
}
func (ensureVolumes) run(r *run) error {
	var capacity uint64
	return r.eachNewNode(func(pool *libvirt.StoragePool, n *nodeRun) error {
		var err error
		if capacity == 0 {
			capacity = r.capacity
		}
		if capacity == 0 {
			if capacity, err = imageCapacity(r.img); err != nil {
				return err
			}
		}
		name := paths.OverlayVolume(r.lab.Name, n.node.Name)
		x, err := host.OverlayXML(name, r.img, capacity)
		if err != nil {
			return err
		}
		vol, err := r.newVolume(pool, name, x, fmt.Sprintf("disk %s (linked clone of %s)", name, r.img.Disk))
		if err != nil {
			return err
		}
		n.overlay, err = vol.GetPath()
		vol.Free()
		return err
	})
}

// eachNewNode runs f on every node this run creates, with the lab's storage
// pool.
func (r *run) eachNewNode(f func(*libvirt.StoragePool, *nodeRun) error) error {
	pool, err := r.conn.LookupStoragePoolByName(r.opts.Pool)
	if err != nil {
		return fmt.Errorf("storage pool %s: %w", r.opts.Pool, err)
	}
	defer pool.Free()
	for _, n := range r.nodes {
		if n.exists {
			continue
		}
		if err := f(pool, n); err != nil {
			return err
		}
	}
	return nil
}

// newVolume creates volume name from its XML in pool, in place of a stale
// one, and records it for the undo of a failed run; what names it in errors.
func (r *run) newVolume(pool *libvirt.StoragePool, name, xml, what string) (*libvirt.StorageVol, error) {
	if err := dropStaleVolume(pool, name); err != nil {
		return nil, err
	}
	vol, err := console.Call("create volume "+name, func() (*libvirt.StorageVol, error) { return pool.StorageVolCreateXML(xml, 0) })
	if err != nil {
		return nil, fmt.Errorf("create %s in pool %s: %w", what, r.opts.Pool, err)
	}
	r.made("volume "+name, func() error { return host.DeleteVolume(r.conn, r.opts.Pool, name) })
	return vol, nil
}

// dropStaleVolume deletes a volume left by a run that crashed before it
// defined the node's domain: no domain uses it.
func dropStaleVolume(pool *libvirt.StoragePool, name string) error {
	if err := host.DeletePoolVolume(pool, name); err != nil {
		return fmt.Errorf("stale volume: %w", err)
	}
	return nil
}

// ensureSeeds makes each new node's host key, pins it, and writes its seed.
type ensureSeeds struct{}

func (ensureSeeds) name() string { return "seeds" }
func (ensureSeeds) doc() string {
	return `per new node a cloud-init "cidata" volume: hostname, the lab's SSH key, a host key
lvslab pins in known_hosts, static lab and mgmt0 addresses, first-boot files`
}
func (ensureSeeds) run(r *run) error {
	return r.eachNewNode(func(pool *libvirt.StoragePool, n *nodeRun) error {
		priv, pub, err := sshx.GenerateHostKey()
		if err != nil {
			return err
		}
		n.hostKey = priv
		n.hostPub = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + n.domain
		for _, name := range pinNames(n) {
			if err := sshx.PinHostKey(r.knownHosts, name, pub); err != nil {
				return fmt.Errorf("pin host key of %s in %s: %w", n.node.Name, r.knownHosts, err)
			}
		}
		var files []catalog.File
		var cmds []string
		if !r.opts.Bare {
			files, cmds = catalog.FirstBoot(n.desired)
		}
		iso, err := seed.BuildISO(seed.Config{
			Lab: r.lab, Node: n.node, InstanceID: n.tag.InstanceID, Bare: r.opts.Bare,
			AuthorizedKey: r.authKey, HostKeyPrivate: string(priv), HostKeyPublic: n.hostPub,
			Files: files, Commands: cmds, Mgmt: netip.PrefixFrom(netip.MustParseAddr(n.tag.Mgmt), r.mgmt.Bits()),
		})
		if err != nil {
			return err
		}
		name := paths.SeedVolume(r.lab.Name, n.node.Name)
		x, err := host.SeedVolumeXML(name, uint64(len(iso)))
		if err != nil {
			return err
		}
		vol, err := r.newVolume(pool, name, x, "seed volume "+name)
		if err != nil {
			return err
		}
		n.seed, err = vol.GetPath()
		if err == nil {
			err = console.Libvirt(fmt.Sprintf("upload %d bytes to volume %s", len(iso), name), func() error { return r.opts.Volumes.WriteBytes(r.conn, vol, iso) })
		}
		vol.Free()
		if err != nil {
			return fmt.Errorf("write seed volume %s: %w", name, err)
		}
		return nil
	})
}

// pinNames are the known_hosts names a node's host key is pinned under: the
// domain name (the alias lvslab dials with) and its management address
// (for a plain "ssh root@ADDR").
func pinNames(n *nodeRun) []string {
	return []string{n.domain, access.SSHAddr(n.tag.Mgmt)}
}

// defineDomains defines each new node's domain and refreshes the tag of the
// reused ones (the lab file it was last brought up from).
type defineDomains struct{}

func (defineDomains) name() string { return "domains" }
func (defineDomains) doc() string {
	return `"<lab>-<node>" VMs with one NIC per lab NIC (same order, fixed MACs), then mgmt0`
}
func (defineDomains) run(r *run) error {
	if r.remote == nil {
		if err := os.MkdirAll(r.opts.LogDir, 0o755); err != nil {
			return fmt.Errorf("console log folder: %w", err)
		}
	}
	for _, n := range r.nodes {
		if n.exists {
			if err := host.SetTag(r.conn, n.domain, n.tag); err != nil {
				return err
			}
			continue
		}
		x, err := host.DomainXML(r.lab, n.node, host.DomainSpec{
			Type: r.domType, Image: r.img, Overlay: n.overlay, Seed: n.seed,
			ConsoleLog: n.consoleLog, InstanceID: n.tag.InstanceID, Mgmt: n.tag.Mgmt,
			Class: n.tag.Class, Student: n.tag.Student,
		})
		if err != nil {
			return err
		}
		d, err := console.Call("define domain "+n.domain, func() (*libvirt.Domain, error) { return r.conn.DomainDefineXML(x) })
		if err != nil {
			return fmt.Errorf("define domain %s: %w", n.domain, err)
		}
		d.Free()
		name, log := n.domain, n.consoleLog
		r.made("domain "+name, func() error {
			err := host.RemoveDomain(r.conn, name)
			if r.remote != nil {
				return err // the log is the remote host's
			}
			if rmErr := os.Remove(log); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
				err = rmErr
			}
			return err
		})
	}
	return nil
}

// startDomains starts every node that is not running, all at once.
type startDomains struct{}

func (startDomains) name() string { return "start" }
func (startDomains) doc() string {
	return `starts every VM that is not running, all at once`
}
func (startDomains) run(r *run) error {
	var wg sync.WaitGroup
	errs := make([]error, len(r.nodes))
	for i, n := range r.nodes {
		if n.state == host.StateRunning {
			continue
		}
		wg.Go(func() {
			errs[i] = startDomain(r.conn, n, r.remote)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func startDomain(conn *libvirt.Connect, n *nodeRun, remote *host.Remote) error {
	d, err := conn.LookupDomainByName(n.domain)
	if err != nil {
		return fmt.Errorf("domain %s: %w", n.domain, err)
	}
	defer d.Free()
	state, _, err := d.GetState()
	if err != nil {
		return fmt.Errorf("domain %s: %w", n.domain, err)
	}
	switch state {
	case libvirt.DOMAIN_RUNNING, libvirt.DOMAIN_BLOCKED:
		return nil
	case libvirt.DOMAIN_PAUSED:
		err = console.Libvirt("resume domain "+n.domain, d.Resume)
	case libvirt.DOMAIN_PMSUSPENDED:
		err = console.Libvirt("wake domain "+n.domain, func() error { return d.PMWakeup(0) })
	default:
		err = console.Libvirt("start domain "+n.domain, d.Create)
	}
	if err != nil {
		return fmt.Errorf("start domain %s (node %s): %w; its serial console log is %s", n.domain, n.node.Name, err, host.LogOn(n.consoleLog, remote))
	}
	return nil
}

// configure brings every node to its desired state over SSH (configure.go).
type configure struct{}

func (configure) name() string { return "configure" }
func (configure) doc() string {
	return `brings every node to its desired state over SSH, all at once: hostname,
NICs (persistent, DHCP off), gateway, sysctls, VIP aliases, web page, ipvsadm
rules read back and compared; each node reports "changed (steps)" or
"unchanged" (skipped with --vms-only and --bare; --node: only those nodes)`
}
func (configure) run(r *run) error {
	if r.opts.VMsOnly || r.opts.Bare {
		return nil
	}
	var states []*roles.NodeState
	for _, n := range r.nodes {
		if len(r.opts.Nodes) == 0 || slices.Contains(r.opts.Nodes, n.node.Name) {
			states = append(states, n.desired)
		}
	}
	var err error
	r.configured, err = configureNodes(r.ctx, r.access, states, r.out)
	return err
}

// ---- helpers ----

func instanceID(lab, node string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return lab + "-" + node + "-" + hex.EncodeToString(b)
}

func since(t time.Time) string {
	d := time.Since(t)
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
