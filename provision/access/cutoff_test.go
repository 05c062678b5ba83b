package access

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/host/agenttest"
	"github.com/lvslab/lvslab/provision/sshx"
)

// each is one field of every cause of d.
func each(d *Diagnosis, field func(Cause) string) []string {
	var out []string
	for _, c := range d.Causes {
		out = append(out, field(c))
	}
	return out
}

func kinds(d *Diagnosis) []string { return each(d, func(c Cause) string { return c.Kind }) }
func fixes(d *Diagnosis) []string { return each(d, func(c Cause) string { return c.Fix }) }

// Each cause is read from what a guest printed, with the command that
// undoes it.
func TestDiagnosisNamesEachCause(t *testing.T) {
	for _, c := range []struct {
		name, out string
		kinds     []string
		texts     []string
		fixes     []string
		booting   bool
	}{
		{"healthy", agenttest.NICUp + agenttest.Running + agenttest.SSHDUp + agenttest.Listen22 + "## nft\n" + agenttest.NftLvslab, nil, nil, nil, false},
		{"mgmt0 down, sshd stopped", agenttest.NICDown + agenttest.Running + agenttest.SSHDStopped + agenttest.Only80,
			[]string{CauseNICDown, CauseSSHDStopped}, []string{"mgmt0 is down", "sshd is stopped"},
			[]string{"ip link set mgmt0 up", startSSHD}, false},
		{"address flushed", agenttest.NICBare + agenttest.Running + agenttest.SSHDUp + agenttest.Listen22, []string{CauseNoAddress},
			[]string{"mgmt0 lacks its address 10.250.0.12/24"}, []string{"ip address replace 10.250.0.12/24 dev mgmt0"}, false},
		{"no mgmt0", agenttest.NoNIC + agenttest.Running + agenttest.SSHDUp + agenttest.Listen22, []string{CauseNoNIC}, []string{"it has no NIC named mgmt0"}, []string{""}, false},
		{"sshd failed", agenttest.NICUp + agenttest.Running + agenttest.SSHDFailed + agenttest.Only80, []string{CauseSSHDStopped}, []string{"sshd failed"}, []string{startSSHD}, false},
		{"sshd on another port", agenttest.NICUp + agenttest.Running + agenttest.SSHDUp + agenttest.Only80, []string{CauseNotListening},
			[]string{"sshd runs but does not listen on port 22"}, []string{""}, false},
		{"socket-activated sshd", agenttest.NICUp + agenttest.Running + agenttest.SSHDStopped + agenttest.Listen22, nil, nil, nil, false},
		{"nft drops port 22", agenttest.NICUp + agenttest.Running + agenttest.SSHDUp + agenttest.Listen22 + agenttest.NftDrop22, []string{CauseFirewall},
			[]string{`the nft rule "tcp dport 22 drop" in inet filter input blocks port 22`}, []string{"nft delete rule inet filter input handle 4"}, false},
		{"iptables-nft rejects port 22", agenttest.NICUp + agenttest.Running + agenttest.SSHDUp + agenttest.Listen22 + agenttest.NftIPTables, []string{CauseFirewall},
			[]string{`the nft rule "meta l4proto tcp tcp dport 22 reject" in ip filter INPUT blocks port 22`},
			[]string{"nft delete rule ip filter INPUT handle 2"}, false},
		{"input policy drop", agenttest.NICUp + agenttest.Running + agenttest.SSHDUp + agenttest.Listen22 + agenttest.NftPolicyDrop, []string{CauseFirewall},
			[]string{"the nft chain inet filter input drops by default and accepts nothing on port 22"},
			[]string{`nft insert rule inet filter input iifname "mgmt0" tcp dport 22 accept`}, false},
		{"policy drop that lets lvslab in", agenttest.NICUp + agenttest.Running + agenttest.SSHDUp + agenttest.Listen22 + agenttest.NftPolicyOK, nil, nil, nil, false},
		{"legacy iptables", agenttest.NICUp + agenttest.Running + agenttest.SSHDUp + agenttest.Listen22 + agenttest.IPTablesLegacy, []string{CauseFirewall, CauseFirewall},
			[]string{`the iptables-legacy rule "-A INPUT -p tcp -m tcp --dport 22 -j DROP" in table filter blocks port 22`,
				`the iptables-legacy rule "-A OUTPUT -o mgmt0 -j REJECT --reject-with icmp-port-unreachable" in table filter blocks port 22`},
			[]string{"iptables-legacy -t filter -D INPUT -p tcp -m tcp --dport 22 -j DROP",
				"iptables-legacy -t filter -D OUTPUT -o mgmt0 -j REJECT --reject-with icmp-port-unreachable"}, false},
		{"booting", agenttest.NICUp + agenttest.Booting + agenttest.SSHDStopped + agenttest.Only80, []string{CauseSSHDStopped}, []string{"sshd is stopped"}, []string{startSSHD}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := parseDiagnosis("web1", "10.250.0.12/24", c.out)
			if !slices.Equal(kinds(d), c.kinds) || !slices.Equal(d.Texts(), c.texts) || !slices.Equal(fixes(d), c.fixes) {
				t.Errorf("causes %q\ntexts %q\nfixes %q\nwant %q\n%q\n%q", kinds(d), d.Texts(), fixes(d), c.kinds, c.texts, c.fixes)
			}
			if d.Booting != c.booting || d.CutOff() != (len(c.kinds) > 0 && !c.booting) {
				t.Errorf("booting %v, cut off %v", d.Booting, d.CutOff())
			}
		})
	}
}

