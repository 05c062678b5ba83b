package handout

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// sysctlConf is where the references keep kernel settings; sysctl -p
// loads it now, and it is read at every boot.
const sysctlConf = "/etc/sysctl.conf"

// kernelDefault is the kernel's own value of a setting, "" when the
// distribution chooses it (rp_filter): a fresh node needs no line for a
// setting at its default.
func kernelDefault(key string) string {
	switch {
	case key == "net.ipv4.ip_forward":
		return "0"
	case strings.HasSuffix(key, ".arp_ignore"), strings.HasSuffix(key, ".arp_announce"):
		return "0"
	case strings.HasSuffix(key, ".send_redirects"):
		return "1"
	}
	return ""
}

// effective is the value a node has for key: its setting, else the
// kernel's default (what a fresh node has), else "" (the distribution's).
func effective(st *roles.NodeState, key string) string {
	for _, s := range st.Sysctls {
		if s.Key == key {
			return s.Value
		}
	}
	return kernelDefault(key)
}

// written: the handout writes a setting to sysctl.conf only when it is not
// the kernel's default.
func written(s roles.Sysctl) bool { return s.Value != kernelDefault(s.Key) }

func (w writer) sysctls(st, prev *roles.NodeState) *Step {
	// In the file already: what the stage before wrote (its settings that
	// are not the kernel's defaults).
	inFile := map[string]string{}
	if prev != nil {
		for _, s := range prev.Sysctls {
			if written(s) {
				inFile[s.Key] = s.Value
			}
		}
	}
	var add []roles.Sysctl
	var del, reset []string
	var edits []sysctlEdit
	for _, s := range st.Sysctls {
		if _, ok := inFile[s.Key]; !ok && written(s) {
			add = append(add, s)
		}
	}
	if prev != nil {
		for _, s := range prev.Sysctls {
			old, ok := inFile[s.Key]
			if !ok {
				continue
			}
			v := effective(st, s.Key)
			switch {
			case v == old:
			case v != "":
				// The line stays, with this stage's value: the file says
				// what the node is, as reference 001's DR director has it.
				edits = append(edits, sysctlEdit{s.Key, old, v})
			default:
				// The distribution's value (rp_filter): no line.
				del = append(del, "-e '/^"+s.Key+" =/d'")
				for _, r := range st.Resets {
					if r.Key == s.Key {
						reset = append(reset, r.Key+"="+r.Value)
					}
				}
			}
		}
	}
	edit := sedEdits(edits, inFile)
	if len(add)+len(edit)+len(del) == 0 {
		return nil
	}
	s := &Step{Title: "kernel settings", Why: sysctlWhy(st, prev != nil)}
	if len(edit)+len(del) > 0 {
		s.Commands = append(s.Commands, "sed -i "+strings.Join(append(edit, del...), " ")+" "+sysctlConf)
	}
	if len(add) > 0 {
		var lines []string
		for _, a := range add {
			lines = append(lines, a.Key+" = "+a.Value)
		}
		s.Commands = append(s.Commands, writeFile(sysctlConf, lines, true))
	}
	if len(add)+len(edit) > 0 {
		s.Commands = append(s.Commands, "sysctl -p")
	}
	if len(reset) > 0 {
		s.Commands = append(s.Commands, "sysctl -w "+strings.Join(reset, " "))
	}
	return s
}

// sysctlEdit is a line of sysctl.conf whose value changes.
type sysctlEdit struct{ key, from, to string }

// sedEdits are sed's expressions for the edits: one for every line of a
// setting ("s/send_redirects = 0/send_redirects = 1/") when every line of
// it in the file changes alike, else one a key.
func sedEdits(edits []sysctlEdit, inFile map[string]string) []string {
	setting := func(key string) string { return key[strings.LastIndexByte(key, '.')+1:] }
	var out []string
	done := map[string]bool{}
	for _, e := range edits {
		if done[e.key] {
			continue
		}
		name := setting(e.key)
		alike := true
		var group []string
		for k, v := range inFile {
			if setting(k) != name || v != e.from {
				continue
			}
			i := slices.IndexFunc(edits, func(o sysctlEdit) bool { return o.key == k })
			if i < 0 || edits[i].to != e.to {
				alike = false
			}
			group = append(group, k)
		}
		if alike {
			for _, k := range group {
				done[k] = true
			}
			out = append(out, "-e 's/"+name+" = "+e.from+"/"+name+" = "+e.to+"/'")
			continue
		}
		done[e.key] = true
		out = append(out, "-e 's/^"+e.key+" = .*/"+e.key+" = "+e.to+"/'")
	}
	return out
}

