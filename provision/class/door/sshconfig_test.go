package door

import (
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/sshx/sshxtest"
	"golang.org/x/crypto/ssh"
)

func TestClientConfigRendersNodesThroughTheDoor(t *testing.T) {
	host, _ := sshxtest.NewKey(t)
	cc := ClientConfig{
		Student: "alice", Host: "classhost", Port: 2222,
		Nodes:   []string{"client", "lvs1", "web1", "web2"},
		HostKey: host.PublicKey(),
	}
	conf, err := cc.SSHConfig()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Host lvslab-door\n    HostName classhost\n    Port 2222\n    User alice\n",
		"Host client lvs1 web1 web2\n    User root\n    ProxyJump lvslab-door\n    HostKeyAlias lvslab-door\n    UserKnownHostsFile ~/.ssh/lvslab_known_hosts\n    StrictHostKeyChecking yes\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("ssh_config lacks\n%s\nin:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "PRIVATE KEY") || strings.Contains(conf, "IdentityFile") {
		t.Errorf("ssh_config names a key it should not:\n%s", conf)
	}
	line, err := cc.KnownHosts()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(conf, "#   "+line) {
		t.Errorf("the known_hosts line is not in the file's comment:\n%s", conf)
	}
	_, hosts, key, _, _, err := ssh.ParseKnownHosts([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(hosts, " ") != "lvslab-door [classhost]:2222" || string(key.Marshal()) != string(host.PublicKey().Marshal()) {
		t.Errorf("known_hosts line %q", line)
	}
	cc.IdentityFile = "~/.ssh/id_ed25519"
	if conf, _ = cc.SSHConfig(); !strings.Contains(conf, "    IdentityFile ~/.ssh/id_ed25519\n    IdentitiesOnly yes\n") {
		t.Errorf("the student's key is not offered:\n%s", conf)
	}
}

// Nothing from the class may add options to the file.
func TestClientConfigRefusesInjection(t *testing.T) {
	host, _ := sshxtest.NewKey(t)
	good := ClientConfig{Student: "alice", Host: "classhost", Nodes: []string{"web1"}, HostKey: host.PublicKey()}
	for name, change := range map[string]func(*ClientConfig){
		"node with newline":    func(c *ClientConfig) { c.Nodes = []string{"web1\n    ProxyCommand sh -c evil"} },
		"node with space":      func(c *ClientConfig) { c.Nodes = []string{"web1 *"} },
		"node pattern":         func(c *ClientConfig) { c.Nodes = []string{"*"} },
		"node address":         func(c *ClientConfig) { c.Nodes = []string{"10.0.0.1"} },
		"student with newline": func(c *ClientConfig) { c.Student = "alice\nProxyCommand evil" },
		"host with space":      func(c *ClientConfig) { c.Host = "classhost evil" },
		"identity with token":  func(c *ClientConfig) { c.IdentityFile = "%d/.ssh/key" },
		"no key":               func(c *ClientConfig) { c.HostKey = nil },
		"no nodes":             func(c *ClientConfig) { c.Nodes = nil },
	} {
		c := good
		change(&c)
		if conf, err := c.SSHConfig(); err == nil {
			t.Errorf("%s: rendered\n%s", name, conf)
		}
	}
	if _, err := good.SSHConfig(); err != nil {
		t.Errorf("a plain config: %v", err)
	}
}
