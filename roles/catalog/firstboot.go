package catalog

import "github.com/lvslab/lvslab/roles"

// FirstBoot is what a Debian node's seed applies on its first boot: the
// bootstrap files, then the files of the FirstBoot steps and their Boot
// commands. Every file is byte-identical to what Steps writes, so the first
// configure finds them as desired.
func FirstBoot(st *roles.NodeState) (files []File, commands []string) {
	files = BootstrapFiles(st)
	for _, s := range Steps(st, Debian) {
		if s.FirstBoot && s.File != nil {
			files = append(files, *s.File)
			commands = append(commands, s.Boot...)
		}
	}
	return files, commands
}