func sysctlWhy(st *roles.NodeState, stage bool) string {
	var parts []string
	has := func(suffix, value string) bool {
		return slices.ContainsFunc(st.Sysctls, func(s roles.Sysctl) bool { return strings.HasSuffix(s.Key, suffix) && s.Value == value })
	}
	if has("ip_forward", "1") {
		parts = append(parts, "ip_forward = 1: the director routes between the client and the real servers, and NAT rewrites the replies that come back through it")
	}
	if has("send_redirects", "0") {
		parts = append(parts, "send_redirects = 0: it must not tell the real servers to bypass it")
	}
	if has("arp_ignore", "1") {
		parts = append(parts, "arp_ignore = 1 and arp_announce = 2: the real server neither answers ARP for the VIP nor announces it, so the client's ARP for the VIP finds the director")
	}
	if has("rp_filter", "0") {
		parts = append(parts, "rp_filter = 0: the tunnelled packets come in on tunl0 from the director, which reverse-path filtering would drop")
	}
	if stage && has("ip_forward", "0") {
		parts = append(parts, "ip_forward back to 0 and send_redirects back to 1: DR forwards nothing through the director, the real servers answer the client themselves")
	}
	if len(parts) == 0 {
		return "the settings the stage before made, back to the kernel's defaults"
	}
	return strings.Join(parts, "; ") + " (in " + sysctlConf + ", so they come back at boot)"
}

// web makes the real server serve its page on its ports.
func (w writer) web(st, prev *roles.NodeState) []Step {
	if st.Web == nil {
		return nil
	}
	if prev != nil && prev.Web != nil && prev.Web.Page == st.Web.Page && prev.Web.Server == st.Web.Server &&
		slices.Equal(prev.Web.Ports, st.Web.Ports) && slices.Equal(prev.Web.UDP, st.Web.UDP) {
		return nil
	}
	server, root := "apache2", "/var/www/html"
	if w.rhel() {
		server = "httpd"
	}
	nginx := st.Web.Server == topology.WebNginx
	if nginx {
		server = "nginx"
		if w.rhel() {
			root = "/usr/share/nginx/html"
		}
	}
	page := Step{Title: "test page", Why: "the page names the server, so the client sees which one answered",
		Commands: []string{writeFile(root+"/index.html", strings.Split(st.Web.Page, "\n"), false)}}
	svc := Step{Title: server, Why: "the web server, now and at every boot"}
	var extra []uint16
	for _, p := range st.Web.Ports {
		if p != 80 {
			extra = append(extra, p)
		}
	}
	// lvslab's Debian image runs apache2 from its first boot: a new port
	// needs a restart; nginx there is installed but off.
	restart := !w.rhel() && !nginx && len(extra) > 0
	if nginx && !w.rhel() {
		svc.Commands = append(svc.Commands, "systemctl disable --now apache2")
		svc.Why += "; apache2, which lvslab's image runs, would hold port 80"
	}
	if len(extra) > 0 {
		svc.Why += "; listening on the real-server ports " + portList(st.Web.Ports)
		switch {
		case nginx:
			var lines []string
			for _, p := range extra {
				lines = append(lines, "server {", fmt.Sprintf("listen %d;", p), "root "+root+";", "}")
			}
			svc.Commands = append(svc.Commands, writeFile("/etc/nginx/conf.d/ports.conf", lines, false))
		case w.rhel():
			var lines []string
			for _, p := range extra {
				lines = append(lines, fmt.Sprintf("Listen %d", p))
			}
			svc.Commands = append(svc.Commands, writeFile("/etc/httpd/conf.d/ports.conf", lines, false))
		default:
			var lines []string
			for _, p := range extra {
				lines = append(lines, fmt.Sprintf("Listen %d", p))
			}
			svc.Commands = append(svc.Commands, writeFile("/etc/apache2/ports.conf", lines, true))
		}
	}
	if restart {
		svc.Commands = append(svc.Commands, "systemctl restart "+server, "systemctl enable "+server)
	} else {
		svc.Commands = append(svc.Commands, "systemctl enable "+server+" --now")
	}
	out := []Step{page, svc}
	for _, u := range st.Web.UDP {
		out = append(out, udpStep(u, root))
	}
	return out
}

