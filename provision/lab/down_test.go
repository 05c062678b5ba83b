package lab

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/sshx"
)

func TestDownRemovesExactlyTheLab(t *testing.T) {
	conn := testConn(t)
	pristine := everything(t, conn)
	opts := testOptions(t, &fakeGuests{})
	// An untagged domain and network whose names look like the lab's.
	d, err := conn.DomainDefineXML(`<domain type="test"><name>tedu-web3</name><memory>65536</memory><os><type>hvm</type></os></domain>`)
	if err != nil {
		t.Fatal(err)
	}
	d.Free()
	n, err := conn.NetworkDefineXML(`<network><name>tedu-private9</name><bridge name="virbr9"/></network>`)
	if err != nil {
		t.Fatal(err)
	}
	n.Free()
	untagged := everything(t, conn)

	// Two labs side by side; one named so that prefixes would confuse them.
	if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err != nil {
		t.Fatal(err)
	}
	afterTedu := everything(t, conn)
	other := labWithName(t, "tedu-nat", "tedu-x")
	if _, err := Up(context.Background(), conn, other, opts); err != nil {
		t.Fatal(err)
	}
	// A leftover state folder and console log of tedu.
	logFile := opts.Paths.ConsoleLog("tedu", "web1")
	if err := os.WriteFile(logFile, []byte("boot\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	rep, err := Down(context.Background(), conn, Selector{Lab: "tedu"}, DownOptions{Paths: opts.Paths, Progress: progress.Plain(&out)})
	if err != nil {
		t.Fatal(err)
	}
	// 4 domains, 8 volumes, 2 networks, the log, the state folder.
	if len(rep.Removed) != 4+8+3+1+1 {
		t.Errorf("removed %d things:\n%s", len(rep.Removed), out.String())
	}
	for _, want := range []string{"removed domain tedu-web1", "removed volume tedu_web1.seed.iso", "removed network tedu-private2", "removed file " + logFile, "removed folder " + opts.Paths.LabDir("tedu")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if inv, _ := host.DiscoverLab(conn, "", "tedu"); !inv.Empty() {
		t.Errorf("left of tedu: %+v", inv)
	}
	if _, err := os.Stat(opts.Paths.LabDir("tedu")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state folder: %v", err)
	}
	if _, err := os.Stat(logFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("console log: %v", err)
	}
	// tedu-x is intact and still has its state; untagged objects too.
	inv, _ := host.DiscoverLab(conn, "", "tedu-x")
	if len(inv.Domains) != 4 || len(inv.Networks) != 3 || len(inv.Volumes) != 8 {
		t.Errorf("tedu-x damaged: %+v", inv)
	}
	if _, err := os.Stat(opts.Paths.KeyFile("tedu-x")); err != nil {
		t.Errorf("tedu-x key: %v", err)
	}
	got := everything(t, conn)
	for _, o := range untagged {
		if !slices.Contains(got, o) {
			t.Errorf("%s was removed", o)
		}
	}
	// Of what stood after tedu's up, exactly tedu's objects are gone: the
	// rest is what stood before it and the pool, which labs share.
	for _, o := range afterTedu {
		kept := slices.Contains(untagged, o) || o == "pool lvslab"
		if slices.Contains(got, o) != kept {
			t.Errorf("after down tedu, %s: still there %v, want %v", o, !kept, kept)
		}
	}

	// A second down is fine and removes nothing.
	rep, err = Down(context.Background(), conn, Selector{Lab: "tedu"}, DownOptions{Paths: opts.Paths})
	if err != nil || len(rep.Removed) != 0 {
		t.Errorf("second down: %v %+v", err, rep)
	}
	// --all takes tedu-x too; the pool and untagged objects stay.
	if _, err := Down(context.Background(), conn, Selector{All: true}, DownOptions{Paths: opts.Paths}); err != nil {
		t.Fatal(err)
	}
	final := everything(t, conn)
	want := append(slices.Clone(untagged), "pool lvslab")
	slices.Sort(want)
	if !slices.Equal(final, want) {
		t.Errorf("after down --all:\n got %v\nwant %v", final, want)
	}
	// The two untagged objects were all the test added to the mock.
	if want := append(slices.Clone(pristine), "domain tedu-web3", "network tedu-private9"); !sameSet(untagged, want) {
		t.Errorf("the mock before the labs:\n got %v\nwant %v", untagged, want)
	}
}

// sameSet tells whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

// TestDownAfterCrash: a run that died after making disks (no domain yet)
// leaves volumes and networks only; down finds them by tag and name.
func TestDownAfterCrash(t *testing.T) {
	conn, opts := fresh(t)
	before := everything(t, conn)
	opts.AfterStep, opts.Retain = failAfter("seeds"), true
	if _, err := Up(context.Background(), conn, mustLab(t, "tedu-nat"), opts); err == nil {
		t.Fatal("no error")
	}
	inv, _ := host.DiscoverLab(conn, "", "tedu")
	if len(inv.Domains) != 0 || len(inv.Volumes) != 8 || len(inv.Networks) != 3 {
		t.Fatalf("crash remains: %+v", inv)
	}
	if _, err := Down(context.Background(), conn, Selector{Lab: "tedu"}, DownOptions{Paths: opts.Paths}); err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(before), "pool lvslab")
	slices.Sort(want)
	if got := everything(t, conn); !slices.Equal(got, want) {
		t.Errorf("left: %v", got)
	}
	if _, err := os.Stat(filepath.Join(opts.Paths.Home, "labs", "tedu")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state folder: %v", err)
	}
}

func TestStatus(t *testing.T) {
	lab := mustLab(t, "tedu-nat")
	conn, opts := upLab(t, lab)
	d, _ := conn.LookupDomainByName("tedu-lvs1")
	d.Destroy()
	d.Free()
	// Lab addresses are never dialled from a unit test (they belong in a
	// network namespace): the login is a fake where web1 answers on its
	// address and nobody else does.
	probe := func(_ context.Context, cfg sshx.Config, r sshx.Retry) (*sshx.Client, error) {
		if cfg.Addr == "10.250.0.12:22" {
			return nil, nil
		}
		return nil, errors.New("dial tcp " + cfg.Addr + ": connection refused")
	}
	st, err := Status(context.Background(), conn, "tedu", StatusOptions{Paths: opts.Paths, Connector: access.ConnectFunc(probe)})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 4 || len(st.Networks) != 3 || len(st.Volumes) != 8 || st.File != "embedded:tedu-nat" || st.Mgmt != "10.250.0.0/24" {
		t.Fatalf("status %+v", st)
	}
	for _, n := range st.Nodes {
		switch n.Node {
		case "lvs1":
			if n.State != "shut off" || n.SSHError != "" {
				t.Errorf("lvs1 %+v", n)
			}
		case "web1":
			if n.State != "running" || n.Mgmt != "10.250.0.12" || n.SSH != "10.250.0.12:22" {
				t.Errorf("web1 %+v", n)
			}
		case "web2":
			if n.State != "running" || n.SSH != "" || !strings.Contains(n.SSHError, "refused") {
				t.Errorf("web2 %+v", n)
			}
		}
	}
	// With the lab file, nodes without a VM are listed as missing.
	if err := host.RemoveDomain(conn, "tedu-web2"); err != nil {
		t.Fatal(err)
	}
	st, err = Status(context.Background(), conn, "", StatusOptions{Paths: opts.Paths, Lab: lab, Connector: access.ConnectFunc(probe)})
	if err != nil {
		t.Fatal(err)
	}
	if st.Nodes[3].Node != "web2" || st.Nodes[3].State != "missing" {
		t.Errorf("web2 %+v", st.Nodes[3])
	}
	names, err := Labs(conn, "")
	if err != nil || !slices.Equal(names, []string{"tedu"}) {
		t.Errorf("labs %v %v", names, err)
	}
}
