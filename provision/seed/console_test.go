package seed

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/topology/testkit/shtest"
)

// stubCommands writes sh scripts under a new folder that log their calls
// to $LOG and answer systemctl's questions as the guest of owner would:
// NetworkManager running, systemd-networkd enabled, or neither (ifupdown).
func stubCommands(t *testing.T, names ...string) string {
	t.Helper()
	stubs := map[string]string{}
	for _, name := range names {
		stubs[name] = "echo \"" + name + " $*\" >>\"$LOG\"\n"
	}
	if _, ok := stubs["systemctl"]; ok {
		stubs["systemctl"] += `case "$*" in
"is-active -q NetworkManager") [ "$OWNER" = NetworkManager ] ;;
"is-enabled -q systemd-networkd") [ "$OWNER" = systemd-networkd ] ;;
"cat ssh.service") [ "$OWNER" != NetworkManager ] ;;
esac
`
	}
	return shtest.Stubs(t, stubs)
}

// lvslab-console.sh, run against a scratch root with the guest's commands
// stubbed, for each network manager a guest may run: the NIC with the
// management MAC is renamed mgmt0 and addressed through that manager
// alone, the login key and the pinned host key are installed, contexts
// restored where SELinux tools exist, and sshd restarted.
func TestConsoleScript(t *testing.T) {
	c := mgmtSeedConfig(t)
	script, err := ConsoleScript(c)
	if err != nil {
		t.Fatal(err)
	}
	mac := host.MgmtMAC("tedu", "web1")
	for _, owner := range []string{"systemd-networkd", "NetworkManager", "ifupdown"} {
		t.Run(owner, func(t *testing.T) {
			root := t.TempDir()
			for nic, addr := range map[string]string{"ens3": "52:54:00:00:00:01", "ens5": mac} {
				os.MkdirAll(filepath.Join(root, "sys/class/net", nic), 0o755)
				os.WriteFile(filepath.Join(root, "sys/class/net", nic, "address"), []byte(addr+"\n"), 0o644)
			}
			os.MkdirAll(filepath.Join(root, "etc/ssh"), 0o755)
			os.WriteFile(filepath.Join(root, "etc/ssh/ssh_host_rsa_key"), []byte("old"), 0o600)
			stubs := []string{"ip", "systemctl", "nmcli", "restorecon"}
			if owner == "ifupdown" {
				stubs = append(stubs, "ifup")
				os.MkdirAll(filepath.Join(root, "etc/network"), 0o755)
				os.WriteFile(filepath.Join(root, "etc/network/interfaces"), []byte("source /etc/network/interfaces.d/*\n"), 0o644)
			}
			log := filepath.Join(t.TempDir(), "log")
			out, err := shtest.Command(string(script), "LVSLAB_ROOT="+root, "LOG="+log, "OWNER="+owner, "PATH="+stubCommands(t, stubs...)+":/usr/bin:/bin").CombinedOutput()
			if err != nil || !strings.HasSuffix(string(out), "lvslab-console: "+"done\n") || !strings.Contains(string(out), "mgmt0 through "+owner) {
				t.Fatalf("%v:\n%s", err, out)
			}
			calls, _ := os.ReadFile(log)
			read := func(p string) string { b, _ := os.ReadFile(filepath.Join(root, p)); return string(b) }
			want := []string{"ip link set ens5 down\n", "ip link set ens5 name mgmt0\n", "restorecon -R " + root + "/root/.ssh " + root + "/etc/ssh\n"}
			switch owner {
			case "systemd-networkd":
				want = append(want, "systemctl restart systemd-networkd\n", "systemctl restart ssh\n")
				if !strings.Contains(read("etc/systemd/network/10-lvslab-mgmt0.network"), "Address=10.201.0.12/24\n") {
					t.Errorf(".network file %q", read("etc/systemd/network/10-lvslab-mgmt0.network"))
				}
			case "NetworkManager":
				want = append(want, "nmcli connection add type ethernet con-name mgmt0 ifname mgmt0 connection.autoconnect yes ipv4.method manual ipv4.addresses 10.201.0.12/24 ipv4.never-default yes ipv6.method ignore\n",
					"nmcli connection up mgmt0\n", "systemctl restart sshd\n")
			case "ifupdown":
				want = append(want, "ifup mgmt0\n")
				if !strings.Contains(read("etc/network/interfaces.d/lvslab-mgmt0"), "iface mgmt0 inet static\n\taddress 10.201.0.12/24\n") {
					t.Errorf("interfaces %q", read("etc/network/interfaces.d/lvslab-mgmt0"))
				}
			}
			for _, w := range want {
				if !strings.Contains(string(calls), w) {
					t.Errorf("no call %q in:\n%s", w, calls)
				}
			}
			managers := strings.Count(string(calls), "systemctl restart systemd-networkd") + strings.Count(string(calls), "nmcli connection up") + strings.Count(string(calls), "ifup ")
			if managers != 1 {
				t.Errorf("%d network managers set mgmt0 up:\n%s", managers, calls)
			}
			if !strings.Contains(read("etc/systemd/network/10-lvslab-mgmt0.link"), "MACAddress="+mac+"\n") || read("root/.ssh/authorized_keys") != c.AuthorizedKey+"\n" ||
				read("etc/ssh/ssh_host_ed25519_key") != c.HostKeyPrivate || read("etc/ssh/ssh_host_rsa_key") != "" {
				t.Errorf("files: link %q, keys %q, host key %q, old key %q", read("etc/systemd/network/10-lvslab-mgmt0.link"),
					read("root/.ssh/authorized_keys"), read("etc/ssh/ssh_host_ed25519_key"), read("etc/ssh/ssh_host_rsa_key"))
			}
		})
	}
	c.Mgmt = netip.Prefix{}
	if _, err := ConsoleScript(c); err == nil {
		t.Error("a console script without a management address")
	}
}
