package catalog

import (
	"strings"
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
		elif [ -f /etc/network/interfaces ] && [ -x /sbin/ifup ]; then
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
