package provision

import (
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/topology"
)

// bootstrapFiles are the files the seed writes on the first boot of lvslab's
// images: roles.BootstrapFiles (hostname, systemd-networkd .link/.network
// with the node's static lab addresses), so that the node comes up on its
// lab address without DHCP.
func bootstrapFiles(lab *topology.Lab, node *topology.Node) []File {
	var out []File
	for _, f := range roles.BootstrapFiles(lab, node) {
		out = append(out, File{Path: f.Path, Mode: f.Mode, Content: f.Content})
	}
	return out
}
