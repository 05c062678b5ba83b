package catalog

import (
	"regexp"
	"strings"
)

// A helper is a shell function that checks call, so that a check reads as
// what it tests ("lvslab_listening tcp 80") in a handout and in an error.
// Whatever runs a check defines the helpers it calls first: the survey's
// script, a check run alone, a handout's script.
type helper struct {
	name string
	def  string // its comment and definition, POSIX sh
}

var helpers = []helper{
	{"lvslab_listening", `# lvslab_listening tcp|udp PORT: a TCP socket listens on PORT (a UDP one is
# bound to it), IPv4 or IPv6, as "ss -Htln 'sport = :PORT'" (-Huln) lists it,
# read by the shell from the kernel's tables /proc/net/tcp and tcp6 (udp,
# udp6): field 2 the local address:port in hex, field 4 the state, 0A
# LISTEN, 07 an unconnected UDP socket. (ss loads the kernel's sock_diag
# modules on its first run: tenths of a second in an emulated guest.)
lvslab_listening() {
	lvslab_state=0A
	[ "$1" = tcp ] || lvslab_state=07
	for lvslab_f in "/proc/net/$1" "/proc/net/${1}6"; do
		[ -e "$lvslab_f" ] || continue
		while read -r lvslab_sl lvslab_local lvslab_rem lvslab_st lvslab_rest; do
			[ "$lvslab_st" = "$lvslab_state" ] && [ $((0x${lvslab_local##*:})) = "$2" ] && return 0
		done <"$lvslab_f"
	done
	return 1
}`},
	{"lvslab_installed", `# lvslab_installed PACKAGE...: each package is installed, once, as
# "dpkg-query -W -f='${db:Status-Status}' PACKAGE" says it: read by awk from
# dpkg's status file, a paragraph per package, "Package: NAME" first, then
# "Status: WANT FLAG STATE" (dpkg-query takes tenths of a second on its first
# run in an emulated guest). A dpkg run cut short leaves its journal in
# /var/lib/dpkg/updates (0000 first), which only dpkg reads: then dpkg-query.
lvslab_installed() {
	if [ -e /var/lib/dpkg/updates/0000 ]; then
		lvslab_want=
		for lvslab_p; do lvslab_want="${lvslab_want}installed "; done
		[ "$(dpkg-query -W -f='${db:Status-Status} ' "$@" 2>/dev/null)" = "$lvslab_want" ]
		return
	fi
	awk -v RS= -F '\n' -v want="$*" '
		BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) state["Package: " w[i]] = "" }
		$1 in state { for (i = 2; i <= NF; i++) if ($i ~ /^Status: /) { k = split($i, f, " "); state[$1] = state[$1] f[k] " " } }
		END { for (p in state) if (state[p] != "installed ") exit 1 }' ` + DpkgStatus + `
}`},
}

// DpkgStatus is dpkg's database of the packages' states.
const DpkgStatus = "/var/lib/dpkg/status"

var helperCall = regexp.MustCompile(`\blvslab_[a-z]+\b`)

// Helpers is the definitions of the helpers the checks call, each once, in
// a fixed order; "" when they call none.
func Helpers(checks ...string) string {
	called := map[string]bool{}
	for _, c := range checks {
		for _, name := range helperCall.FindAllString(c, -1) {
			called[name] = true
		}
	}
	var defs []string
	for _, h := range helpers {
		if called[h.name] {
			defs = append(defs, h.def)
		}
	}
	if len(defs) == 0 {
		return ""
	}
	return strings.Join(defs, "\n\n") + "\n"
}

// StepChecks lists the steps' checks.
func StepChecks(steps []Step) []string {
	var out []string
	for _, s := range steps {
		if s.Check != "" {
			out = append(out, s.Check)
		}
	}
	return out
}
