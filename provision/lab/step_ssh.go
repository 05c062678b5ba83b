package lab

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/seed"
	"github.com/lvslab/lvslab/provision/sshx"
)

// pollInterval is the pause between SSH attempts on one node: short, since
// a refused connection costs nothing and every second of it counts against
// the plain-virsh floor (which polls every 0.2 s).
const pollInterval = 250 * time.Millisecond

// waitSSH waits, on all nodes at once, until each accepts the SSH login,
// and has each configured as soon as it does (configure.go): one that does
// not answer holds no other. When up configures nothing, a node that never
// answered fails this step; else the configure step, beside the others.
func waitSSH(r *run) error {
	timeout := r.sshTimeout()
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	var err error
	// While nodes boot, each try is short and the next one follows.
	r.access, err = access.Open(r.conn, r.lab.Name, access.Options{Paths: r.opts.Paths, File: r.lab,
		Signer: r.signer, DialWindow: 10 * time.Second, Connector: r.opts.Connector, Agent: r.opts.Agent,
		Consoles: r.opts.Consoles})
	if err != nil {
		return err
	}
	var names []string
	for _, n := range r.nodes {
		n.endpoint = &Endpoint{
			Node: n.node.Name, Domain: n.domain, User: r.lab.Login.User,
			KeyFile: r.opts.Paths.KeyFile(r.lab.Name), KnownHostsFile: r.opts.Paths.KnownHostsFile(r.lab.Name), HostKeyAlias: n.domain,
			ConsoleLog: n.consoleLog, Created: !n.exists,
		}
		names = append(names, n.node.Name)
	}
	if !r.opts.VMsOnly && !r.opts.Bare {
		node := r.opts.configureNode
		if node == nil {
			node = nodeConfigurer(r.img.Seeding() != image.SeedAgent)
		}
		r.configuring = newConfiguring(r.ctx, r.dialNode, node, r.sink)
	}
	r.sink.Emit(progress.WaitStarted{Nodes: names, Timeout: progress.Duration(timeout)})
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(r.nodes))
	for i, n := range r.nodes {
		wg.Go(func() {
			if err := r.waitNode(ctx, n, start); err != nil {
				errs[i] = err
				r.sink.Emit(progress.NodeFailed{Node: n.node.Name, Error: err.Error(), Interrupted: r.ctx.Err() != nil})
				return
			}
			n.endpoint.Ready = time.Since(start)
			r.sink.Emit(progress.NodeReady{Node: n.node.Name, Addr: n.endpoint.Addr, Elapsed: progress.Duration(n.endpoint.Ready)})
			if r.configures(n) {
				r.configuring.start(n.desired)
			}
		})
	}
	wg.Wait()
	r.sshReady = time.Since(start)
	r.sink.Emit(progress.WaitDone{Elapsed: progress.Duration(r.sshReady)})
	r.sshErr = errors.Join(errs...)
	if r.configuring == nil {
		return r.sshErr
	}
	return nil
}

// bootGrace is how long, of the SSH wait's timeout, a VM that this run
// started may boot before its guest agent is asked why it does not answer:
// asked earlier, it would only report the boot, and slow it.
func bootGrace(timeout time.Duration) time.Duration { return timeout / 3 }

