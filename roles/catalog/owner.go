package catalog

import (
	"strconv"
	"strings"

	"github.com/lvslab/lvslab/roles"
)

// Network owners: what manages a guest's NICs. lvslab configures the lab
// NICs through the owner it finds, and only through it: never two managers
// on one NIC.
const (
	OwnerNetworkManager = "NetworkManager"
	OwnerNetworkd       = "systemd-networkd"
	// OwnerNetplan is netplan writing systemd-networkd's files (Ubuntu's
	// servers); netplan over NetworkManager counts as OwnerNetworkManager.
	OwnerNetplan  = "netplan"
	OwnerIfupdown = "ifupdown"
	// OwnerNone: nothing manages the NICs yet (lvslab's steps enable
	// systemd-networkd on Debian, NetworkManager on RHEL).
	OwnerNone = "none"
)

// FormFor tells which of lvslab's forms configures a guest's lab NICs: the
// RHEL family's nmcli form where NetworkManager owns the NICs, the Debian
// family's systemd-networkd files where networkd (or netplan, whose files
// networkd reads after lvslab's) does; with no owner, each family's own. An
// ifupdown guest gets systemd-networkd for the lab NICs, which ifupdown
// does not name (Preconditions says so to a student).
func FormFor(osFamily, owner string) string {
	switch owner {
	case OwnerNetworkManager:
		return RHEL
	case OwnerNetworkd, OwnerNetplan, OwnerIfupdown:
		return Debian
	}
	return osFamily
}

// OwnerProbe is a shell command that prints the guest's network owner, one
// word (see ParseOwner), with the shell's own tests and at most one
// systemctl: the first of NetworkManager running, netplan files,
// systemd-networkd enabled or running, ifupdown's interfaces naming a NIC.
const OwnerProbe = `lvslab_o=none
if [ -d /run/NetworkManager ] && systemctl is-active -q NetworkManager 2>/dev/null; then lvslab_o=` + OwnerNetworkManager + `
else
	for f in /etc/netplan/*.yaml; do [ -f "$f" ] && lvslab_o=` + OwnerNetplan + ` && break; done
	if [ "$lvslab_o" = none ]; then
		if [ -e /etc/systemd/system/multi-user.target.wants/systemd-networkd.service ] || [ -d /run/systemd/netif/links ]; then lvslab_o=` + OwnerNetworkd + `
		elif [ -f /etc/network/interfaces ] && [ -e /sbin/ifup ]; then
			while read -r w n _; do case $w:$n in iface:lo | iface:) ;; iface:*) lvslab_o=` + OwnerIfupdown + ` ;; esac; done </etc/network/interfaces
			for f in /etc/network/interfaces.d/*; do [ -f "$f" ] && while read -r w n _; do case $w:$n in iface:lo | iface:) ;; iface:*) lvslab_o=` + OwnerIfupdown + ` ;; esac; done <"$f"; done
		fi
	fi
fi
echo "$lvslab_o"`

// ParseOwner reads what OwnerProbe printed; "" when it is no owner.
func ParseOwner(out string) string {
	switch o := strings.TrimSpace(out); o {
	case OwnerNetworkManager, OwnerNetworkd, OwnerNetplan, OwnerIfupdown, OwnerNone:
		return o
	}
	return ""
}

// NICNameSteps give a guest whose image names its NICs its own way (the
// kernel's predictable ens3, ens4, or eth0, eth1 in another order) the
// lab's names, by MAC: now (a lab NIC carries no SSH: renaming it, down,
// cuts nothing) and from the next boot on (udev applies the .link files in
// every systemd distribution; byte-identical to the Debian steps' own).
// lvslab's own image names them so at its first boot and needs none of it.
func NICNameSteps(st *roles.NodeState) []Step {
	var out []Step
	var checks, renames []string
	for i, nic := range st.NICs {
		f := linkFile(nic)
		out = append(out, Step{Name: "name " + nic.Name, Comment: "the NIC with MAC " + nic.MAC + " is called " + nic.Name + " (from the next boot on)", File: &f})
		checks = append(checks, `{ lvslab_a=; read -r lvslab_a 2>/dev/null <"$lvslab_net/`+nic.Name+`/address"; [ "$lvslab_a" = `+nic.MAC+` ]; }`)
		// The NIC of that MAC, whatever its name; one that holds the lab's
		// name already moves aside first (a later round finds it by its MAC).
		renames = append(renames, `lvslab_d=; for d in "$lvslab_net"/*; do read -r a <"$d/address" 2>/dev/null && [ "$a" = `+nic.MAC+` ] && lvslab_d=${d##*/}; done
if [ -n "$lvslab_d" ] && [ "$lvslab_d" != `+nic.Name+` ]; then
	if [ -e "$lvslab_net/`+nic.Name+`" ]; then ip link set `+nic.Name+` down && ip link set `+nic.Name+` name lvslab`+strconv.Itoa(i)+`; fi
	ip link set "$lvslab_d" down && ip link set "$lvslab_d" name `+nic.Name+`
fi`)
	}
	const net = `lvslab_net=${LVSLAB_SYSNET:-/sys/class/net}; `
	return append(out, Step{
		Name:    "NIC names",
		Comment: "each lab NIC has the lab's name now, found by its MAC",
		Check:   net + strings.Join(checks, " && "),
		Apply:   []string{net + strings.Join(renames, "\n")},
	})
}

// ifupdownHandover: on a guest whose ifupdown runs, the lab NICs go to
// systemd-networkd (the Debian form) and ifupdown lets go of them: a
// stanza of its for a lab NIC (the image's DHCP one, say) is taken down and
// commented out with its options, so that no two managers hold one NIC.
// ifupdown keeps what else it has (lo, mgmt0 as cloud-init wrote it).
func ifupdownHandover(st *roles.NodeState) Step {
	var names []string
	for _, nic := range st.NICs {
		names = append(names, nic.Name)
	}
	files := "/etc/network/interfaces /etc/network/interfaces.d/*"
	return Step{
		Name:    "ifupdown lets go",
		Comment: "ifupdown names none of " + strings.Join(names, ", ") + ": systemd-networkd holds them",
		Check:   `! grep -Eqs '^[[:space:]]*(auto|allow-[a-z-]+|iface)[[:space:]]+(` + strings.Join(names, "|") + `)([[:space:]]|$)' ` + files,
		Apply: []string{
			"for n in " + strings.Join(names, " ") + `; do ifdown --force "$n" >/dev/null 2>&1 || true; done`,
			"for f in " + files + `; do [ -f "$f" ] || continue; awk -v nics=' ` + strings.Join(names, " ") + ` ' '` +
				`/^[ \t]*(iface|mapping|auto|allow-[a-z-]+|source|source-directory|source-dir)([ \t]|$)/ { skip = $1 !~ /^source/ && index(nics, " " $2 " ") > 0 } ` +
				`{ print (skip ? "# lvslab, systemd-networkd holds it: " : "") $0 }' "$f" >"$f.lvslab-tmp" && mv -f "$f.lvslab-tmp" "$f"; done`,
		},
	}
}
