package lab

import (
	"errors"
	"fmt"
	"sync"

	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/console"
	"github.com/lvslab/lvslab/provision/host"
)

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
