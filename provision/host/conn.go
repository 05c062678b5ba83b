package host

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/provision/progress"
)

// DefaultURI is the libvirt connection used when none is given: like virsh,
// $LIBVIRT_DEFAULT_URI, else qemu:///system.
func DefaultURI() string {
	if u := os.Getenv("LIBVIRT_DEFAULT_URI"); u != "" {
		return u
	}
	return "qemu:///system"
}

// Conn is a connection to a libvirt: what Connect opens and the packages
// above host pass around. It is libvirt's own type under host's name, so
// that naming it takes no import of libvirt's bindings outside host.
type Conn = libvirt.Connect

// Connect opens a libvirt connection ("" means DefaultURI()). Close it with
// conn.Close().
func Connect(uri string) (*libvirt.Connect, error) {
	if uri == "" {
		uri = DefaultURI()
	}
	conn, err := progress.Call("connect "+uri, func() (*libvirt.Connect, error) { return libvirt.NewConnect(uri) })
	if err != nil {
		return nil, fmt.Errorf("cannot connect to libvirt at %s: %w (is libvirtd running and may this user use it? "+
			"lab networks belong in a network namespace of their own: \"sudo lvslab sandbox start\" makes one, and lvslab's commands then run in it; "+
			"--connect or LIBVIRT_DEFAULT_URI choose another libvirt)", uri, err)
	}
	connURIs.Store(conn, uri)
	return conn, nil
}

// Accelerations accepted by --accel.
const (
	AccelAuto = "auto"
	AccelKVM  = "kvm"
	AccelTCG  = "tcg"
)

// DomainType is a libvirt domain type: the hypervisor a VM runs under.
type DomainType string

// The domain types lvslab makes: KVM, QEMU's TCG emulation, and the test
// driver's.
const (
	DomainKVM  DomainType = "kvm"
	DomainQEMU DomainType = "qemu"
	DomainTest DomainType = "test"
)

// DomainTypeFor picks the libvirt domain type for accel: "kvm" when KVM is asked
// for or (auto) when libvirt's domain capabilities offer it, else "qemu"
// (QEMU's TCG emulation: slow, but works without /dev/kvm).
func DomainTypeFor(conn *libvirt.Connect, accel string) (DomainType, error) {
	switch accel {
	case AccelTCG:
		return DomainQEMU, nil
	case AccelKVM:
		if _, err := conn.GetDomainCapabilities("", "x86_64", "", string(DomainKVM), 0); err != nil {
			return "", fmt.Errorf("--accel kvm: libvirt cannot run KVM guests here (%v); use --accel tcg", LibvirtMessage(err))
		}
		return DomainKVM, nil
	case AccelAuto, "":
		if _, err := conn.GetDomainCapabilities("", "x86_64", "", string(DomainKVM), 0); err == nil {
			return DomainKVM, nil
		}
		return DomainQEMU, nil
	default:
		return "", fmt.Errorf("--accel %q: use kvm, tcg or auto", accel)
	}
}

// LibvirtCode is the libvirt error code of err, or -1.
func LibvirtCode(err error) libvirt.ErrorNumber {
	var lerr libvirt.Error
	if errors.As(err, &lerr) {
		return lerr.Code
	}
	return -1
}

// LibvirtMessage is err's message without libvirt's "virError(Code=...)" frame.
func LibvirtMessage(err error) string {
	var lerr libvirt.Error
	if errors.As(err, &lerr) {
		return strings.TrimSpace(lerr.Message)
	}
	return err.Error()
}

// IsNotFound tells whether err is libvirt's "no such domain, network,
// pool or volume": for a removal, the object is already gone.
func IsNotFound(err error) bool {
	switch LibvirtCode(err) {
	case libvirt.ERR_NO_DOMAIN, libvirt.ERR_NO_NETWORK, libvirt.ERR_NO_STORAGE_POOL, libvirt.ERR_NO_STORAGE_VOL:
		return true
	}
	return false
}

// NotRunning is the error of destroying an inactive domain or network.
func NotRunning(err error) bool { return LibvirtCode(err) == libvirt.ERR_OPERATION_INVALID }

// uriOf is conn's URI, for messages: as Connect was given it (libvirt's
// own may lack the query, keyfile=...), else libvirt's.
func uriOf(conn *libvirt.Connect) string {
	if u, ok := connURIs.Load(conn); ok {
		return u.(string)
	}
	if u, err := conn.GetURI(); err == nil {
		return u
	}
	return "libvirt"
}
