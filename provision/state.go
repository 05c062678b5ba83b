package provision

import (
	"os"
	"path/filepath"
)

// EnvHome overrides where lvslab keeps its per-lab state (keys, known_hosts).
const EnvHome = "LVSLAB_HOME"

// Home is lvslab's state folder: $LVSLAB_HOME, else /var/lib/lvslab for
// root, else $XDG_DATA_HOME/lvslab (~/.local/share/lvslab).
func Home() string {
	if d := os.Getenv(EnvHome); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/lvslab"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "lvslab")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "lvslab")
	}
	return filepath.Join(os.TempDir(), "lvslab")
}

// StateDir is one lab's state folder under home ("" means Home()):
// labs/<lab>, holding id_ed25519(.pub), the lab's SSH login key, and
// known_hosts, the pinned host keys of its nodes.
func StateDir(home, lab string) string {
	if home == "" {
		home = Home()
	}
	return filepath.Join(home, "labs", lab)
}

// KeyFile and KnownHostsFile are the paths of a lab's login key and pins.
func KeyFile(stateDir string) string        { return filepath.Join(stateDir, "id_ed25519") }
func KnownHostsFile(stateDir string) string { return filepath.Join(stateDir, "known_hosts") }

// DefaultPoolDir is the folder of the "lvslab" storage pool: the system
// images folder for root, else a folder in lvslab's home.
func DefaultPoolDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/libvirt/images/lvslab"
	}
	return filepath.Join(Home(), "pool")
}

// DefaultLogDir is where the serial console of every VM is logged, as
// <lab>-<node>.log.
func DefaultLogDir() string {
	if os.Geteuid() == 0 {
		return "/var/log/lvslab"
	}
	return filepath.Join(Home(), "log")
}

// ConsoleLog is the serial console log of a node's VM.
func ConsoleLog(logDir, lab, node string) string {
	if logDir == "" {
		logDir = DefaultLogDir()
	}
	return filepath.Join(logDir, DomainName(lab, node)+".log")
}
