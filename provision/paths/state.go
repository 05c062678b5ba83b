package paths

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
		return SystemHome
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
func StateDir(home, lab string) string { return filepath.Join(LabsDir(home), lab) }

// LabsDir holds the state folders of every lab under home ("" means Home()).
func LabsDir(home string) string {
	if home == "" {
		home = Home()
	}
	return filepath.Join(home, "labs")
}

// System folders: lvslab's home and console logs for root, and the folder
// of the "lvslab" pool on a system libvirt (also a remote hypervisor's,
// where the local user's home means nothing).
const (
	SystemHome    = "/var/lib/lvslab"
	SystemLogDir  = "/var/log/lvslab"
	SystemPoolDir = "/var/lib/libvirt/images/lvslab"
)

// EnvImageDir overrides ImageDir.
const EnvImageDir = "LVSLAB_IMAGE_DIR"

// ImageDir is where images live: $LVSLAB_IMAGE_DIR, else
// /var/lib/lvslab/images for root, else $XDG_CACHE_HOME/lvslab/images.
func ImageDir() string {
	if d := os.Getenv(EnvImageDir); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return filepath.Join(SystemHome, "images")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = filepath.Join(os.TempDir(), "lvslab-cache")
	}
	return filepath.Join(cache, "lvslab", "images")
}

// ClassRecord is the record of class under home: which copy of the class
// is whose, on which host.
func ClassRecord(home, class string) string {
	return filepath.Join(ClassDir(home), class+".json")
}

// ClassDir is the folder of the class records, where a class server keeps
// each class's credentials, certificate, check history and door key.
func ClassDir(home string) string { return filepath.Join(home, "classes") }

// ClassDoorKey is the host key of class's SSH door.
func ClassDoorKey(home, class string) string {
	return filepath.Join(ClassDir(home), class+".door-key")
}

// KeyFile and KnownHostsFile are the paths of a lab's login key and pins.
func KeyFile(stateDir string) string        { return filepath.Join(stateDir, "id_ed25519") }
func KnownHostsFile(stateDir string) string { return filepath.Join(stateDir, "known_hosts") }

// DefaultPoolDir is the folder of the "lvslab" storage pool: the system
// images folder for root, else a folder in lvslab's home.
func DefaultPoolDir() string {
	if os.Geteuid() == 0 {
		return SystemPoolDir
	}
	return filepath.Join(Home(), "pool")
}

// DefaultLogDir is where the serial console of every VM is logged, as
// <lab>-<node>.log.
func DefaultLogDir() string {
	if os.Geteuid() == 0 {
		return SystemLogDir
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
