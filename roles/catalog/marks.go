package catalog

import (
	"fmt"
	"strings"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/topology"
)

// Paths and names of the firewall marks of fwmark services.
const (
	MarksFile     = "/etc/nftables.d/lvslab-marks.nft"
	MarksUnit     = "lvslab-marks.service"
	MarksUnitFile = "/etc/systemd/system/" + MarksUnit
	// marksTable is lvslab's own nftables table (Debian), marksChain its
	// own iptables chain in the mangle table (RHEL): lvslab replaces or
	// removes them whole and leaves every other rule alone.
	marksTable = "ip lvslab"
	marksChain = "LVSLAB"
)

// nftRule is a mark as nft lists it: "ip daddr 192.168.4.15 tcp dport
// { 80, 443 } meta mark set 0x00000001" (the check greps for this text).
func nftRule(m roles.Mark) string {
	ports := portList(m.Ports)
	if len(m.Ports) > 1 {
		ports = "{ " + ports + " }"
	}
	return fmt.Sprintf("ip daddr %s %s dport %s meta mark set 0x%08x", m.VIP, m.Protocol, ports, m.FWMark)
}

// iptablesRule is a mark as the references write it, after
// "iptables -t mangle -A CHAIN".
func iptablesRule(m roles.Mark) string {
	return fmt.Sprintf("-d %s/32 -p %s -m multiport --dports %s -j MARK --set-mark %d", m.VIP, m.Protocol, strings.ReplaceAll(portList(m.Ports), " ", ""), m.FWMark)
}

func marksNftFile(st *roles.NodeState) File {
	var rules []string
	for _, m := range st.Marks {
		rules = append(rules, nftRule(m))
	}
	return File{Path: MarksFile, Mode: 0o644, Content: render("nftables-marks.nft.tmpl", rules)}
}

type marksUnitData struct{ Pre, Start, Stop []string }

func marksUnitFile(d marksUnitData) File {
	return File{Path: MarksUnitFile, Mode: 0o644, Content: render("lvslab-marks.service.tmpl", d)}
}

func marksComment(st *roles.NodeState) string {
	var parts, keys []string
	for _, m := range st.Marks {
		word := "ports"
		if len(m.Ports) == 1 {
			word = "port"
		}
		parts = append(parts, fmt.Sprintf("%s to %s %s %s marked %d", m.Protocol, m.VIP, word, portList(m.Ports), m.FWMark))
		keys = append(keys, fmt.Sprintf("-f %d", m.FWMark))
	}
	return strings.Join(parts, "; ") + " before IPVS sees the packets, so that IPVS schedules the marked ports as one service (ipvsadm " + strings.Join(keys, ", ") + ")"
}

// debianMarks: lvslab's nftables table in a file, loaded now and at boot by
// a unit of its own (Debian's nftables.service loads only nftables.conf).
func debianMarks(st *roles.NodeState) []Step {
	if len(st.Marks) == 0 {
		// No table where nf_tables is not loaded (a module on the
		// distributions' kernels): no nft then, which would load it.
		return staleMarks(st, []string{"nft delete table " + marksTable + " 2>/dev/null || :"}, "{ [ ! -e /sys/module/nf_tables ] || ! nft list table "+marksTable+" >/dev/null 2>&1; }")
	}
	var rules []string
	for _, m := range st.Marks {
		rules = append(rules, "-e '"+nftRule(m)+"'")
	}
	nft, unit := marksNftFile(st), marksUnitFile(marksUnitData{
		Start: []string{"/usr/sbin/nft -f " + MarksFile},
		Stop:  []string{"/usr/sbin/nft delete table " + marksTable},
	})
	return []Step{{
		Name:      "firewall marks",
		Comment:   marksComment(st),
		File:      &nft,
		Check:     fmt.Sprintf(`[ "$(nft list table %s 2>/dev/null | grep -cF %s)" = %d ]`, marksTable, strings.Join(rules, " "), len(rules)),
		Apply:     []string{"nft -f " + MarksFile},
		FirstBoot: true,
		Boot:      []string{"nft -f " + MarksFile},
	}, marksAtBoot(&unit, true)}
}

