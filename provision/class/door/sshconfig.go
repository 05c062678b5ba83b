package door

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ClientConfig is what a student's ssh_config says ("lvslab class
// ssh-config --student alice"): a Host for the door and a Host per node
// that jumps through it. It holds no key of lvslab's: the student logs in to
// the door with their passphrase or their own key, and the door's host key
// is pinned with one known_hosts line (KnownHosts).
type ClientConfig struct {
	// Student is the login name at the door.
	Student string
	// Host and Port are the door as the students reach it (Port 22 when
	// 0).
	Host string
	Port int
	// Nodes are the node names of the student's copy.
	Nodes []string
	// HostKey is the door's host key (Door.HostKey, or sshx.EnsurePrivateKey).
	HostKey ssh.PublicKey
	// LabUser is the user on the nodes ("root" when empty).
	LabUser string
	// Alias names the door's Host entry and the name its key is pinned
	// under, for the door and every node ("lvslab-door" when empty).
	Alias string
	// KnownHostsFile is where the student keeps the KnownHosts line
	// ("~/.ssh/lvslab_known_hosts" when empty).
	KnownHostsFile string
	// IdentityFile is the student's own private key for the door, if they
	// registered one (optional).
	IdentityFile string
}

func (c ClientConfig) withDefaults() ClientConfig {
	if c.Port == 0 {
		c.Port = 22
	}
	if c.LabUser == "" {
		c.LabUser = "root"
	}
	if c.Alias == "" {
		c.Alias = "lvslab-door"
	}
	if c.KnownHostsFile == "" {
		c.KnownHostsFile = "~/.ssh/lvslab_known_hosts"
	}
	return c
}

// check refuses values that would change the meaning of the file (spaces,
// quotes, comments, patterns, control characters).
func (c ClientConfig) check() error {
	if c.HostKey == nil {
		return errors.New("ssh-config: no door host key")
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("ssh-config: door port %d", c.Port)
	}
	fields := map[string]string{
		"student": c.Student, "door host": c.Host, "lab user": c.LabUser, "alias": c.Alias,
		"known hosts file": c.KnownHostsFile,
	}
	if c.IdentityFile != "" {
		fields["identity file"] = c.IdentityFile
	}
	for what, v := range fields {
		if !configWord(v) {
			return fmt.Errorf("ssh-config: %s %q cannot be written in an ssh_config", what, clean(v, 64))
		}
	}
	if len(c.Nodes) == 0 {
		return errors.New("ssh-config: no nodes")
	}
	for _, n := range c.Nodes {
		if !hostName(n) {
			return fmt.Errorf("ssh-config: node name %q is not a plain host name", clean(n, 64))
		}
	}
	if strings.ContainsAny(c.Alias, "[]:,") || strings.ContainsAny(c.Host, "[], ") {
		return fmt.Errorf("ssh-config: alias %q or host %q cannot be pinned in known_hosts", c.Alias, c.Host)
	}
	return nil
}

// configWord is a value ssh_config reads as one plain word.
func configWord(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("\"'#*?!,=\\%", r) {
			return false
		}
	}
	return true
}

// hostName is a node name usable as a Host pattern and a jump target.
func hostName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return net.ParseIP(s) == nil
}

// KnownHosts is the known_hosts line that pins the door's key, under its
// alias and its address (so "ssh -J alice@host:port" checks it too).
func (c ClientConfig) KnownHosts() (string, error) {
	c = c.withDefaults()
	if err := c.check(); err != nil {
		return "", err
	}
	return knownhosts.Line([]string{c.Alias, knownhosts.Normalize(net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))}, c.HostKey) + "\n", nil
}

// SSHConfig renders the student's ssh_config.
func (c ClientConfig) SSHConfig() (string, error) {
	c = c.withDefaults()
	if err := c.check(); err != nil {
		return "", err
	}
	line, err := c.KnownHosts()
	if err != nil {
		return "", err
	}
	door := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	var b strings.Builder
	fmt.Fprintf(&b, "# The nodes of %s's lab, through lvslab's class door at %s.\n", c.Student, door)
	fmt.Fprintf(&b, "# Save this file (e.g. ~/.ssh/lvslab.conf) and use it: ssh -F ~/.ssh/lvslab.conf %s\n", c.Nodes[0])
	b.WriteString("# or put \"Include lvslab.conf\" at the top of ~/.ssh/config, then: ssh " + c.Nodes[0] + "\n")
	fmt.Fprintf(&b, "# Put this line, the door's host key, in %s:\n#   %s", c.KnownHostsFile, line)
	b.WriteString("# You log in to the door with your passphrase or your own registered key;\n")
	b.WriteString("# this file holds no key of lvslab's.\n\n")

	fmt.Fprintf(&b, "Host %s\n", c.Alias)
	fmt.Fprintf(&b, "    HostName %s\n", c.Host)
	fmt.Fprintf(&b, "    Port %d\n", c.Port)
	fmt.Fprintf(&b, "    User %s\n", c.Student)
	c.pin(&b)
	if c.IdentityFile != "" {
		fmt.Fprintf(&b, "    IdentityFile %s\n", c.IdentityFile)
		b.WriteString("    IdentitiesOnly yes\n")
	}
	b.WriteString("\n")

	fmt.Fprintf(&b, "Host %s\n", strings.Join(c.Nodes, " "))
	fmt.Fprintf(&b, "    User %s\n", c.LabUser)
	fmt.Fprintf(&b, "    ProxyJump %s\n", c.Alias)
	c.pin(&b)
	return b.String(), nil
}

// pin writes the host key options: every hop is the door, pinned under
// its alias.
func (c ClientConfig) pin(b *strings.Builder) {
	fmt.Fprintf(b, "    HostKeyAlias %s\n", c.Alias)
	fmt.Fprintf(b, "    UserKnownHostsFile %s\n", c.KnownHostsFile)
	b.WriteString("    StrictHostKeyChecking yes\n")
}
