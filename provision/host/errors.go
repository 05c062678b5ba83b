package host

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/lvslab/lvslab/provision/paths"
	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"
)

// Explain turns libvirt's raw errors ("virError(Code=1, Domain=19,
// Message='internal error: Network is already in use by interface
// virbr3')") into sentences that say what is in the way and how to get past
// it. Whatever it does not recognise it returns unchanged; the context the
// callers wrapped around the libvirt error is kept, and an error told
// already is returned as it is. conn may be nil (then nothing is looked up).
func Explain(conn *libvirt.Connect, err error) error {
	return explain(func() (*libvirt.Connect, func()) { return conn, func() {} }, err)
}

// ExplainAt is Explain for the one place that turns any command's error
// into its message, which holds no connection: the libvirt at uri ("" is
// DefaultURI()) is connected to only when an explanation looks something
// up there (which lab holds a bridge), and closed again.
func ExplainAt(uri string, err error) error {
	return explain(func() (*libvirt.Connect, func()) {
		conn, cerr := libvirt.NewConnect(orDefaultURI(uri))
		if cerr != nil {
			return nil, func() {}
		}
		return conn, func() { conn.Close() }
	}, err)
}

func orDefaultURI(uri string) string {
	if uri == "" {
		return DefaultURI()
	}
	return uri
}

// explain rewords err; connect opens the connection an explanation may
// look things up on (nil: none) and says how to close it.
func explain(connect func() (*libvirt.Connect, func()), err error) error {
	var lerr libvirt.Error
	var told *reworded
	if err == nil || !errors.As(err, &lerr) || errors.As(err, &told) {
		return err
	}
	msg := strings.TrimSpace(lerr.Message)
	for _, e := range explanations {
		m := e.match.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		sentence := e.explain(connect, m)
		// Keep the callers' context ("start network tedu-private1 ...: ").
		whole := strings.Replace(err.Error(), lerr.Error(), sentence, 1)
		if whole == err.Error() {
			whole = err.Error() + ": " + sentence
		}
		return Reword(whole, err)
	}
	return err
}

// Reword is err told in a sentence of lvslab's, msg, with err underneath
// for errors.Is and errors.As. Explain leaves it as it is.
func Reword(msg string, err error) error { return &reworded{msg: msg, err: err} }

// reworded is Reword's error.
type reworded struct {
	msg string
	err error
}

func (e *reworded) Error() string { return e.msg }
func (e *reworded) Unwrap() error { return e.err }

// connector opens a connection for an explanation to look things up on
// (nil when there is none) and returns how to close it.
type connector = func() (*libvirt.Connect, func())

var explanations = []struct {
	match   *regexp.Regexp
	explain func(connect connector, m []string) string
}{
	{regexp.MustCompile(`Network is already in use by interface (\S+)`), func(connect connector, m []string) string {
		conn, done := connect()
		defer done()
		return fmt.Sprintf("the network's host address range is already taken on this host by interface %s%s", m[1], bridgeOwner(conn, m[1]))
	}},
	{regexp.MustCompile(`Failed to connect socket to '([^']+)': (No such file or directory|Connection refused)`), func(_ connector, m []string) string {
		return fmt.Sprintf("nothing listens on libvirt's socket %s: no libvirt daemon runs there", m[1])
	}},
	{regexp.MustCompile(`Failed to connect socket to '([^']+)': Permission denied`), func(_ connector, m []string) string {
		return fmt.Sprintf("this user may not open libvirt's socket %s (run as root, or join the group that owns it, often libvirt)", m[1])
	}},
	{regexp.MustCompile(`(?i)(could not access KVM kernel module|/dev/kvm.*(Permission denied|No such file))`), func(connector, []string) string {
		return "this machine cannot run KVM guests (/dev/kvm is missing or not usable): use --accel tcg (QEMU emulation, slower), or enable virtualization and load the kvm module"
	}},
	{regexp.MustCompile(`(?i)Cannot access storage file '([^']+)'.*Permission denied`), func(_ connector, m []string) string {
		return fmt.Sprintf("libvirt's QEMU may not read %s: give the folders on its path o+x (or move the image under %s), or run libvirt with another user", m[1], paths.System().Home)
	}},
	{regexp.MustCompile(`(?:domain|network) '([^']+)' already exists with uuid`), func(_ connector, m []string) string {
		return fmt.Sprintf("libvirt already holds an object named %s that is not this lab's: remove it (virsh undefine %s, or net-undefine) or give the lab another name", m[1], m[1])
	}},
}

// bridgeOwner says which libvirt network owns bridge, and so what to take
// down: ", which belongs to lab tedu (network tedu-private1): run
// \"lvslab down tedu\" ...".
func bridgeOwner(conn *libvirt.Connect, bridge string) string {
	way := "; or run lvslab in a sandbox of its own (\"sudo lvslab sandbox start\"), where no other network can clash"
	if conn == nil {
		return way
	}
	nets, err := conn.ListAllNetworks(0)
	if err != nil {
		return way
	}
	defer func() {
		for i := range nets {
			nets[i].Free()
		}
	}()
	for i := range nets {
		x, err := nets[i].GetXMLDesc(0)
		if err != nil {
			continue
		}
		def := &libvirtxml.Network{}
		if def.Unmarshal(x) != nil || def.Bridge == nil || def.Bridge.Name != bridge {
			continue
		}
		if def.Metadata != nil {
			if tag, ok := ParseTag(def.Metadata.XML); ok {
				return fmt.Sprintf(", which belongs to lvslab lab %s (libvirt network %s): take that lab down first (lvslab down %s)%s",
					tag.Name, def.Name, tag.Name, way)
			}
		}
		return fmt.Sprintf(", the bridge of libvirt network %s (not lvslab's): stop it if you can spare it (virsh net-destroy %s)%s",
			def.Name, def.Name, way)
	}
	return fmt.Sprintf(" (not a libvirt network: an address of this host's own networking lies in the lab's range)%s", way)
}