// udpStep: the UDP service's server, socat answering each datagram with
// the page under root.
func udpStep(u roles.UDPResponder, root string) Step {
	unit := fmt.Sprintf("udp%d.service", u.Port)
	listen := fmt.Sprintf("UDP4-RECVFROM:%d,", u.Port)
	where := "every address"
	if u.Bind.IsValid() {
		listen += "bind=" + u.Bind.String() + ","
		where = "the VIP " + u.Bind.String() + " (replies must leave from the address the client asked)"
	}
	lines := []string{"[Unit]", "After=network-online.target", "StartLimitIntervalSec=0", "[Service]",
		"ExecStart=/usr/bin/socat " + listen + `reuseaddr,fork "SYSTEM:cat >/dev/null; exec cat ` + root + `/index.html"`,
		"Restart=always", "[Install]", "WantedBy=multi-user.target"}
	return Step{
		Title:    fmt.Sprintf("udp %d", u.Port),
		Why:      fmt.Sprintf("the UDP service's server: socat on %s port %d answers each datagram with the page", where, u.Port),
		Commands: []string{writeFile("/etc/systemd/system/"+unit, lines, false), "systemctl daemon-reload", "systemctl enable " + unit + " --now"},
	}
}

func portList(ports []uint16) string {
	var s []string
	for _, p := range ports {
		s = append(s, fmt.Sprint(p))
	}
	return strings.Join(s, ", ")
}

func (w writer) rulesFile() string {
	if w.rhel() {
		return catalog.RHELRulesFile
	}
	return catalog.DebianRulesFile
}

