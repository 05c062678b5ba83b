package seed

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"text/template"

	"github.com/kdomanski/iso9660"
	"gopkg.in/yaml.v3"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/shell"
	"github.com/lvslab/lvslab/templates"
	"github.com/lvslab/lvslab/topology"
)

// Label is the volume label cloud-init's NoCloud source and lvslab's
// images look for.
const Label = "cidata"

// Config is everything a node's seed says.
type Config struct {
	Lab  *topology.Lab
	Node *topology.Node
	// InstanceID is unique per creation of the node: a re-created node is a
	// new instance and is seeded again.
	InstanceID string
	// AuthorizedKey is the lab's login key as an authorized_keys line.
	AuthorizedKey string
	// HostKeyPrivate (OpenSSH PEM) and HostKeyPublic (authorized_keys
	// format) are the node's ed25519 host key, pinned by lvslab.
	HostKeyPrivate string
	HostKeyPublic  string
	// Files are written on the first boot by lvslab-init.sh (lvslab's images).
	Files []catalog.File
	// Commands run after Files on that first boot, each on its own: a
	// failure is logged and left to the configure phase.
	Commands []string
	// Bare: the seed gives access only (login, host key, the management
	// NIC): no lab address, and the image's own hostname, as a fresh clone.
	Bare bool
	// Mgmt is the node's management address (host.MgmtNIC, the last NIC), when
	// the lab has a management network.
	Mgmt netip.Prefix
	// NoPassword leaves the lab's login.password out of the seed: an image
	// set up over its console has it already, and reads no seed.
	NoPassword bool
}

type seedData struct {
	Config
	Lab, Node, Hostname, User, Home, Hosts string
	// The management NIC, for lvslab-console.sh.
	MgmtMAC, MgmtNIC, MgmtAddr string
	MgmtLink, MgmtNetwork      catalog.File
}

var seedFuncs = template.FuncMap{"sh": shell.Quote}

// scripts are the seed's shell templates: lvslab-init.sh (lvslab's images
// run it from the seed volume), lvslab-console.sh (typed into a console)
// and access.tmpl, the parts they share.
var scripts = template.Must(template.New("seed").Funcs(seedFuncs).Option("missingkey=error").ParseFS(templates.Seed, "seed/*"))

// newSeedData is what the seed's documents and scripts say of c.
func newSeedData(c Config) seedData {
	d := seedData{Config: c, Lab: c.Lab.Name, Node: c.Node.Name, Hostname: c.Node.Name, User: c.Lab.Login.User, Home: "/root"}
	if d.User == "" {
		d.User = "root"
	}
	if d.User != "root" {
		d.Home = "/home/" + d.User
	}
	if c.Bare {
		d.Hostname = ""
	} else {
		d.Hosts = "127.0.0.1\tlocalhost\n127.0.1.1\t" + d.Hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	}
	if c.Mgmt.IsValid() {
		d.MgmtMAC, d.MgmtNIC, d.MgmtAddr = host.MgmtMAC(c.Lab.Name, c.Node.Name), host.MgmtNIC, c.Mgmt.String()
		mgmt := mgmtGuestFiles(d.MgmtMAC, c.Mgmt)
		d.MgmtLink, d.MgmtNetwork = mgmt[0], mgmt[1]
	}
	return d
}