// rhelMarks: the references' iptables rules (mangle table, MARK target) in
// a chain of lvslab's own, made by a unit at boot.
func rhelMarks(st *roles.NodeState) []Step {
	ipt := "/usr/sbin/iptables -t mangle "
	if len(st.Marks) == 0 {
		return staleMarks(st, []string{
			"iptables -t mangle -D PREROUTING -j " + marksChain + " 2>/dev/null || :",
			"iptables -t mangle -F " + marksChain + " 2>/dev/null || :",
			"iptables -t mangle -X " + marksChain + " 2>/dev/null || :",
		}, "! iptables -t mangle -n -L "+marksChain+" >/dev/null 2>&1")
	}
	d := marksUnitData{
		// "-" : the chain may not be there yet.
		Pre:  []string{"-" + ipt + "-D PREROUTING -j " + marksChain, "-" + ipt + "-F " + marksChain, "-" + ipt + "-X " + marksChain},
		Stop: []string{ipt + "-D PREROUTING -j " + marksChain, ipt + "-F " + marksChain, ipt + "-X " + marksChain},
	}
	d.Start = append(d.Start, ipt+"-N "+marksChain)
	var checks []string
	for _, m := range st.Marks {
		d.Start = append(d.Start, ipt+"-A "+marksChain+" "+iptablesRule(m))
		checks = append(checks, "iptables -t mangle -C "+marksChain+" "+iptablesRule(m))
	}
	d.Start = append(d.Start, ipt+"-I PREROUTING -j "+marksChain)
	checks = append(checks, "iptables -t mangle -C PREROUTING -j "+marksChain)
	unit := marksUnitFile(d)
	return []Step{{
		Name:    "firewall marks",
		Comment: marksComment(st) + "; iptables -t mangle in a chain " + marksChain + " that a unit makes at boot (firewalld stays off)",
		File:    &unit,
		Check:   "systemctl is-enabled -q " + MarksUnit + " && " + strings.Join(checks, " && "),
		Apply:   []string{"systemctl daemon-reload", "systemctl enable " + MarksUnit, "systemctl restart " + MarksUnit},
	}}
}

// marksAtBoot enables the unit that loads the marks at boot; the seed
// enables it by hand ("systemctl enable" would reload systemd mid-boot).
func marksAtBoot(unit *File, seeded bool) Step {
	s := Step{
		Name:    "marks at boot",
		Comment: "a unit that loads " + MarksFile + " at boot",
		File:    unit,
		Check:   "systemctl is-enabled -q " + MarksUnit,
		Apply:   []string{"systemctl daemon-reload", "systemctl enable " + MarksUnit},
	}
	if seeded {
		s.FirstBoot = true
		s.Boot = []string{"mkdir -p /etc/systemd/system/multi-user.target.wants",
			"ln -sf ../" + MarksUnit + " /etc/systemd/system/multi-user.target.wants/" + MarksUnit}
	}
	return s
}

// staleMarks removes another lab's firewall marks from a director whose
// lab has none (a VM re-used from a fwmark lab); nil on other nodes.
func staleMarks(st *roles.NodeState, remove []string, gone string) []Step {
	if st.Role != topology.RoleDirector {
		return nil
	}
	apply := []string{"systemctl disable --now " + MarksUnit + " 2>/dev/null || :"}
	apply = append(apply, remove...)
	apply = append(apply, "rm -f "+MarksUnitFile+" "+MarksFile, "systemctl daemon-reload")
	return []Step{{
		Name:    "no stale marks",
		Comment: "no firewall marks of another lab (a VM re-used from a fwmark lab): marked packets would go to its -f service",
		Check:   "[ ! -e " + MarksUnitFile + " ] && [ ! -e " + MarksFile + " ] && " + gone,
		Apply:   apply,
	}}
}

// MarkCheck is a shell command that exits 0 when the director marks as m
// says, right now: for "lvslab check".
func MarkCheck(m roles.Mark, osFamily string) string {
	if osFamily == RHEL {
		return "iptables -t mangle -C " + marksChain + " " + iptablesRule(m) + " 2>/dev/null && iptables -t mangle -C PREROUTING -j " + marksChain + " 2>/dev/null"
	}
	return "nft list table " + marksTable + " 2>/dev/null | grep -qF '" + nftRule(m) + "'"
}

// MarkHandout is how a student marks as m says by hand.
func MarkHandout(m roles.Mark, osFamily string) string {
	if osFamily == RHEL {
		return "iptables -t mangle -A PREROUTING " + iptablesRule(m)
	}
	return "nft -f " + MarksFile
}
