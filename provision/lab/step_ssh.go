package lab

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/sshx"
)

// pollInterval is the pause between SSH attempts on one node: short, since
// a refused connection costs nothing and every second of it counts against
// the plain-virsh floor (which polls every 0.2 s).
const pollInterval = 250 * time.Millisecond

// waitSSH waits, on all nodes at once, until each accepts the SSH login.
func waitSSH(r *run) error {
	timeout := r.opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeoutTCG
		if r.domType == host.DomainKVM {
			timeout = DefaultTimeoutKVM
		}
	}
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	var err error
	// While nodes boot, each try is short and the next one follows.
	r.access, err = access.Open(r.conn, r.lab.Name, access.Options{Paths: r.opts.Paths, File: r.lab,
		Signer: r.signer, DialWindow: 10 * time.Second, Connector: r.opts.Connector})
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
		})
	}
	wg.Wait()
	r.sshReady = time.Since(start)
	r.sink.Emit(progress.WaitDone{Elapsed: progress.Duration(r.sshReady)})
	return errors.Join(errs...)
}

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
	r.sink.Emit(progress.NodeWaiting{Node: n.node.Name, User: user, Addr: access.SSHAddr(addrs[0])})
	lastCheck := time.Now()
	var stopped error
	_, err := r.access.Wait(ctx, n.node.Name, pollInterval, func(addr string, err error) error {
		r.sink.Emit(progress.NodeWaiting{Node: n.node.Name, User: user, Addr: addr, Elapsed: progress.Since(start), Error: progress.ErrorText(err)})
		if time.Since(lastCheck) < 5*time.Second {
			return nil
		}
		lastCheck = time.Now()
		if state := host.DomainStateOf(r.conn, n.domain); state != "" && !state.Runs() {
			stopped = fmt.Errorf("node %s: the VM %s is %s while lvslab waited for SSH on %s; see its serial console log %s", n.node.Name, n.domain, state, addr, r.logPlace(n))
		}
		return stopped
	})
	if err != nil {
		var changed *sshx.HostKeyChangedError
		if stopped != nil || errors.As(err, &changed) {
			return err
		}
		return fmt.Errorf("node %s: no SSH login as %s on %s: %w; see the serial console log %s (or \"lvslab console %s --lab %s\")",
			n.node.Name, user, addrs[0], err, r.logPlace(n), n.node.Name, r.lab.Name)
	}
	ep.Addr = access.SSHAddr(addrs[0])
	return nil
}

// logPlace names a node's console log for messages: "PATH", or "PATH on
// root@host" when it lives on a remote hypervisor.
func (r *run) logPlace(n *nodeRun) string { return host.LogOn(n.consoleLog, r.remote) }