// The repair undoes the firewall first (its handles were read before
// anything changed), then mgmt0, then sshd; what has no fix is left out.
func TestRepairScript(t *testing.T) {
	d := parseDiagnosis("web1", "10.250.0.12/24", agenttest.NICDown+agenttest.Running+agenttest.SSHDStopped+agenttest.Only80+agenttest.NftDrop22)
	script := repairScript(d)
	var order []int
	for _, fix := range []string{"nft delete rule inet filter input handle 4", "ip link set mgmt0 up", startSSHD, "exit $fail"} {
		order = append(order, strings.Index(script, fix))
	}
	if slices.Contains(order, -1) || !slices.IsSorted(order) {
		t.Errorf("fixes out of order %v:\n%s", order, script)
	}
	if !strings.Contains(script, `{ ip link set mgmt0 up; } || { echo 'could not undo: mgmt0 is down' >&2; fail=1; }`) {
		t.Errorf("a failed fix is not said:\n%s", script)
	}
	if s := repairScript(parseDiagnosis("web1", "10.250.0.12/24", agenttest.NoNIC+agenttest.Running+agenttest.SSHDUp+agenttest.Listen22)); s != "" {
		t.Errorf("a cause without a fix made a script:\n%s", s)
	}
}

// newCutOffGuest is upLab's lab whose web1 is cut off (mgmt0 down, sshd
// stopped) until the repair runs; every other node is healthy.
func newCutOffGuest() *agenttest.Guest {
	return agenttest.CutOffGuest("tedu-web1", map[string]string{"tedu-client1": "10.250.0.10", "tedu-lvs1": "10.250.0.11",
		"tedu-web1": "10.250.0.12", "tedu-web2": "10.250.0.13"})
}

// cutOffAccess is upLab's tedu-nat reached with newCutOffGuest's agent.
func cutOffAccess(t *testing.T) (*Access, *agenttest.Guest) {
	t.Helper()
	conn, opts := upLab(t, mustLab(t, "tedu-nat"))
	g := newCutOffGuest()
	acc, err := Open(conn, "tedu", Options{Paths: opts.Paths, File: mustLab(t, "tedu-nat"), Agent: g})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	return acc, g
}

// stalled is a TCP connect that never completes (mgmt0 down: the SYN is
// dropped) until ctx ends.
func stalled(ctx context.Context, _, _ string) (net.Conn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A node cut off is told, causes and all, as soon as the agent read them:
// not after the dial's window (30 s for check).
func TestDialTellsACutOffNodeAtOnce(t *testing.T) {
	acc, g := cutOffAccess(t)
	acc.tcp, acc.tcpWindow, acc.dialWindow = stalled, 20*time.Millisecond, 6*time.Second
	acc.connector = ConnectFunc(func(ctx context.Context, cfg sshx.Config, _ sshx.Retry) (*sshx.Client, error) {
		ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
		defer cancel()
		_, err := cfg.Dialer(ctx, "tcp", cfg.Addr)
		return nil, err
	})
	start := time.Now()
	_, err := acc.Dial(context.Background(), "web1")
	var cut *CutOffError
	if !errors.As(err, &cut) || !slices.Equal(cut.Causes, parseDiagnosis("web1", "10.250.0.12/24", agenttest.NICDown+agenttest.SSHDStopped+agenttest.Only80).Causes) {
		t.Fatalf("got %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s", took)
	}
	want := `web1 does not answer SSH on 10.250.0.12:22: mgmt0 is down and sshd is stopped (read through its guest agent; "lvslab up tedu-nat" restores lvslab's access)`
	if err.Error() != want {
		t.Errorf("said %q\nwant %q", err, want)
	}
	// check and verify dial it again at once: the same answer, not asked again.
	asked := len(g.Ran())
	if _, again := acc.Dial(context.Background(), "web1"); again != err || len(g.Ran()) != asked {
		t.Errorf("second dial: %v, agent asked %d more times", again, len(g.Ran())-asked)
	}
}

// A refused connect (sshd stopped, port 22 rejected) is asked about too; a
// node whose connect completes is not (a slow handshake is no cause); a
// node without an agent says how to reach its console.
func TestDialAsksOnlyWhenTheConnectFails(t *testing.T) {
	conn, opts := upLab(t, mustLab(t, "tedu-nat"))
	g := newCutOffGuest()
	g.Silent = map[string]bool{"tedu-web2": true}
	acc, err := Open(conn, "tedu", Options{Paths: opts.Paths, Agent: g})
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	acc.tcpWindow = 20 * time.Millisecond
	acc.tcp = func(ctx context.Context, _, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, "10.250.0.12:") || strings.HasPrefix(addr, "10.250.0.13:") { // web1, web2
			return nil, errors.New("dial tcp " + addr + ": connect: connection refused")
		}
		c, _ := net.Pipe()
		return c, nil
	}
	acc.connector = ConnectFunc(func(ctx context.Context, cfg sshx.Config, _ sshx.Retry) (*sshx.Client, error) {
		c, err := cfg.Dialer(ctx, "tcp", cfg.Addr)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		time.Sleep(100 * time.Millisecond) // a handshake slower than the window
		return nil, errors.New("ssh: handshake failed: EOF")
	})
	var cut *CutOffError
	if _, err := acc.Dial(context.Background(), "web1"); !errors.As(err, &cut) || len(cut.Causes) != 2 || cut.Err == nil {
		t.Errorf("refused web1: %v", err)
	}
	var none *NoAgentError
	if _, err := acc.Dial(context.Background(), "web2"); !errors.As(err, &none) ||
		!strings.Contains(err.Error(), `connection refused; no guest agent answers on web2 either`) ||
		!strings.HasSuffix(err.Error(), `"lvslab console web2 --lab tedu" logs in on its serial console`) {
		t.Errorf("web2 without an agent: %v", err)
	}
	before := len(g.Ran())
	if _, err := acc.Dial(context.Background(), "lvs1"); err == nil || !strings.Contains(err.Error(), "finds mgmt0 up with its address, sshd listening") {
		t.Errorf("lvs1, whose handshake failed: %v", err)
	}
	if got := g.Ran()[before:]; len(got) != 1 {
		t.Errorf("lvs1's connect completed: the agent was asked %d times while it was under way, want once after it failed", len(got))
	}
}