// waitNode waits until the node accepts the login, its VM stops, or ctx
// ends. The error names the node, the addresses and user tried, the last
// error and the console log.
func (r *run) waitNode(ctx context.Context, n *nodeRun, start time.Time) error {
	ep := n.endpoint
	addrs := r.access.Addresses(n.node.Name)
	if len(addrs) == 0 {
		return fmt.Errorf("node %s has no management address to reach it on", n.node.Name)
	}
	user := ep.User
	if user == "" {
		user = "root"
	}
	if err := r.bootstrap(ctx, n); err != nil {
		return err
	}
	r.sink.Emit(progress.NodeWaiting{Node: n.node.Name, User: user, Addr: access.SSHAddr(addrs[0])})
	lastCheck := time.Now()
	var stopped, restoreErr error
	wo := access.WaitOptions{Poll: pollInterval, Rescue: true, RescueFrom: start}
	if !n.exists || !n.state.Runs() {
		wo.RescueFrom = start.Add(bootGrace(r.sshTimeout()))
	}
	wo.Attempt = func(addr string, err error) error {
		r.sink.Emit(progress.NodeWaiting{Node: n.node.Name, User: user, Addr: addr, Elapsed: progress.Since(start), Error: progress.ErrorText(err)})
		if time.Since(lastCheck) < 5*time.Second {
			return nil
		}
		lastCheck = time.Now()
		if state := host.DomainStateOf(r.conn, n.domain); state != "" && !state.Runs() {
			stopped = fmt.Errorf("node %s: the VM %s is %s while lvslab waited for SSH on %s; see its serial console log %s", n.node.Name, n.domain, state, addr, r.logPlace(n))
		}
		return stopped
	}
	wo.Restored = func(d *access.Diagnosis, err error) {
		restoreErr = err
		if err == nil {
			r.sink.Emit(progress.NodeRestored{Node: n.node.Name, Causes: d.Texts()})
		}
	}
	_, err := r.access.Wait(ctx, n.node.Name, wo)
	if err != nil {
		return r.waitError(n, user, addrs[0], err, stopped, restoreErr)
	}
	ep.Addr = access.SSHAddr(addrs[0])
	return nil
}

// bootstrap sets up access to a node this run created from an image that
// reads no seed: over its serial console, logged in with the lab file's
// login (see access.Bootstrap).
func (r *run) bootstrap(ctx context.Context, n *nodeRun) error {
	if n.exists || r.img.Seeding() != image.SeedConsole {
		return nil
	}
	script, err := seed.ConsoleScript(r.seedConfig(n))
	if err != nil {
		return err
	}
	login := access.ConsoleLogin{User: r.lab.Login.User, Password: r.lab.Login.Password}
	if err := r.access.Bootstrap(ctx, n.node.Name, login, script, func(stage string) {
		r.sink.Emit(progress.NodeConsole{Node: n.node.Name, Stage: stage})
	}); err != nil {
		return fmt.Errorf("%w (its serial console log: %s)", err, r.logPlace(n))
	}
	return nil
}

// waitError is the error of a node that never accepted the login: the VM
// stopped, its host key changed, it is cut off (what its guest agent read,
// and why restoring failed), or no login, with its console.
func (r *run) waitError(n *nodeRun, user, addr string, err, stopped, restoreErr error) error {
	var changed *sshx.HostKeyChangedError
	var cut *access.CutOffError
	var noAgent *access.NoAgentError
	switch {
	case stopped != nil || errors.As(err, &changed):
		return err
	case errors.As(err, &cut) && restoreErr != nil:
		return fmt.Errorf("node %s: %w; %v", n.node.Name, err, restoreErr)
	case errors.As(err, &cut):
		return fmt.Errorf("node %s: %w", n.node.Name, err)
	case errors.As(err, &noAgent): // it names the console
		return fmt.Errorf("node %s: no SSH login as %s on %s: %w; its serial console log is %s", n.node.Name, user, addr, err, r.logPlace(n))
	}
	return fmt.Errorf("node %s: no SSH login as %s on %s: %w; see the serial console log %s (or \"lvslab console %s --lab %s\")",
		n.node.Name, user, addr, err, r.logPlace(n), n.node.Name, r.lab.Name)
}

// logPlace names a node's console log for messages: "PATH", or "PATH on
// root@host" when it lives on a remote hypervisor.
func (r *run) logPlace(n *nodeRun) string { return host.LogOn(n.consoleLog, r.remote) }

// sshTimeout bounds the wait for SSH on every node.
func (r *run) sshTimeout() time.Duration {
	switch {
	case r.opts.Timeout > 0:
		return r.opts.Timeout
	case r.domType == host.DomainKVM:
		return DefaultTimeoutKVM
	}
	return DefaultTimeoutTCG
}