// execute renders one of the scripts.
func execute(name string, d seedData) ([]byte, error) {
	var b bytes.Buffer
	if err := scripts.ExecuteTemplate(&b, name, d); err != nil {
		return nil, fmt.Errorf("seed template %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// ConsoleScript is lvslab-console.sh for c's node: what lvslab types into
// the serial console of an image that reads no seed (no cloud-init, no
// lvslab agent) to set up its access: mgmt0 through the guest's network
// manager, the login key, the pinned host key, sshd restarted. It needs
// c.Mgmt.
func ConsoleScript(c Config) ([]byte, error) {
	if !c.Mgmt.IsValid() {
		return nil, fmt.Errorf("node %s has no management address to give its %s", c.Node.Name, host.MgmtNIC)
	}
	return execute("lvslab-console.sh", newSeedData(c))
}

// seedFiles are the files of the seed volume, in the order written.
var seedFiles = []string{"meta-data", "user-data", "network-config", "lvslab-init.sh"}

// Files renders the seed's files: meta-data, user-data and
// network-config (cloud-init NoCloud, for users' cloud images), marshalled
// as YAML so that every value is quoted as YAML wants, and lvslab-init.sh
// (for lvslab's own images), whose values are quoted for sh.
func Files(c Config) (map[string][]byte, error) {
	d := newSeedData(c)
	if c.Mgmt.IsValid() {
		d.Files = append(slices.Clip(d.Files), d.MgmtLink, d.MgmtNetwork)
		d.Commands = append([]string{mgmtRename(d.MgmtMAC)}, d.Commands...)
	}
	out := map[string][]byte{}
	header := fmt.Sprintf("# Written by lvslab for node %q of lab %q.\n", d.Node, d.Lab)
	for name, doc := range map[string]struct {
		head string
		v    any
	}{
		"meta-data":      {"", metaData{InstanceID: c.InstanceID, LocalHostname: d.Hostname}},
		"user-data":      {"#cloud-config\n" + header, userData(d)},
		"network-config": {header + "# The management NIC only, by its MAC, a static address, no DHCP; lvslab\n# configures the lab NICs through the guest's network manager.\n", networkConfig(c.Node, c.Lab.Name, c.Mgmt)},
	} {
		var n yaml.Node
		if err := n.Encode(doc.v); err != nil {
			return nil, fmt.Errorf("seed %s: %w", name, err)
		}
		quoteStrings(&n)
		var b bytes.Buffer
		b.WriteString(doc.head)
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(&n); err != nil {
			return nil, fmt.Errorf("seed %s: %w", name, err)
		}
		out[name] = b.Bytes()
	}
	init, err := execute("lvslab-init.sh", d)
	if err != nil {
		return nil, err
	}
	out["lvslab-init.sh"] = init
	return out, nil
}

// quoteStrings double-quotes every one-line text value: cloud-init reads
// YAML 1.1, where a plain 52:54:00:12:34:56 is a number (base 60) and a
// plain yes a boolean. Keys stay plain; multi-line text stays a block.
func quoteStrings(n *yaml.Node) {
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			continue
		}
		if c.Kind == yaml.ScalarNode && c.Tag == "!!str" && !strings.Contains(c.Value, "\n") {
			c.Style = yaml.DoubleQuotedStyle
		}
		quoteStrings(c)
	}
}

// The cloud-init documents, as cloud-init reads them.
type metaData struct {
	InstanceID    string `yaml:"instance-id"`
	LocalHostname string `yaml:"local-hostname,omitempty"`
}

type cloudConfig struct {
	Hostname          string            `yaml:"hostname,omitempty"`
	PreserveHostname  bool              `yaml:"preserve_hostname"`
	ManageEtcHosts    bool              `yaml:"manage_etc_hosts"`
	DisableRoot       bool              `yaml:"disable_root"`
	SSHPwauth         bool              `yaml:"ssh_pwauth"`
	Users             []any             `yaml:"users,omitempty"`
	Chpasswd          *chpasswd         `yaml:"chpasswd,omitempty"`
	SSHAuthorizedKeys []string          `yaml:"ssh_authorized_keys"`
	SSHDeleteKeys     bool              `yaml:"ssh_deletekeys"`
	SSHGenKeyTypes    []string          `yaml:"ssh_genkeytypes"`
	SSHKeys           map[string]string `yaml:"ssh_keys"`
}

type cloudUser struct {
	Name              string   `yaml:"name"`
	Shell             string   `yaml:"shell"`
	Sudo              string   `yaml:"sudo"`
	LockPasswd        bool     `yaml:"lock_passwd"`
	SSHAuthorizedKeys []string `yaml:"ssh_authorized_keys"`
}

type chpasswd struct {
	Expire bool               `yaml:"expire"`
	Users  []chpasswdUserLine `yaml:"users"`
}

type chpasswdUserLine struct {
	Name     string `yaml:"name"`
	Password string `yaml:"password"`
	Type     string `yaml:"type"`
}

func userData(d seedData) cloudConfig {
	password := d.Config.Lab.Login.Password
	if d.NoPassword {
		password = ""
	}
	cc := cloudConfig{
		Hostname:          d.Hostname,
		PreserveHostname:  d.Hostname == "",
		ManageEtcHosts:    d.Hostname != "",
		SSHPwauth:         password != "",
		SSHAuthorizedKeys: []string{d.AuthorizedKey},
		SSHDeleteKeys:     true,
		SSHGenKeyTypes:    []string{},
		SSHKeys:           map[string]string{"ed25519_private": d.HostKeyPrivate, "ed25519_public": d.HostKeyPublic},
	}
	if d.User != "root" {
		cc.Users = []any{"default", cloudUser{
			Name: d.User, Shell: "/bin/bash", Sudo: "ALL=(ALL) NOPASSWD:ALL",
			LockPasswd: password == "", SSHAuthorizedKeys: []string{d.AuthorizedKey},
		}}
	}
	if password != "" {
		cc.Chpasswd = &chpasswd{Users: []chpasswdUserLine{{Name: d.User, Password: password, Type: "text"}}}
	}
	return cc
}

type netplan struct {
	Version   int                 `yaml:"version"`
	Ethernets map[string]ethernet `yaml:"ethernets"`
}

type ethernet struct {
	Match     map[string]string   `yaml:"match"`
	SetName   string              `yaml:"set-name"`
	DHCP4     bool                `yaml:"dhcp4"`
	DHCP6     bool                `yaml:"dhcp6"`
	Addresses []string            `yaml:"addresses"`
	Routes    []map[string]string `yaml:"routes,omitempty"`
}

// networkConfig names and addresses the management NIC only, matched by
// its MAC (predictable names or not, it becomes mgmt0), with no route: it
// carries lvslab's SSH. No renderer is named: cloud-init writes it for the
// image's own network manager. The lab NICs are left to the configure
// phase, which writes them through that manager: files cloud-init had
// written for them (its systemd-networkd files sort before lvslab's, its
// NetworkManager profiles would stand beside lvslab's) would fight lvslab's
// over the same NIC when a lab switches mode.
func networkConfig(n *topology.Node, lab string, mgmt netip.Prefix) netplan {
	cfg := netplan{Version: 2, Ethernets: map[string]ethernet{}}
	if mgmt.IsValid() {
		cfg.Ethernets[host.MgmtNIC] = ethernet{Match: map[string]string{"macaddress": host.MgmtMAC(lab, n.Name)}, SetName: host.MgmtNIC, Addresses: []string{mgmt.String()}}
	}
	return cfg
}

// BuildISO renders the seed and packs it into an ISO 9660 image labelled
// "cidata".
func BuildISO(c Config) ([]byte, error) {
	files, err := Files(c)
	if err != nil {
		return nil, err
	}
	return packISO(files)
}

func packISO(files map[string][]byte) ([]byte, error) {
	w, err := iso9660.NewWriter()
	if err != nil {
		return nil, fmt.Errorf("seed ISO: %w", err)
	}
	defer w.Cleanup()
	for _, name := range seedFiles {
		data, ok := files[name]
		if !ok {
			continue
		}
		if err := w.AddFile(bytes.NewReader(data), name); err != nil {
			return nil, fmt.Errorf("seed ISO: add %s: %w", name, err)
		}
	}
	var b bytes.Buffer
	if err := w.WriteTo(&b, Label); err != nil {
		return nil, fmt.Errorf("seed ISO: %w", err)
	}
	return b.Bytes(), nil
}

// mgmtGuestFiles are the systemd-networkd files of a node's management NIC:
// named mgmt0 by its MAC, a static address, no gateway, no DHCP, kept while
// networkd restarts (the configure phase restarts it over this very NIC).
func mgmtGuestFiles(mac string, addr netip.Prefix) []catalog.File {
	return []catalog.File{
		{Path: "/etc/systemd/network/10-lvslab-" + host.MgmtNIC + ".link", Mode: 0o644, Content: fmt.Sprintf(
			"# lvslab: the NIC with MAC %s is %s, lvslab's management NIC (not part of the lab)\n[Match]\nMACAddress=%s\nType=ether\n\n[Link]\nName=%s\n",
			mac, host.MgmtNIC, mac, host.MgmtNIC)},
		{Path: "/etc/systemd/network/10-lvslab-" + host.MgmtNIC + ".network", Mode: 0o644, Content: fmt.Sprintf(
			"# lvslab: %s carries lvslab's SSH only: static address, no gateway, no DHCP\n[Match]\nMACAddress=%s\nType=ether\n\n[Link]\nRequiredForOnline=no\n\n[Network]\nDHCP=no\nLinkLocalAddressing=no\nIPv6AcceptRA=no\nKeepConfiguration=static\nAddress=%s\n",
			host.MgmtNIC, mac, addr)},
	}
}

// mgmtRename names the management NIC on the first boot, before networkd
// starts (udev applies the .link file from the next boot on). The MACs are
// read by the shell: no cat per NIC on the way to sshd.
func mgmtRename(mac string) string {
	return fmt.Sprintf(`for d in /sys/class/net/*; do read -r a <"$d/address" && [ "$a" = %s ] && [ "${d##*/}" != %s ] && ip link set "${d##*/}" name %s; done; true`, mac, host.MgmtNIC, host.MgmtNIC)
}