// A node that misses status's short window while its agent finds nothing
// wrong is slow, not cut off: one more try with the full window.
func TestDialGivesASlowHealthyNodeTheFullWindow(t *testing.T) {
	conn, opts := upLab(t, mustLab(t, "tedu-nat"))
	acc, err := Open(conn, "tedu", Options{Paths: opts.Paths, Agent: newCutOffGuest(), DialWindow: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	var windows []time.Duration
	acc.connector = ConnectFunc(func(ctx context.Context, cfg sshx.Config, _ sshx.Retry) (*sshx.Client, error) {
		windows = append(windows, cfg.DialTimeout)
		if cfg.DialTimeout < dialWindow {
			return nil, errors.New("ssh: handshake failed: read tcp: i/o timeout")
		}
		return nil, nil
	})
	if _, err := acc.Dial(context.Background(), "lvs1"); err != nil || !slices.Equal(windows, []time.Duration{2 * time.Second, dialWindow}) {
		t.Errorf("lvs1, healthy and slow: %v after tries of %v", err, windows)
	}
	// A node the agent finds cut off gets no second try.
	windows = nil
	if _, err := acc.Dial(context.Background(), "web1"); err == nil || len(windows) != 1 {
		t.Errorf("web1, cut off: %v after tries of %v", err, windows)
	}
}

// up's wait: a node cut off is restored through its agent and the wait
// goes on at once, the restore told.
func TestWaitRestoresAccess(t *testing.T) {
	acc, g := cutOffAccess(t)
	acc.tcpWindow = 20 * time.Millisecond
	acc.tcp = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if !g.Repaired() {
			return stalled(ctx, network, addr)
		}
		c, _ := net.Pipe()
		return c, nil
	}
	acc.connector = ConnectFunc(func(ctx context.Context, cfg sshx.Config, r sshx.Retry) (*sshx.Client, error) {
		for {
			c, err := cfg.Dialer(ctx, "tcp", cfg.Addr)
			if err == nil {
				c.Close()
				return nil, nil
			}
			if stop := r.Attempt(cfg.Addr, err); stop != nil || ctx.Err() != nil {
				return nil, errors.Join(stop, ctx.Err())
			}
		}
	})
	var told []string
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := acc.Wait(ctx, "web1", WaitOptions{Rescue: true, Attempt: func(string, error) error { return nil },
		Restored: func(d *Diagnosis, err error) { told = append(told, fmt.Sprint(d.Summary(), " ", err)) }})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("restored in %s", took)
	}
	if !slices.Equal(told, []string{"mgmt0 is down and sshd is stopped <nil>"}) {
		t.Errorf("told %q", told)
	}
	ran := g.Ran()
	if last := ran[len(ran)-1].Script(); ran[len(ran)-1].Domain != "tedu-web1" || !strings.Contains(last, "ip link set mgmt0 up") || !strings.Contains(last, startSSHD) {
		t.Errorf("repair ran as %+v", ran[len(ran)-1])
	}
}
