package access

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/lvslab/lvslab/provision/paths"
)

// SSHConfigOptions tune WriteSSHConfig.
type SSHConfigOptions struct {
	// Short also names each node by its plain name ("web1"), besides
	// "LAB-web1"; a class with several copies of one lab leaves it off.
	Short bool
}

// WriteSSHConfig writes an ssh_config for the lab's nodes, for a user's
// "Include" (or ssh -F): one Host per node with its management address, the
// lab's key and known_hosts and the alias its host key is pinned under, so
// plain "ssh web1" logs in as lvslab does. On a remote libvirt it adds a
// Host for the hypervisor and a ProxyJump through it (the URI's user, port,
// keyfile and known_hosts). Nodes without a management address are left
// out.
func (a *Access) WriteSSHConfig(w io.Writer, opts SSHConfigOptions) error {
	a.mu.Lock()
	nodes := make([]string, 0, len(a.tags))
	for node := range a.tags {
		if len(a.addresses(node)) > 0 {
			nodes = append(nodes, node)
		}
	}
	a.mu.Unlock()
	sort.Strings(nodes)
	var b strings.Builder
	fmt.Fprintf(&b, "# lvslab lab %s: \"Include\" this file in ~/.ssh/config, or use ssh -F FILE\n", a.lab)
	jump := ""
	if r := a.remote; r != nil {
		jump = "lvslab-hv-" + r.User + "-" + r.Host
		if r.Port != 22 {
			jump += "-" + strconv.Itoa(r.Port)
		}
		fmt.Fprintf(&b, "\n# the hypervisor of %s\nHost %s\n", r.URI, jump)
		option(&b, "HostName", r.Host)
		option(&b, "Port", strconv.Itoa(r.Port))
		option(&b, "User", r.User)
		if r.KeyFile != "" {
			option(&b, "IdentityFile", r.KeyFile)
		}
		if r.KnownHosts != "" {
			option(&b, "UserKnownHostsFile", r.KnownHosts)
		}
		if r.NoVerify {
			option(&b, "StrictHostKeyChecking", "no")
		}
	}
	user := "root"
	if a.file != nil && a.file.Login.User != "" {
		user = a.file.Login.User
	}
	for _, node := range nodes {
		host, port := splitHostPort(a.Addresses(node)[0])
		alias := paths.DomainName(a.lab, node)
		fmt.Fprintf(&b, "\nHost %s", alias)
		if opts.Short {
			fmt.Fprintf(&b, " %s", node)
		}
		b.WriteString("\n")
		option(&b, "HostName", host)
		option(&b, "Port", port)
		option(&b, "User", user)
		option(&b, "IdentityFile", a.paths.KeyFile(a.lab))
		option(&b, "IdentitiesOnly", "yes")
		option(&b, "UserKnownHostsFile", a.paths.KnownHostsFile(a.lab))
		option(&b, "HostKeyAlias", alias)
		option(&b, "StrictHostKeyChecking", "yes")
		if jump != "" {
			option(&b, "ProxyJump", jump)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// option writes one ssh_config line, quoting a value with blanks.
func option(b *strings.Builder, key, value string) {
	if strings.ContainsAny(value, " \t") {
		value = strconv.Quote(value)
	}
	fmt.Fprintf(b, "  %s %s\n", key, value)
}

// splitHostPort splits a management address ("10.250.0.12", or host:port).
func splitHostPort(addr string) (host, port string) {
	host, port, err := net.SplitHostPort(SSHAddr(addr))
	if err != nil {
		return addr, "22"
	}
	return host, port
}
