package catalog

import (
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/ipvs"
	"github.com/lvslab/lvslab/topology"
)

// firstBootActivation lists the Debian steps a node's seed also applies on
// its first boot, before sshd and the web server start, with the commands
// that make their file take effect then. Under TCG every SSH command of the
// first configure costs about a second; a file the seed already wrote is
// only compared. Steps left out need a running system (services, networkd
// restarts) and are left to the configure phase.
var firstBootActivation = map[string]func(f File) []string{
	"sysctl":        func(f File) []string { return []string{"sysctl -q -p " + f.Path} },
	"apache2 ports": func(File) []string { return nil }, // apache2 starts after the seed
	"index.html":    func(File) []string { return nil },
	"ipvs rules file": func(f File) []string {
		return []string{ipvs.RestoreFrom(f.Path)}
	},
	// Enabled by hand: "systemctl enable" would reload systemd mid-boot.
	"ipvs boot unit": func(File) []string {
		return []string{"mkdir -p /etc/systemd/system/multi-user.target.wants",
			"ln -sf ../" + IPVSUnit + " /etc/systemd/system/multi-user.target.wants/" + IPVSUnit}
	},
}

// FirstBoot is what a Debian node's seed applies on its first boot:
// BootstrapFiles, then the files of the steps in firstBootActivation and the
// commands that activate them. Every file is byte-identical to what Steps
// writes, so the first configure finds them as desired.
func FirstBoot(lab *topology.Lab, node *topology.Node) (files []File, commands []string) {
	st := roles.DesiredFor(lab, node)
	files = bootstrapFiles(st)
	for _, s := range Steps(st, Debian) {
		activate, ok := firstBootActivation[s.Name]
		if !ok || s.File == nil {
			continue
		}
		files = append(files, *s.File)
		commands = append(commands, activate(*s.File)...)
	}
	return files, commands
}