// ipvsRemove: in a stage, the old virtual servers go first, as reference
// 000 deletes the NAT one before it changes any address.
func (w writer) ipvsRemove(prev, st *roles.NodeState) *Step {
	var cmds []string
	for _, op := range ipvs.Diff(prev.IPVS, st.IPVS) {
		if op.Action == ipvs.DelService {
			cmds = append(cmds, op.Command())
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	return &Step{Title: "remove the old virtual server", Why: "the stage before's virtual server goes, with its real servers, before the addresses change under it", Commands: cmds}
}

// ipvs is the director's table: the exercise's ipvsadm lines, saved, and
// restored at boot.
func (w writer) ipvs(lab *topology.Lab, st, prev *roles.NodeState) []Step {
	if len(st.IPVS) == 0 && (prev == nil || len(prev.IPVS) == 0) {
		return nil
	}
	var ops []ipvs.Op
	if prev == nil {
		ops = ipvs.Build(st.IPVS)
	} else {
		for _, op := range ipvs.Diff(prev.IPVS, st.IPVS) {
			if op.Action != ipvs.DelService || len(st.IPVS) == 0 {
				ops = append(ops, op)
			}
		}
	}
	if len(ops) == 0 {
		return nil
	}
	table := Step{Title: "virtual servers", Why: ipvsWhy(lab), Notes: []string{ipvs.ListCommand + " shows the table: see Expected results"}}
	for _, op := range ops {
		cmd := op.Command()
		if op.Service.FWMark != 0 && op.Dest.Port == 0 && op.Dest.Address.IsValid() {
			// A mark's packets keep their port: the exercise writes no ":0".
			cmd = strings.Replace(cmd, " -r "+op.Dest.Key()+" ", " -r "+op.Dest.Address.String()+" ", 1)
		}
		table.Commands = append(table.Commands, cmd)
	}
	save := Step{Title: "rules at boot", Commands: []string{ipvs.HandSaveTo(w.rulesFile())}}
	if w.rhel() {
		save.Why = "the kernel forgets the table at reboot: ipvsadm.service restores " + w.rulesFile() + " at boot"
	} else {
		save.Why = "the kernel forgets the table at reboot: Debian's ipvsadm service restores " + w.rulesFile() + " at boot when AUTO is true in /etc/default/ipvsadm"
	}
	if prev == nil || len(prev.IPVS) == 0 {
		if !w.rhel() {
			save.Commands = append(save.Commands, `sed -i 's/^AUTO=.*/AUTO="true"/' /etc/default/ipvsadm`)
		}
		save.Commands = append(save.Commands, "systemctl enable ipvsadm")
	}
	return []Step{table, save}
}

// ipvsWhy says each service in LVS terms.
func ipvsWhy(lab *topology.Lab) string {
	var parts []string
	for _, s := range lab.Services {
		what := "-A adds the virtual server "
		if s.FWMark != 0 {
			what += fmt.Sprintf("of firewall mark %d (ports %s of %s)", s.FWMark, portList(s.Ports), s.VIP)
		} else {
			what += fmt.Sprintf("%s %s:%d", strings.ToUpper(s.Protocol), s.VIP, s.Port)
		}
		what += " with scheduler " + s.Scheduler + " (" + schedulerName(s.Scheduler) + ")"
		if s.Persistence > 0 {
			what += fmt.Sprintf(", persistent for %d s", s.Persistence)
		}
		what += "; -a adds each real server with its weight, forwarded by " + forwardName(s.Mode)
		parts = append(parts, what)
	}
	return strings.Join(parts, ". ")
}

func forwardName(mode string) string {
	switch mode {
	case topology.ModeNAT:
		return "NAT (-m: the director rewrites the destination, and the replies on their way back)"
	case topology.ModeTUN:
		return "tunnelling (-i: the director wraps each packet in IP-in-IP to the real server)"
	}
	return "direct routing (-g: the director only rewrites the frame's MAC; the real server answers the client itself)"
}

func schedulerName(s string) string {
	return map[string]string{
		"rr": "round robin", "wrr": "weighted round robin", "lc": "least connections", "wlc": "weighted least connections",
		"lblc": "locality-based least connections", "lblcr": "locality-based least connections with replication",
		"dh": "destination hashing", "sh": "source hashing", "sed": "shortest expected delay", "nq": "never queue",
		"fo": "weighted failover", "ovf": "weighted overflow", "mh": "maglev hashing",
	}[s]
}

// marks: the director marks the ports of a firewall-mark service, so IPVS
// schedules them as one service.
func (w writer) marks(st, prev *roles.NodeState) *Step {
	if len(st.Marks) == 0 || (prev != nil && slices.EqualFunc(prev.Marks, st.Marks, func(a, b roles.Mark) bool {
		return a.FWMark == b.FWMark && a.VIP == b.VIP && a.Protocol == b.Protocol && slices.Equal(a.Ports, b.Ports)
	})) {
		return nil
	}
	s := &Step{Title: "firewall marks"}
	var whys []string
	if w.rhel() {
		for _, m := range st.Marks {
			s.Commands = append(s.Commands, fmt.Sprintf("iptables -t mangle -A PREROUTING -d %s/32 -p %s -m multiport --dports %s -j MARK --set-mark %d",
				m.VIP, m.Protocol, strings.ReplaceAll(portList(m.Ports), " ", ""), m.FWMark))
		}
		s.Commands = append(s.Commands, "iptables-save > /etc/sysconfig/iptables", "systemctl enable iptables")
		s.Notes = append(s.Notes, "iptables.service comes with the iptables-services package (yum install -y iptables-services)")
	} else {
		lines := []string{"flush ruleset", "table ip mangle {", "chain prerouting {", "type filter hook prerouting priority mangle;"}
		for _, m := range st.Marks {
			ports := portList(m.Ports)
			if len(m.Ports) > 1 {
				ports = "{ " + ports + " }"
			}
			lines = append(lines, fmt.Sprintf("ip daddr %s %s dport %s meta mark set %d", m.VIP, m.Protocol, ports, m.FWMark))
		}
		lines = append(lines, "}", "}")
		s.Commands = append(s.Commands, writeFile("/etc/nftables.conf", lines, false), "nft -f /etc/nftables.conf", "systemctl enable nftables")
	}
	for _, m := range st.Marks {
		whys = append(whys, fmt.Sprintf("%s to %s ports %s get mark %d before IPVS sees them, so IPVS schedules them as one service (ipvsadm -f %d)", m.Protocol, m.VIP, portList(m.Ports), m.FWMark, m.FWMark))
	}
	s.Why = strings.Join(whys, "; ") + " (loaded now, and at boot)"
	return s
}
