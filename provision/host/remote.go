package host

import (
	"fmt"
	"net"
	"net/url"
	"os/user"
	"strconv"
	"sync"

	"libvirt.org/go/libvirt"
)

// Remote is the hypervisor of a remote libvirt URI
// (qemu+ssh://[user@]host[:port]/system[?keyfile=K&known_hosts=F&no_verify=1]):
// the nodes' management network lives there, so lvslab's SSH to the nodes
// jumps through that host with the same user, key and host key checks as
// libvirt's own connection.
type Remote struct {
	URI        string
	User, Host string
	Port       int // SSH port of the host
	KeyFile    string
	KnownHosts string
	NoVerify   bool
}

// ParseRemote reads a libvirt URI; a local one (qemu:///system,
// test:///default: no host) is nil.
func ParseRemote(uri string) (*Remote, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("libvirt URI %q: %w", uri, err)
	}
	if u.Hostname() == "" {
		return nil, nil
	}
	r := &Remote{URI: uri, User: u.User.Username(), Host: u.Hostname(), Port: 22}
	q := u.Query()
	// The URI's port is SSH's only for the ssh transports (qemu+ssh,
	// qemu+libssh2); for qemu+tcp or +tls it is libvirtd's.
	if _, transport, _ := cutLast(u.Scheme, "+"); transport == "ssh" || transport == "libssh2" || transport == "libssh" {
		if p := u.Port(); p != "" {
			if r.Port, err = strconv.Atoi(p); err != nil {
				return nil, fmt.Errorf("libvirt URI %q: port %q", uri, p)
			}
		}
	}
	if r.User == "" {
		if me, err := user.Current(); err == nil {
			r.User = me.Username
		}
	}
	r.KeyFile, r.KnownHosts = q.Get("keyfile"), q.Get("known_hosts")
	r.NoVerify = q.Get("no_verify") == "1"
	return r, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// SSHAddr is host:port of the hypervisor's SSH server.
func (r *Remote) SSHAddr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// Label names the hypervisor in messages: "root@10.253.1.2".
func (r *Remote) Label() string {
	if r.Port != 22 {
		return r.User + "@" + r.SSHAddr()
	}
	return r.User + "@" + r.Host
}

// connURIs remembers the URI each connection was opened with by Connect:
// libvirt's own GetURI may normalise the query away.
var connURIs sync.Map // *libvirt.Connect -> string

// RemoteOf is conn's remote hypervisor, nil for a local libvirt.
func RemoteOf(conn *libvirt.Connect) (*Remote, error) {
	if conn == nil {
		return nil, nil
	}
	uri, ok := connURIs.Load(conn)
	if !ok {
		u, err := conn.GetURI()
		if err != nil {
			return nil, fmt.Errorf("libvirt connection URI: %w", err)
		}
		uri = u
	}
	return ParseRemote(uri.(string))
}

func LogOn(path string, remote *Remote) string {
	if remote == nil || path == "" {
		return path
	}
	return path + " on " + remote.Label()
}

// RecordURI makes uri the one conn is known by, as Connect does for the
// connections it opens (tests take test:///default for a remote host).
func RecordURI(conn *libvirt.Connect, uri string) { connURIs.Store(conn, uri) }

// ForgetURI undoes RecordURI.
func ForgetURI(conn *libvirt.Connect) { connURIs.Delete(conn) }
