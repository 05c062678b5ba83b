#!/bin/sh
# lvslab-console.sh: written by lvslab for node {{printf "%q" .Node}} of lab {{printf "%q" .Lab}}.
# lvslab types it into the serial console of a VM whose image has neither
# cloud-init nor lvslab's agent, logged in with the lab file's login, the
# way a classroom's student pastes a setup. It names the NIC with the
# management MAC {{.MgmtNIC}}, gives it its static address through the network
# manager the guest runs, installs the lab's login key and the SSH host key
# lvslab pinned, and restarts sshd. Running it again changes nothing more.
set -u
umask 022
# LVSLAB_ROOT applies it to a root folder other than / (for tests).
R=${LVSLAB_ROOT:-}
MAC={{sh .MgmtMAC}}
NIC={{sh .MgmtNIC}}
ADDR={{sh .MgmtAddr}}

{{template "put"}}

# The NIC with the management MAC is $NIC: now, and from the next boot on
# (a .link file, which udev applies in every systemd distribution).
for d in "$R"/sys/class/net/*; do
	[ -r "$d/address" ] || continue
	read -r a <"$d/address" || continue
	if [ "$a" = "$MAC" ] && [ "${d##*/}" != "$NIC" ]; then
		ip link set "${d##*/}" down && ip link set "${d##*/}" name "$NIC" || exit 1
	fi
done
put {{sh .MgmtLink.Path}} 0644 {{sh .MgmtLink.Content}}

# Its address, through the one network manager the guest runs: no second
# manager on any NIC.
if systemctl is-active -q NetworkManager 2>/dev/null; then
	echo "lvslab-console: $NIC through NetworkManager"
	nmcli connection delete "$NIC" >/dev/null 2>&1
	nmcli connection add type ethernet con-name "$NIC" ifname "$NIC" connection.autoconnect yes \
		ipv4.method manual ipv4.addresses "$ADDR" ipv4.never-default yes ipv6.method ignore >/dev/null || exit 1
	nmcli connection up "$NIC" >/dev/null || exit 1
elif ! systemctl is-enabled -q systemd-networkd 2>/dev/null && command -v ifup >/dev/null 2>&1 && [ -f "$R"/etc/network/interfaces ]; then
	echo "lvslab-console: $NIC through ifupdown"
	put /etc/network/interfaces.d/lvslab-$NIC 0644 "# lvslab: $NIC carries lvslab's SSH only: static address, no gateway
auto $NIC
iface $NIC inet static
	address $ADDR
"
	ifup "$NIC" || exit 1
else
	echo "lvslab-console: $NIC through systemd-networkd"
	put {{sh .MgmtNetwork.Path}} 0644 {{sh .MgmtNetwork.Content}}
	systemctl enable -q systemd-networkd && systemctl restart systemd-networkd || exit 1
fi

{{template "access" .}}
# Under SELinux a file a shell writes takes its folder's context, and sshd
# refuses keys of the wrong one: give the new files their own.
if command -v restorecon >/dev/null 2>&1; then
	restorecon -R "$R"{{sh .Home}}/.ssh "$R"/etc/ssh || true
fi
# sshd reads its host keys when it starts (Debian's unit is ssh, RHEL's sshd).
if systemctl cat ssh.service >/dev/null 2>&1; then u=ssh; else u=sshd; fi
systemctl enable -q "$u" && systemctl restart "$u" || exit 1
echo "lvslab-console: done"
