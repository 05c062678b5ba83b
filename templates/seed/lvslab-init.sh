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

# put PATH MODE CONTENT: write a file atomically with exactly CONTENT.
put() {
	mkdir -p "$(dirname "$R$1")"
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
mkdir -p "$R"{{sh .Home}}/.ssh
chmod 0700 "$R"{{sh .Home}}/.ssh
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
