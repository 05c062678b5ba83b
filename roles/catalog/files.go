package catalog

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"text/template"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/templates"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// File is a guest file lvslab writes whole.
type File struct {
	Path    string      `json:"path"`
	Mode    fs.FileMode `json:"mode"`
	Content string      `json:"content"`
}

// Paths of the guest files lvslab owns.
const (
	NetworkdDir     = "/etc/systemd/network"
	SysctlFile      = "/etc/sysctl.d/90-lvslab.conf"
	ModulesFile     = "/etc/modules-load.d/lvslab.conf"
	HostnameFile    = "/etc/hostname"
	IndexFile       = "/var/www/html/index.html"
	DebianRulesFile = "/etc/ipvsadm.rules"
	RHELRulesFile   = "/etc/sysconfig/ipvsadm"
	IPVSUnit        = "lvslab-ipvs.service"
	IPVSUnitFile    = "/etc/systemd/system/" + IPVSUnit
	VIPUnit         = "lvslab-vip.service"
	VIPUnitFile     = "/etc/systemd/system/" + VIPUnit
	IPVSAdmDropIn   = "/etc/systemd/system/ipvsadm.service.d/lvslab.conf"
	ApachePortsFile = "/etc/apache2/ports.conf"
	HTTPDListenFile = "/etc/httpd/conf.d/lvslab-listen.conf"
	NginxConfFile   = "/etc/nginx/conf.d/lvslab.conf"
)

var tmpl = template.Must(template.New("roles").ParseFS(templates.Roles, "roles/*.tmpl"))

func render(name string, data any) string {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
		panic(fmt.Sprintf("roles: template %s: %v", name, err)) // templates are embedded and tested
	}
	return b.String()
}

// BootstrapFiles are the files a Debian node needs at first boot to come up
// on its lab addresses: its hostname, a systemd-networkd .link file naming
// each NIC by MAC, and a .network file per NIC with its static address (or
// kept down), the gateway and the director's VIP alias, DHCP off. Steps
// writes byte-identical files, so the first configure finds them unchanged.
func BootstrapFiles(st *roles.NodeState) []File {
	out := []File{hostnameFile(st)}
	for _, nic := range st.NICs {
		out = append(out, linkFile(nic))
	}
	for _, nic := range st.NICs {
		out = append(out, networkFile(st, nic))
	}
	return out
}

func hostnameFile(st *roles.NodeState) File {
	return File{Path: HostnameFile, Mode: 0o644, Content: st.Hostname + "\n"}
}

func linkFile(nic roles.NICState) File {
	return File{
		Path:    NetworkdDir + "/10-lvslab-" + nic.Name + ".link",
		Mode:    0o644,
		Content: render("networkd.link.tmpl", nic),
	}
}

func networkFile(st *roles.NodeState, nic roles.NICState) File {
	data := struct {
		roles.NICState
		Gateway string
		Aliases []roles.Alias
	}{NICState: nic}
	if !nic.Down {
		if st.GatewayNIC() == nic.Name {
			data.Gateway = st.Gateway.String()
		}
		data.Aliases = aliasesOn(st, nic.Name)
	}
	return File{
		Path:    NetworkdDir + "/10-lvslab-" + nic.Name + ".network",
		Mode:    0o644,
		Content: render("networkd.network.tmpl", data),
	}
}

// virtualNetworkFile is the .network of lo or tunl0 carrying the VIP.
func virtualNetworkFile(st *roles.NodeState, dev string) File {
	return File{
		Path: NetworkdDir + "/10-lvslab-" + dev + ".network",
		Mode: 0o644,
		Content: render("networkd-virtual.network.tmpl", struct {
			Device  string
			Aliases []roles.Alias
		}{dev, aliasesOn(st, dev)}),
	}
}

func aliasesOn(st *roles.NodeState, dev string) []roles.Alias {
	var out []roles.Alias
	for _, a := range st.Aliases {
		if a.Device == dev {
			out = append(out, a)
		}
	}
	return out
}

// virtualDevices lists the devices that carry aliases but are no NIC of
// the lab (lo, tunl0), in alias order.
func virtualDevices(st *roles.NodeState) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range st.Aliases {
		if st.NIC(a.Device) == nil && !seen[a.Device] {
			seen[a.Device] = true
			out = append(out, a.Device)
		}
	}
	return out
}

func sysctlFile(st *roles.NodeState) File {
	return File{Path: SysctlFile, Mode: 0o644, Content: render("sysctl.conf.tmpl", st)}
}

func modulesFile(st *roles.NodeState) File {
	return File{Path: ModulesFile, Mode: 0o644, Content: render("modules.conf.tmpl", st)}
}

func indexFile(st *roles.NodeState) File {
	return File{Path: IndexFile, Mode: 0o644, Content: st.Web.Page + "\n"}
}

// WritesPage tells whether the step writes the node's web page: the
// index.html of its web server's document root (IndexFile, or nginx's on
// RHEL).
func (s Step) WritesPage() bool { return s.File != nil && path.Base(s.File.Path) == "index.html" }

func rulesFile(st *roles.NodeState, path string) File {
	return File{Path: path, Mode: 0o644, Content: ipvs.Rules(st.IPVS)}
}

func ipvsUnitFile() File {
	return File{Path: IPVSUnitFile, Mode: 0o644, Content: render("lvslab-ipvs.service.tmpl", struct{ Rules string }{DebianRulesFile})}
}

// vipUnitFile is RHEL's unit for every VIP of the node, labelled.
func vipUnitFile(st *roles.NodeState) File {
	return File{Path: VIPUnitFile, Mode: 0o644, Content: render("lvslab-vip.service.tmpl", struct {
		Aliases []roles.Alias
		Modules []string
	}{st.Aliases, st.Modules})}
}

func ipvsadmDropIn() File {
	return File{Path: IPVSAdmDropIn, Mode: 0o644, Content: render("ipvsadm-stop.conf.tmpl", struct{ Rules string }{RHELRulesFile})}
}

func apachePortsFile(st *roles.NodeState) File {
	return File{Path: ApachePortsFile, Mode: 0o644, Content: render("apache2-ports.conf.tmpl", st.Web)}
}

func httpdListenFile(st *roles.NodeState) File {
	return File{Path: HTTPDListenFile, Mode: 0o644, Content: render("httpd-listen.conf.tmpl", st.Web)}
}

// nginxConfFile: the family's default server serves port 80 from root;
// the other real-server ports get a server of their own there.
func nginxConfFile(st *roles.NodeState, root string) File {
	return File{Path: NginxConfFile, Mode: 0o644, Content: render("nginx.conf.tmpl", struct {
		Ports []uint16
		Root  string
	}{st.Web.Ports, root})}
}
