package provision

import (
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
)

// firstBoot is what the seed applies on the first boot of lvslab's images:
// catalog.FirstBoot — the hostname and systemd-networkd files with the node's
// static lab addresses (so it comes up without DHCP), and the configuration
// files that need no running service (sysctls, web page, IPVS rules), with
// the commands that activate them.
func firstBoot(st *roles.NodeState) ([]File, []string) {
	files, cmds := catalog.FirstBoot(st)
	var out []File
	for _, f := range files {
		out = append(out, File{Path: f.Path, Mode: f.Mode, Content: f.Content})
	}
	return out, cmds
}
