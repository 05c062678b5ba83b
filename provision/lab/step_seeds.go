package lab

import (
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/seed"
	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/roles/catalog"
)

// ensureSeeds makes each new node's host key, pins it, and writes its seed.
func ensureSeeds(r *run) error {
	return r.eachNewNode(func(n *nodeRun) error {
		priv, pub, err := sshx.GenerateHostKey()
		if err != nil {
			return err
		}
		n.hostKey = priv
		n.hostPub = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + n.domain
		for _, name := range pinNames(n) {
			if err := sshx.PinHostKey(r.opts.Paths.KnownHostsFile(r.lab.Name), name, pub); err != nil {
				return fmt.Errorf("pin host key of %s in %s: %w", n.node.Name, r.opts.Paths.KnownHostsFile(r.lab.Name), err)
			}
		}
		var files []catalog.File
		var cmds []string
		if !r.opts.Bare {
			files, cmds = catalog.FirstBoot(n.desired)
		}
		c := r.seedConfig(n)
		c.Files, c.Commands = files, cmds
		iso, err := seed.BuildISO(c)
		if err != nil {
			return err
		}
		name := paths.SeedVolume(r.lab.Name, n.node.Name)
		x, err := host.SeedVolumeXML(name, uint64(len(iso)))
		if err != nil {
			return err
		}
		if n.seed, err = r.newVolume(name, x, "seed volume "+name); err != nil {
			return err
		}
		if err := host.WriteVolume(r.conn, paths.DefaultPool, name, iso, r.opts.Volumes); err != nil {
			return fmt.Errorf("write seed volume %s: %w", name, err)
		}
		return nil
	})
}

// seedConfig is what a new node's seed (and, for an image that reads
// none, its console set-up) says: its instance, the login key, the host
// key lvslab pinned and its management address.
func (r *run) seedConfig(n *nodeRun) seed.Config {
	return seed.Config{
		Lab: r.lab, Node: n.node, InstanceID: n.tag.InstanceID, Bare: r.opts.Bare,
		AuthorizedKey: r.authKey, HostKeyPrivate: string(n.hostKey), HostKeyPublic: n.hostPub,
		Mgmt:       netip.PrefixFrom(netip.MustParseAddr(n.tag.Mgmt), r.mgmt.Bits()),
		NoPassword: r.img.Seeding() == image.SeedConsole,
	}
}

// pinNames are the known_hosts names a node's host key is pinned under: the
// domain name (the alias lvslab dials with) and its management address
// (for a plain "ssh root@ADDR").
func pinNames(n *nodeRun) []string {
	return []string{n.domain, access.SSHAddr(n.tag.Mgmt)}
}
