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

{{template "put"}}

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

{{template "access" .}}
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
