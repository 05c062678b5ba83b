package access

import (
	"context"
	"errors"
	"testing"

	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/topology"
)

// verify, drill and status reach nodes through Access.Dial: a VM that is
// shut off is said at once, with the way out, and no SSH is tried.
func TestDialSaysTheVMIsShutOff(t *testing.T) {
	lab := mustLab(t, "tedu-nat")
	conn, opts := upLab(t, lab)
	d, err := conn.LookupDomainByName(paths.DomainName("tedu", "web1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(); err != nil {
		t.Fatal(err)
	}
	d.Free()
	for _, file := range []*topology.Lab{lab, nil} {
		acc, err := Open(conn, "tedu", Options{Paths: opts.Paths, File: file})
		if err != nil {
			t.Fatal(err)
		}
		dialled := 0
		acc.connector = ConnectFunc(func(context.Context, sshx.Config, sshx.Retry) (*sshx.Client, error) {
			dialled++
			return nil, errors.New("i/o timeout")
		})
		_, err = acc.Dial(context.Background(), "web1")
		if want := `web1's VM tedu-web1 is shut off: run "lvslab up tedu-nat" to start it`; err == nil || err.Error() != want {
			t.Errorf("Dial web1: %v, want %q", err, want)
		}
		if dialled != 0 {
			t.Error("SSH was tried on a VM that is shut off")
		}
		// A running VM is dialled as before.
		acc.Dial(context.Background(), "web2")
		if dialled != 1 {
			t.Errorf("web2 runs: dialled %d times, want 1", dialled)
		}
		acc.Close()
	}
}
