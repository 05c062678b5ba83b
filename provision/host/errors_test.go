package host

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/lvslab/lvslab/provision/host/hosttest"
)

func TestExplainNetworkInUseNamesTheLabThatHoldsIt(t *testing.T) {
	conn := testConn(t)
	define := func(name, bridge, meta string) {
		def := &libvirtxml.Network{Name: name, Bridge: &libvirtxml.NetworkBridge{Name: bridge}}
		if meta != "" {
			def.Metadata = &libvirtxml.NetworkMetadata{XML: meta}
		}
		x, err := def.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		n, err := conn.NetworkDefineXML(x)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Undefine(); n.Free() })
	}
	define("other-private1", "lvs-other-p1", Tag{Name: "other", Network: "private1"}.Marshal())
	define("classroom", "virbr9", "")

	raw := func(bridge string) error {
		lerr := libvirt.Error{Code: libvirt.ERR_INTERNAL_ERROR, Domain: libvirt.FROM_NETWORK,
			Message: "internal error: Network is already in use by interface " + bridge, Level: libvirt.ERR_ERROR}
		return fmt.Errorf("start network tedu-private1 (bridge lvs-tedu-p1, 192.168.4.254/24): %w", lerr)
	}
	cases := []struct {
		bridge string
		want   []string
	}{
		{"lvs-other-p1", []string{"start network tedu-private1 (bridge lvs-tedu-p1, 192.168.4.254/24): ",
			"interface lvs-other-p1, which belongs to lvslab lab other (libvirt network other-private1)", "lvslab down other", "lvslab sandbox"}},
		{"virbr9", []string{"libvirt network classroom (not lvslab's)", "virsh net-destroy classroom"}},
		{"eth0", []string{"interface eth0 (not a libvirt network", "lvslab sandbox"}},
	}
	for _, c := range cases {
		in := raw(c.bridge)
		got := Explain(conn, in)
		for _, w := range c.want {
			if !strings.Contains(got.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.bridge, got, w)
			}
		}
		if strings.Contains(got.Error(), "virError") || strings.Contains(got.Error(), "Code=") {
			t.Errorf("the raw libvirt error is still shown: %q", got)
		}
		var lerr libvirt.Error
		if !errors.As(got, &lerr) || lerr.Code != libvirt.ERR_INTERNAL_ERROR {
			t.Errorf("the libvirt error is no longer in the chain of %q", got)
		}
	}
	plain := errors.New("no libvirt here")
	if Explain(conn, plain) != plain || Explain(conn, nil) != nil {
		t.Error("errors that are not libvirt's must pass unchanged")
	}
	other := fmt.Errorf("x: %w", libvirt.Error{Code: libvirt.ERR_NO_DOMAIN, Message: "Domain not found"})
	if Explain(conn, other) != other {
		t.Error("an unknown libvirt error must pass unchanged")
	}
	kvm := Explain(nil, libvirt.Error{Code: libvirt.ERR_INTERNAL_ERROR, Message: "process exited while connecting to monitor: Could not access KVM kernel module: No such file or directory"})
	if !strings.Contains(kvm.Error(), "--accel tcg") {
		t.Errorf("KVM: %q", kvm)
	}
}

// ExplainAt (run's, for every command) connects only to look a bridge up,
// and an error told once is not told again.
func TestExplainAtLooksUpOnTheCommandsLibvirt(t *testing.T) {
	lerr := libvirt.Error{Code: libvirt.ERR_INTERNAL_ERROR, Domain: libvirt.FROM_NETWORK,
		Message: "internal error: Network is already in use by interface virbr0", Level: libvirt.ERR_ERROR}
	got := ExplainAt("test:///default", fmt.Errorf("start network tedu-private1: %w", lerr))
	if !strings.Contains(got.Error(), "start network tedu-private1: the network's host address range is already taken on this host by interface virbr0, the bridge of libvirt network default (not lvslab's)") {
		t.Errorf("no lookup on test:///default: %q", got)
	}
	if again := Explain(nil, got); again != got {
		t.Errorf("told twice: %q", again)
	}
	sock := libvirt.Error{Code: libvirt.ERR_SYSTEM_ERROR, Message: "Failed to connect socket to '/run/x/libvirt-sock': No such file or directory"}
	if got := ExplainAt("qemu+unix:///system?socket=/nonexistent/sock", sock); got.Error() != "nothing listens on libvirt's socket /run/x/libvirt-sock: no libvirt daemon runs there" {
		t.Errorf("socket: %q", got)
	}
}

var testConn = hosttest.Conn
