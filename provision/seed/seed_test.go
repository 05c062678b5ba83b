package seed

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/seed/seedtest"
	"github.com/lvslab/lvslab/provision/sshx"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/roles/shell"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/testkit/shtest"
)

func testSeedConfig(t *testing.T) Config {
	t.Helper()
	lab := mustLab(t, "tedu-nat")
	priv, pub, err := sshx.GenerateHostKey()
	if err != nil {
		t.Fatal(err)
	}
	_, authLine, err := sshx.EnsureKey(filepath.Join(t.TempDir(), "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Lab: lab, Node: lab.Node("web1"), InstanceID: "tedu-web1-00c0ffee",
		AuthorizedKey:  authLine,
		HostKeyPrivate: string(priv),
		HostKeyPublic:  strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " tedu-web1",
		Files:          seedFilesOf(lab, lab.Node("web1")),
	}
}

// mgmtSeedConfig is testSeedConfig with the management address that up
// gives every node.
func mgmtSeedConfig(t *testing.T) Config {
	t.Helper()
	c := testSeedConfig(t)
	c.Mgmt = netip.MustParsePrefix("10.201.0.12/24")
	return c
}

func TestSeedISO(t *testing.T) {
	c := mgmtSeedConfig(t)
	data, err := BuildISO(c)
	if err != nil {
		t.Fatal(err)
	}
	files, label := readISO(t, data)
	if label != "cidata" {
		t.Errorf("volume label %q, want cidata", label)
	}
	rendered, err := Files(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"meta-data", "user-data", "network-config", "lvslab-init.sh"} {
		got, ok := files[name]
		if !ok {
			t.Errorf("the ISO lacks %s (has %v)", name, keys(files))
			continue
		}
		if got != string(rendered[name]) {
			t.Errorf("%s differs in the ISO", name)
		}
	}

	var meta map[string]string
	if err := yaml.Unmarshal([]byte(files["meta-data"]), &meta); err != nil {
		t.Fatal(err)
	}
	if meta["instance-id"] != c.InstanceID || meta["local-hostname"] != "web1" {
		t.Errorf("meta-data %v", meta)
	}

	ud := files["user-data"]
	if !strings.HasPrefix(ud, "#cloud-config\n") {
		t.Errorf("user-data must start with #cloud-config:\n%s", ud)
	}
	var user struct {
		Hostname      string            `yaml:"hostname"`
		DisableRoot   bool              `yaml:"disable_root"`
		AuthorizedKey []string          `yaml:"ssh_authorized_keys"`
		SSHKeys       map[string]string `yaml:"ssh_keys"`
	}
	if err := yaml.Unmarshal([]byte(ud), &user); err != nil {
		t.Fatalf("user-data is not YAML: %v\n%s", err, ud)
	}
	if user.Hostname != "web1" || user.DisableRoot || len(user.AuthorizedKey) != 1 || user.AuthorizedKey[0] != c.AuthorizedKey {
		t.Errorf("user-data: %+v", user)
	}
	if user.SSHKeys["ed25519_private"] != c.HostKeyPrivate || user.SSHKeys["ed25519_public"] != c.HostKeyPublic {
		t.Errorf("user-data host key differs: %q", user.SSHKeys)
	}

	var netcfg struct {
		Version   int `yaml:"version"`
		Ethernets map[string]struct {
			Match     map[string]string `yaml:"match"`
			SetName   string            `yaml:"set-name"`
			Renderer  string            `yaml:"renderer"`
			DHCP4     bool              `yaml:"dhcp4"`
			Addresses []string          `yaml:"addresses"`
			Routes    []map[string]string
		} `yaml:"ethernets"`
	}
	if err := yaml.Unmarshal([]byte(files["network-config"]), &netcfg); err != nil {
		t.Fatalf("network-config: %v\n%s", err, files["network-config"])
	}
	mgmt, ok := netcfg.Ethernets["mgmt0"]
	if netcfg.Version != 2 || len(netcfg.Ethernets) != 1 || !ok || mgmt.Match["macaddress"] != host.MgmtMAC("tedu", "web1") || mgmt.DHCP4 ||
		mgmt.SetName != "mgmt0" || len(mgmt.Addresses) != 1 || mgmt.Addresses[0] != "10.201.0.12/24" || len(mgmt.Routes) != 0 || mgmt.Renderer != "" {
		t.Errorf("network-config: mgmt0 %+v, want it alone\n%s", mgmt, files["network-config"])
	}
}

// TestInitScriptFirstBootOnly runs lvslab-init.sh against a scratch root:
// the first run writes everything and the marker, a second run of the same
// instance changes nothing, a new instance seeds again.
func TestInitScriptFirstBootOnly(t *testing.T) {
	shtest.Need(t, "sh")
	c := testSeedConfig(t)
	root := t.TempDir()
	runInit := func(c Config) string {
		t.Helper()
		files, err := Files(c)
		if err != nil {
			t.Fatal(err)
		}
		return runInitScript(t, files["lvslab-init.sh"], root)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// An old host key of another type must go.
	os.MkdirAll(filepath.Join(root, "etc/ssh"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/ssh/ssh_host_rsa_key"), []byte("old"), 0o600)

	runInit(c)
	if got := read("etc/hostname"); got != "web1\n" {
		t.Errorf("hostname %q", got)
	}
	if got := read("root/.ssh/authorized_keys"); got != c.AuthorizedKey+"\n" {
		t.Errorf("authorized_keys %q", got)
	}
	if got := read("etc/ssh/ssh_host_ed25519_key"); got != c.HostKeyPrivate {
		t.Errorf("host key differs")
	}
	if st, _ := os.Stat(filepath.Join(root, "etc/ssh/ssh_host_ed25519_key")); st == nil || st.Mode().Perm() != 0o600 {
		t.Errorf("host key mode: %v", st)
	}
	if got := read("etc/ssh/sshd_config.d/10-lvslab-hostkey.conf"); got != "HostKey /etc/ssh/ssh_host_ed25519_key\n" {
		t.Errorf("sshd drop-in %q", got)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/ssh/ssh_host_rsa_key")); err == nil {
		t.Error("the old RSA host key is still there")
	}
	for _, f := range c.Files {
		if got := read(f.Path); got != f.Content {
			t.Errorf("%s: got %q, want %q", f.Path, got, f.Content)
		}
	}
	if len(c.Files) == 0 || !strings.Contains(read("etc/systemd/network/10-lvslab-eth1.network"), "192.168.2.100/24") {
		t.Errorf("bootstrap network files missing: %v", c.Files)
	}
	read("var/lib/lvslab/seeded-" + c.InstanceID)

	// Later boots: the configure phase changed the network; it stays.
	changed := "[Match]\nName=eth1\n[Network]\nAddress=192.168.4.100/24\n"
	os.WriteFile(filepath.Join(root, "etc/systemd/network/10-lvslab-eth1.network"), []byte(changed), 0o644)
	if out := runInit(c); !strings.Contains(out, "already seeded") {
		t.Errorf("second boot output: %s", out)
	}
	if got := read("etc/systemd/network/10-lvslab-eth1.network"); got != changed {
		t.Errorf("a later boot rewrote the network file: %q", got)
	}

	// A re-created node is a new instance and is seeded again.
	c.InstanceID = "tedu-web1-0badf00d"
	runInit(c)
	if got := read("etc/systemd/network/10-lvslab-eth1.network"); got == changed {
		t.Error("a new instance was not seeded")
	}
}

// runInitScript runs lvslab-init.sh from a seed folder against a scratch
// root and returns what it printed.
func runInitScript(t *testing.T, text []byte, root string) string {
	t.Helper()
	seed := t.TempDir()
	script := filepath.Join(seed, "lvslab-init.sh")
	if err := os.WriteFile(script, text, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := shtest.Command("sh "+shell.Quote(script)+" "+shell.Quote(seed), "LVSLAB_ROOT="+root).CombinedOutput()
	if err != nil {
		t.Fatalf("lvslab-init.sh: %v\n%s", err, out)
	}
	return string(out)
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestInitScriptModes: put's fast path (a new file written by the shell
// alone) and its atomic path (a file that exists, a symlink, another mode)
// both leave exactly the content and mode asked for.
func TestInitScriptModes(t *testing.T) {
	shtest.Need(t, "sh")
	c := testSeedConfig(t)
	c.Files = []catalog.File{
		{Path: "/etc/new/deep/plain.conf", Mode: 0o644, Content: "plain\n"},
		{Path: "/etc/secret.key", Mode: 0o600, Content: "secret\n"},
		{Path: "/usr/local/sbin/tool", Mode: 0o755, Content: "#!/bin/sh\n"},
		{Path: "/etc/existing.conf", Mode: 0o644, Content: "new\n"},
		{Path: "/etc/linked.conf", Mode: 0o644, Content: "own\n"},
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/existing.conf"), []byte("old and longer\n"), 0o600)
	os.WriteFile(filepath.Join(root, "target"), []byte("not mine\n"), 0o644)
	os.Symlink(filepath.Join(root, "target"), filepath.Join(root, "etc/linked.conf"))
	files, err := Files(c)
	if err != nil {
		t.Fatal(err)
	}
	runInitScript(t, files["lvslab-init.sh"], root)
	for _, f := range c.Files {
		p := filepath.Join(root, f.Path)
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(p)
		if string(data) != f.Content || st.Mode() != f.Mode {
			t.Errorf("%s: %q mode %v, want %q mode %v", f.Path, data, st.Mode(), f.Content, f.Mode)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(root, "target")); string(data) != "not mine\n" {
		t.Errorf("put wrote through a symlink: %q", data)
	}
	if st, err := os.Stat(filepath.Join(root, "root/.ssh")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("~/.ssh: %v %v", st, err)
	}
}

func TestSeedNonRootUserWithPassword(t *testing.T) {
	c := testSeedConfig(t)
	lab := *c.Lab
	lab.Login.User, lab.Login.Password = "student", `pa"ss: #1`
	c.Lab = &lab
	files, err := Files(c)
	if err != nil {
		t.Fatal(err)
	}
	var user struct {
		SSHPwauth bool `yaml:"ssh_pwauth"`
		Users     []any
		Chpasswd  struct {
			Users []map[string]string `yaml:"users"`
		} `yaml:"chpasswd"`
	}
	if err := yaml.Unmarshal(files["user-data"], &user); err != nil {
		t.Fatalf("%v\n%s", err, files["user-data"])
	}
	if !user.SSHPwauth || len(user.Users) != 2 || len(user.Chpasswd.Users) != 1 ||
		user.Chpasswd.Users[0]["name"] != "student" || user.Chpasswd.Users[0]["password"] != `pa"ss: #1` {
		t.Errorf("user-data: %+v\n%s", user, files["user-data"])
	}
	if !strings.Contains(string(files["lvslab-init.sh"]), "put "+shell.Quote("/home/student")+"/.ssh/authorized_keys") {
		t.Errorf("lvslab-init.sh does not install the key for student")
	}
}

func seedFilesOf(lab *topology.Lab, node *topology.Node) []catalog.File {
	files, _ := catalog.FirstBoot(roles.DesiredFor(lab, node))
	return files
}

// The director's seed loads its IPVS rules and sysctls on the first boot,
// only on a real guest (never under a scratch root, as in the tests).
func TestInitScriptActivatesDirectorRules(t *testing.T) {
	c := testSeedConfig(t)
	c.Node = c.Lab.Node("lvs1")
	c.Files, c.Commands = catalog.FirstBoot(roles.DesiredFor(c.Lab, c.Node))
	files, err := Files(c)
	if err != nil {
		t.Fatal(err)
	}
	script := string(files["lvslab-init.sh"])
	guard := strings.Index(script, `if [ -z "$R" ]; then`)
	restore := strings.Index(script, "{ ipvsadm-restore < /etc/ipvsadm.rules; } || echo")
	if guard < 0 || restore < guard || !strings.Contains(script, "put "+shell.Quote("/etc/ipvsadm.rules")+" 0644 ") {
		t.Fatalf("lvs1's init script does not write and load its rules under the real-guest guard:\n%s", script)
	}
	shtest.Parses(t, "lvs1's init script", script)
}

// Values that validate refuses must still not escape their quoting if a
// lab made in code carries them: each document reads back exactly what was
// put in, and lvslab-init.sh gains no line.
func TestSeedQuotesHostileValues(t *testing.T) {
	c := mgmtSeedConfig(t)
	lab := *c.Lab
	pwned := filepath.Join(t.TempDir(), "pwned")
	lab.Login.User = "bob\n  - name: evil\n    sudo: ALL\ntouch " + pwned + "\n'; touch " + pwned + "; '"
	lab.Login.Password = "x\nssh_authorized_keys: [evil]\n# \"'"
	c.Lab = &lab
	node := *c.Node
	node.Name = "web1\nruncmd: [touch /pwned]\ntouch " + pwned + "\n$(touch " + pwned + ")"
	nics := []*topology.NIC{{Name: "eth1", Network: "private2", Address: c.Node.NIC("eth1").Address, MAC: "52:54:00:12:34:56"}}
	node.NICs = nics
	c.Node = &node
	page := "<h1>it's</h1>\nLVSLAB_EOF\n'; touch " + pwned + "; '\n$(touch " + pwned + ")\n"
	c.Files = append(c.Files, catalog.File{Path: "/var/www/html/index.html", Mode: 0o644, Content: page})
	files, err := Files(c)
	if err != nil {
		t.Fatal(err)
	}
	var user struct {
		Hostname string `yaml:"hostname"`
		Users    []any  `yaml:"users"`
		Chpasswd struct {
			Users []map[string]string `yaml:"users"`
		} `yaml:"chpasswd"`
		AuthorizedKeys []string `yaml:"ssh_authorized_keys"`
		RunCmd         any      `yaml:"runcmd"`
	}
	if err := yaml.Unmarshal(files["user-data"], &user); err != nil {
		t.Fatalf("%v\n%s", err, files["user-data"])
	}
	if user.Hostname != node.Name || len(user.Users) != 2 || user.RunCmd != nil || len(user.AuthorizedKeys) != 1 ||
		user.Users[1].(map[string]any)["name"] != lab.Login.User || user.Chpasswd.Users[0]["password"] != lab.Login.Password {
		t.Errorf("user-data does not read back its values: %+v\n%s", user, files["user-data"])
	}
	for _, doc := range []string{"meta-data", "network-config"} {
		var v map[string]any
		if err := yaml.Unmarshal(files[doc], &v); err != nil {
			t.Fatalf("%s: %v\n%s", doc, err, files[doc])
		}
		if _, ok := v["runcmd"]; ok {
			t.Errorf("%s gained a key:\n%s", doc, files[doc])
		}
	}
	// lvslab-init.sh under a scratch root: it writes exactly the values and
	// runs none of them.
	root := t.TempDir()
	runInitScript(t, files["lvslab-init.sh"], root)
	if _, err := os.Stat(pwned); err == nil {
		t.Error("a value of the lab ran as a command in lvslab-init.sh")
	}
	if got, _ := os.ReadFile(filepath.Join(root, "var/www/html/index.html")); string(got) != page {
		t.Errorf("page written %q, want %q", got, page)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "etc/hosts")); !strings.Contains(string(got), "127.0.1.1\t"+node.Name+"\n") {
		t.Errorf("hosts file %q lacks the name %q", got, node.Name)
	}
	// A MAC of digits only is a base-60 number in YAML 1.1 (cloud-init's).
	if !strings.Contains(string(files["network-config"]), `macaddress: "`+host.MgmtMAC(lab.Name, node.Name)+`"`) {
		t.Errorf("the MAC is not quoted:\n%s", files["network-config"])
	}
}

// A bare seed gives access and nothing of the exercise: the image's
// hostname stays, no lab address in any file, only mgmt0's.
func TestBareSeed(t *testing.T) {
	c := mgmtSeedConfig(t)
	c.Bare, c.Files = true, nil
	files, err := Files(c)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("lvslab\n"), 0o644)
	runInitScript(t, files["lvslab-init.sh"], root)
	if b, _ := os.ReadFile(filepath.Join(root, "etc/hostname")); string(b) != "lvslab\n" {
		t.Errorf("hostname %q, want the image's", b)
	}
	if b, err := os.ReadFile(filepath.Join(root, "root/.ssh/authorized_keys")); err != nil || string(b) != c.AuthorizedKey+"\n" {
		t.Errorf("authorized_keys %q %v", b, err)
	}
	var written []string
	filepath.Walk(filepath.Join(root, "etc/systemd/network"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			written = append(written, filepath.Base(p))
		}
		return nil
	})
	if strings.Join(written, " ") != "10-lvslab-mgmt0.link 10-lvslab-mgmt0.network" {
		t.Errorf("network files %v, want mgmt0's only", written)
	}
	for name, text := range files {
		if strings.Contains(string(text), "192.168.") || strings.Contains(string(text), "hostname web1") || strings.Contains(string(text), "local-hostname") {
			t.Errorf("%s holds a lab address or the lab's hostname:\n%s", name, text)
		}
	}
	var user map[string]any
	if err := yaml.Unmarshal([]byte(files["user-data"]), &user); err != nil || user["preserve_hostname"] != true || user["hostname"] != nil {
		t.Errorf("user-data %v %v", user, err)
	}
}

var (
	mustLab = rolestest.Lab
	readISO = seedtest.ReadISO
)
