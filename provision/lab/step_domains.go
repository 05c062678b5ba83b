package lab

import (
	"errors"
	"fmt"
	"os"

	"github.com/lvslab/lvslab/provision/host"
)

// defineDomains defines each new node's domain and refreshes the tag of the
// reused ones (the lab file it was last brought up from).
func defineDomains(r *run) error {
	if r.remote == nil {
		if err := os.MkdirAll(r.opts.Paths.Logs, 0o755); err != nil {
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
		if err := host.DefineDomain(r.conn, n.domain, x); err != nil {
			return err
		}
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
