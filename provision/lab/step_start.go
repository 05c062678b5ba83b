package lab

import (
	"errors"
	"fmt"
	"sync"

	"github.com/lvslab/lvslab/provision/host"
)

// startDomains starts every node that is not running, all at once.
func startDomains(r *run) error {
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

func startDomain(conn *host.Conn, n *nodeRun, remote *host.Remote) error {
	err := host.StartDomain(conn, n.domain)
	if errors.Is(err, host.ErrStart) {
		return fmt.Errorf("start domain %s (node %s): %w; its serial console log is %s", n.domain, n.node.Name, err, host.LogOn(n.consoleLog, remote))
	}
	return err
}
