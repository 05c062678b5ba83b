#!/bin/sh
# lvslab-init.sh: written by lvslab for node {{printf "%q" .Node}} of lab {{printf "%q" .Lab}}.
# lvslab's images run it from the seed volume at every boot, before networking
# and sshd start. It applies the seed only on the first boot of this instance
# (hostname, login key, pinned SSH host key, bootstrap network files) and
# records that in a marker; on later boots it does nothing, so that changes
# made since over SSH (addresses moved by "lvslab up" of another mode) survive
# a reboot.
set -eu
umask 022
SEED=${1:-$(dirname "$0")}
# LVSLAB_ROOT applies the seed to a root folder other than / (for tests).
R=${LVSLAB_ROOT:-}
IID={{sh .InstanceID}}
MARKDIR=$R/var/lib/lvslab
MARK=$MARKDIR/seeded-$IID

if [ -e "$MARK" ]; then
	echo "lvslab-init: instance $IID already seeded, nothing to do"
	exit 0
fi
echo "lvslab-init: seeding instance $IID from $SEED"

# put PATH MODE CONTENT: write a file with exactly CONTENT and MODE. This
# runs before sshd starts and every exec costs ~50 ms under QEMU TCG, so a
# new file of mode 0644 or 0600 is written by the shell alone (a crash
# before the marker below only means the seed is applied again); a file
# that exists, or of another mode, is replaced atomically.
put() {
	[ -d "$R${1%/*}" ] || mkdir -p "$R${1%/*}"
	if [ ! -e "$R$1" ] && [ ! -L "$R$1" ]; then
		case $2 in
		0644) printf '%s' "$3" >"$R$1"; return ;;
		0600) (umask 077 && printf '%s' "$3" >"$R$1"); return ;;
		esac
	fi
	printf '%s' "$3" >"$R$1.lvslab-tmp"
	chmod "$2" "$R$1.lvslab-tmp"
	mv -f "$R$1.lvslab-tmp" "$R$1"
}

# Identity of this clone.
if [ -z "$R" ] && [ ! -s /etc/machine-id ]; then
	systemd-machine-id-setup || true
fi
{{- if .Hostname}}
put /etc/hostname 0644 {{sh (printf "%s\n" .Hostname)}}
[ -n "$R" ] || hostname {{sh .Hostname}} 2>/dev/null || true
put /etc/hosts 0644 {{sh .Hosts}}
{{- else}}
# Bare: the image's own hostname, as a fresh clone has it.
{{- end}}

# Login: the lab's key for {{printf "%q" .User}}.
if [ -d "$R"{{sh .Home}}/.ssh ]; then chmod 0700 "$R"{{sh .Home}}/.ssh; else mkdir -m 0700 -p "$R"{{sh .Home}}/.ssh; fi
put {{sh .Home}}/.ssh/authorized_keys 0600 {{sh (printf "%s\n" .AuthorizedKey)}}
{{- if ne .User "root"}}
chown -R {{sh .User}}: "$R"{{sh .Home}}/.ssh 2>/dev/null || true
{{- end}}

# SSH host key: lvslab generated it and pinned it in the lab's known_hosts;
# sshd offers only this one.
rm -f "$R"/etc/ssh/ssh_host_*_key "$R"/etc/ssh/ssh_host_*_key.pub
put /etc/ssh/ssh_host_ed25519_key 0600 {{sh .HostKeyPrivate}}
put /etc/ssh/ssh_host_ed25519_key.pub 0644 {{sh (printf "%s\n" .HostKeyPublic)}}
put /etc/ssh/sshd_config.d/10-lvslab-hostkey.conf 0644 'HostKey /etc/ssh/ssh_host_ed25519_key
'
{{- range .Files}}
put {{sh .Path}} {{printf "%#o" .Mode}} {{sh .Content}}
{{- end}}
{{- if .Commands}}

# Activate what needs no running service; lvslab up redoes what fails here.
if [ -z "$R" ]; then
{{- range .Commands}}
	{ {{.}}; } || echo "lvslab-init: failed: "{{sh .}}
{{- end}}
fi
{{- end}}

mkdir -p "$MARKDIR"
: >"$MARK"
echo "lvslab-init: instance $IID seeded"
