package provision

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/template"

	"github.com/kdomanski/iso9660"

	"github.com/lvslab/lvslab/roles/shell"
	"github.com/lvslab/lvslab/templates"
	"github.com/lvslab/lvslab/topology"
)

// SeedLabel is the volume label cloud-init's NoCloud source and lvslab's
// images look for.
const SeedLabel = "cidata"

// File is one guest file the seed writes on the first boot (the shape of
// catalog.File: the network files of catalog.BootstrapFiles go in here).
type File struct {
	Path    string
	Mode    fs.FileMode
	Content string
}

// SeedConfig is everything a node's seed says.
type SeedConfig struct {
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
	Files []File
	// Commands run after Files on that first boot, each on its own: a
	// failure is logged and left to the configure phase.
	Commands []string
}

// seedNIC is one NIC as the templates see it.
type seedNIC struct {
	Name, MAC, Address, Gateway string
}

type seedData struct {
	SeedConfig
	Lab, Node, Hostname, User, Password, Home, Hosts string
	NICs                                             []seedNIC
}

var seedFuncs = template.FuncMap{
	"sh":     shell.Quote,
	"yaml":   yamlQuote,
	"base64": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"indent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		return pad + strings.Join(lines, "\n"+pad)
	},
}

// seedFiles are the files of the seed volume, in the order written.
var seedFiles = []string{"meta-data", "user-data", "network-config", "lvslab-init.sh"}

// SeedFiles renders the seed's files: meta-data, user-data and
// network-config (cloud-init NoCloud, for users' cloud images) and
// lvslab-init.sh (for lvslab's own images).
func SeedFiles(c SeedConfig) (map[string][]byte, error) {
	d := seedData{
		SeedConfig: c,
		Lab:        c.Lab.Name,
		Node:       c.Node.Name,
		Hostname:   c.Node.Name,
		User:       c.Lab.Login.User,
		Password:   c.Lab.Login.Password,
		Home:       "/root",
	}
	if d.User == "" {
		d.User = "root"
	}
	if d.User != "root" {
		d.Home = "/home/" + d.User
	}
	d.Hosts = "127.0.0.1\tlocalhost\n127.0.1.1\t" + d.Hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	for _, nic := range c.Node.NICs {
		sn := seedNIC{Name: nic.Name, MAC: nic.MAC}
		if nic.Address.IsValid() {
			sn.Address = nic.Address.String()
			if gw := c.Node.Gateway; gw.IsValid() && nic.Address.Masked().Contains(gw) {
				sn.Gateway = gw.String()
			}
		}
		d.NICs = append(d.NICs, sn)
	}
	out := map[string][]byte{}
	for _, name := range seedFiles {
		text, err := fs.ReadFile(templates.Seed, path.Join("seed", name))
		if err != nil {
			return nil, err
		}
		t, err := template.New(name).Funcs(seedFuncs).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("seed template %s: %w", name, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, d); err != nil {
			return nil, fmt.Errorf("seed template %s: %w", name, err)
		}
		out[name] = b.Bytes()
	}
	return out, nil
}

// BuildSeedISO renders the seed and packs it into an ISO 9660 image labelled
// "cidata".
func BuildSeedISO(c SeedConfig) ([]byte, error) {
	files, err := SeedFiles(c)
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
	if err := w.WriteTo(&b, SeedLabel); err != nil {
		return nil, fmt.Errorf("seed ISO: %w", err)
	}
	return b.Bytes(), nil
}

// yamlQuote renders s as a YAML double-quoted scalar.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
