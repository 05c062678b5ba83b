package paths

import (
	"errors"
	"os"
	"path/filepath"
)

// Root is every folder lvslab keeps files in, resolved once (Local, by the
// command; a test's own folders in tests) and passed down; every file and
// folder lvslab names there is a method of it, as containerlab's TopoPaths.
//
// The folders come from two roots: for root, the system's folders (System);
// for anyone else, lvslab's home in the user's data folder, which holds the
// pool and the logs too (InHome), and the user's cache for images.
type Root struct {
	// Home is lvslab's state on this machine: labs/<lab> (a lab's SSH key
	// and host key pins) and classes/ (class records and the class
	// server's files).
	Home string
	// Images is the image store on this machine.
	Images string
	// Pool is the folder of the "lvslab" storage pool (DefaultPool) on the
	// hypervisor: the lab disks and seeds.
	Pool string
	// Logs is the folder of the VMs' serial console logs on the hypervisor.
	Logs string
}

// Environment variables that move lvslab's home and its image store.
const (
	EnvHome     = "LVSLAB_HOME"
	EnvImageDir = "LVSLAB_IMAGE_DIR"
)

// System folders: lvslab's home (its images below it) and console logs for
// root, the folder of the "lvslab" pool on a system libvirt (a remote
// hypervisor's too, where the local user's home means nothing) and
// libvirt's own log folder, which exists on every libvirt host.
const (
	systemHome    = "/var/lib/lvslab"
	systemLogDir  = "/var/log/lvslab"
	systemPoolDir = "/var/lib/libvirt/images/lvslab"
	libvirtLogDir = "/var/log/libvirt/qemu"
)

// Local is where lvslab keeps its files when run by this process's user:
// the System folders for root, else InHome of $XDG_DATA_HOME/lvslab
// (~/.local/share/lvslab) with the images in $XDG_CACHE_HOME/lvslab/images
// (~/.cache/lvslab/images). $LVSLAB_HOME moves the home (for a user, the
// pool and logs in it too); $LVSLAB_IMAGE_DIR moves the image store.
func Local() Root { return local(os.Geteuid()) }

func local(euid int) Root {
	var r Root
	if euid == 0 {
		r = System()
		if d := os.Getenv(EnvHome); d != "" {
			r.Home = d
		}
	} else {
		r = InHome(userHome())
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = filepath.Join(os.TempDir(), "lvslab-cache")
		}
		r.Images = filepath.Join(cache, "lvslab", "images")
	}
	if d := os.Getenv(EnvImageDir); d != "" {
		r.Images = d
	}
	return r
}

// userHome is a user's lvslab home: $LVSLAB_HOME, else
// $XDG_DATA_HOME/lvslab (~/.local/share/lvslab).
func userHome() string {
	if d := os.Getenv(EnvHome); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "lvslab")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "lvslab")
	}
	return filepath.Join(os.TempDir(), "lvslab")
}

// System is root's folders: /var/lib/lvslab (images in its images/),
// /var/lib/libvirt/images/lvslab for the pool and /var/log/lvslab for the
// console logs.
func System() Root {
	return Root{Home: systemHome, Images: filepath.Join(systemHome, "images"), Pool: systemPoolDir, Logs: systemLogDir}
}

// InHome is every folder in one home: home itself, and its images/, pool/
// and log/.
func InHome(home string) Root {
	return Root{Home: home, Images: filepath.Join(home, "images"), Pool: filepath.Join(home, "pool"), Logs: filepath.Join(home, "log")}
}

// Remote is r on a remote hypervisor (qemu:///system there), where the
// local user's home means nothing: the pool in the system's folder and the
// console logs in libvirt's own log folder (lvslab's may not exist there).
func (r Root) Remote() Root {
	r.Pool, r.Logs = systemPoolDir, libvirtLogDir
	return r
}

// ErrNoRoot is the error of a Root left empty: its files would land in
// whatever folder the process runs in.
var ErrNoRoot = errors.New("lvslab's folders are not set (paths.Local() resolves them)")

// Check fails on a Root with an empty folder.
func (r Root) Check() error {
	if r.Home == "" || r.Images == "" || r.Pool == "" || r.Logs == "" {
		return ErrNoRoot
	}
	return nil
}

// LabsDir holds the state folder of every lab.
func (r Root) LabsDir() string { return filepath.Join(r.Home, "labs") }

// LabDir is one lab's state folder: its SSH login key (KeyFile) and the
// pinned host keys of its nodes (KnownHostsFile).
func (r Root) LabDir(lab string) string { return filepath.Join(r.LabsDir(), lab) }

// KeyFile is the private half of lab's SSH login key; the public half is
// beside it, with ".pub".
func (r Root) KeyFile(lab string) string { return filepath.Join(r.LabDir(lab), "id_ed25519") }

// KnownHostsFile pins the host keys of lab's nodes.
func (r Root) KnownHostsFile(lab string) string { return filepath.Join(r.LabDir(lab), "known_hosts") }

// ClassDir holds the class records and, for each class, the class
// server's credentials, certificate, check history and door key.
func (r Root) ClassDir() string { return filepath.Join(r.Home, "classes") }

// classFile is class's file of the given kind in ClassDir.
func (r Root) classFile(class, suffix string) string {
	return filepath.Join(r.ClassDir(), class+suffix)
}

// ClassRecord is the record of class: which copy of the class is whose, on
// which host.
func (r Root) ClassRecord(class string) string { return r.classFile(class, ".json") }

// DoorKey is the host key of class's SSH door.
func (r Root) DoorKey(class string) string { return r.classFile(class, ".door-key") }

// CredentialsFile keeps the logins the class server issued for class.
func (r Root) CredentialsFile(class string) string { return r.classFile(class, ".credentials.json") }

// HistoryFile keeps the class server's check history of class.
func (r Root) HistoryFile(class string) string { return r.classFile(class, ".serve-history.json") }

// CertFiles are the class server's self-signed certificate of class and
// its key.
func (r Root) CertFiles(class string) (cert, key string) {
	return r.classFile(class, ".serve-cert.pem"), r.classFile(class, ".serve-key.pem")
}

// ConsoleLog is the serial console log of a node's VM in Logs:
// <lab>-<node>.log, or <lab>-<node>.console.log in libvirt's own log
// folder (a remote hypervisor's), apart from libvirt's log of the domain
// (<domain>.log) there.
func (r Root) ConsoleLog(lab, node string) string {
	if r.Logs == libvirtLogDir {
		return filepath.Join(r.Logs, DomainName(lab, node)+".console.log")
	}
	return filepath.Join(r.Logs, DomainName(lab, node)+".log")
}
