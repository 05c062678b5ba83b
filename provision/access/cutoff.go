package access

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/progress"
)

// A node cut off: what keeps lvslab's SSH out of a running node, read
// through its guest agent (which needs no guest network), and the commands
// that undo it. The reading is one shell run in the guest (every process
// costs a tenth of a second under TCG), its sections parsed here.

// Cause is one reason lvslab's SSH cannot reach a node.
type Cause struct {
	Kind string `json:"kind"`
	// Text says it in words: "mgmt0 is down".
	Text string `json:"text"`
	// Fix is the shell command that undoes it in the guest, "" when lvslab
	// knows none.
	Fix string `json:"fix,omitempty"`
}

// The kinds of Cause.
const (
	CauseNoNIC        = "mgmt0-missing"
	CauseNICDown      = "mgmt0-down"
	CauseNoAddress    = "mgmt0-address"
	CauseSSHDStopped  = "sshd-stopped"
	CauseNotListening = "sshd-not-listening"
	CauseFirewall     = "firewall"
)

// Diagnosis is what a node's guest agent read of lvslab's way in.
type Diagnosis struct {
	Node string
	// Booting: systemd has not finished starting the guest, so its sshd
	// may not run yet; its causes are no student's doing (yet).
	Booting bool
	Causes  []Cause
}

// Texts are the causes' sentences, in order.
func (d *Diagnosis) Texts() []string {
	var out []string
	for _, c := range d.Causes {
		out = append(out, c.Text)
	}
	return out
}

// Summary is the causes as one clause: "mgmt0 is down and sshd is stopped".
func (d *Diagnosis) Summary() string { return progress.AndList(d.Texts()) }

// CutOff tells whether the diagnosis explains a node that does not answer:
// it booted, and something lvslab knows keeps its SSH out.
func (d *Diagnosis) CutOff() bool { return d != nil && !d.Booting && len(d.Causes) > 0 }

// diagnoseScript reads, in one shell, what lvslab's way in depends on:
// mgmt0's flags and IPv4 addresses, whether systemd finished booting, sshd's
// unit (Debian's ssh, RHEL's sshd), the TCP listeners and the firewall
// (nft's ruleset with rule handles; iptables-save where nft is missing;
// the legacy iptables beside it). Builtins read files: no cat.
const diagnoseScript = `PATH=/usr/sbin:/usr/bin:/sbin:/bin
echo '## flags'; read -r f </sys/class/net/` + host.MgmtNIC + `/flags 2>/dev/null && echo "$f"
echo '## addr'; ip -o -4 address show dev ` + host.MgmtNIC + ` 2>/dev/null
echo '## system'; systemctl is-system-running 2>/dev/null
echo '## sshd'; systemctl is-active ssh.service sshd.service 2>/dev/null
echo '## tcp'; for t in /proc/net/tcp /proc/net/tcp6; do [ -r $t ] && while read -r l; do echo "$l"; done <$t; done
if command -v nft >/dev/null; then echo '## nft'; nft -a list ruleset 2>&1
elif command -v iptables-save >/dev/null; then echo '## iptables'; iptables-save 2>&1; fi
if command -v iptables-legacy-save >/dev/null; then echo '## iptables-legacy'; iptables-legacy-save 2>&1; fi
true
`

// sections splits the script's output by its "## name" lines.
func sections(out string) map[string][]string {
	s := map[string][]string{}
	name := ""
	for _, line := range strings.Split(out, "\n") {
		if n, ok := strings.CutPrefix(line, "## "); ok {
			name = n
			s[name] = []string{}
			continue
		}
		if name != "" && strings.TrimSpace(line) != "" {
			s[name] = append(s[name], line)
		}
	}
	return s
}

// parseDiagnosis judges the script's output for node, whose management
// address is mgmt (a prefix, "10.250.0.12/24").
func parseDiagnosis(node, mgmt, out string) *Diagnosis {
	s := sections(out)
	d := &Diagnosis{Node: node}
	if sys := s["system"]; len(sys) > 0 && (sys[0] == "starting" || sys[0] == "initializing") {
		d.Booting = true
	}
	d.Causes = append(d.Causes, nicCauses(s["flags"], s["addr"], mgmt)...)
	d.Causes = append(d.Causes, sshdCauses(s["sshd"], s["tcp"])...)
	d.Causes = append(d.Causes, nftCauses(s["nft"])...)
	d.Causes = append(d.Causes, iptablesCauses("iptables", s["iptables"])...)
	d.Causes = append(d.Causes, iptablesCauses("iptables-legacy", s["iptables-legacy"])...)
	return d
}

// nicCauses: mgmt0 missing, down (IFF_UP clear in its flags) or without
// its address.
func nicCauses(flags, addrs []string, mgmt string) []Cause {
	nic := host.MgmtNIC
	if len(flags) == 0 {
		return []Cause{{Kind: CauseNoNIC, Text: "it has no NIC named " + nic}}
	}
	var out []Cause
	if f, err := strconv.ParseUint(strings.TrimPrefix(flags[0], "0x"), 16, 32); err == nil && f&1 == 0 {
		out = append(out, Cause{Kind: CauseNICDown, Text: nic + " is down", Fix: "ip link set " + nic + " up"})
	}
	if mgmt != "" && !strings.Contains(strings.Join(addrs, "\n"), " inet "+mgmt+" ") {
		out = append(out, Cause{Kind: CauseNoAddress, Text: fmt.Sprintf("%s lacks its address %s", nic, mgmt),
			Fix: fmt.Sprintf("ip address replace %s dev %s", mgmt, nic)})
	}
	return out
}

// sshdCauses: sshd neither active nor listening on port 22 (a socket
// activated sshd is inactive and listens), or active and not listening.
func sshdCauses(units, tcp []string) []Cause {
	active, failed := false, false
	for _, u := range units {
		active = active || u == "active" || u == "reloading" || u == "activating"
		failed = failed || u == "failed"
	}
	listening := false
	for _, l := range tcp {
		f := strings.Fields(l)
		listening = listening || (len(f) > 3 && strings.HasSuffix(f[1], ":0016") && f[3] == "0A")
	}
	switch {
	case listening:
		return nil
	case active:
		return []Cause{{Kind: CauseNotListening, Text: "sshd runs but does not listen on port 22"}}
	case failed:
		return []Cause{{Kind: CauseSSHDStopped, Text: "sshd failed", Fix: startSSHD}}
	}
	return []Cause{{Kind: CauseSSHDStopped, Text: "sshd is stopped", Fix: startSSHD}}
}

// startSSHD starts Debian's ssh unit, or RHEL's sshd.
const startSSHD = "systemctl start ssh.service 2>/dev/null || systemctl start sshd.service"

// A firewall rule against lvslab's way in: one that drops or rejects what
// comes to port 22 or in on mgmt0 (input, prerouting), or what leaves from
// port 22 or out on mgmt0 (output, postrouting); and a base chain whose
// policy drops with no rule that accepts that traffic.
var (
	nftIn      = regexp.MustCompile(`(?:\bdport\s+(?:22|ssh)\b|\bdport\s+\{[^}]*\b(?:22|ssh)\b[^}]*\}|\biif(?:name)?\s+"?` + host.MgmtNIC + `"?)`)
	nftOut     = regexp.MustCompile(`(?:\bsport\s+(?:22|ssh)\b|\bsport\s+\{[^}]*\b(?:22|ssh)\b[^}]*\}|\boif(?:name)?\s+"?` + host.MgmtNIC + `"?)`)
	nftBlock   = regexp.MustCompile(`\b(?:drop|reject)\b`)
	nftAccept  = regexp.MustCompile(`\baccept\b`)
	nftHandle  = regexp.MustCompile(`\s*# handle (\d+)$`)
	nftCounter = regexp.MustCompile(`\s*counter packets \d+ bytes \d+`)
	nftHook    = regexp.MustCompile(`\bhook (\w+)`)
	nftPolicy  = regexp.MustCompile(`\bpolicy (\w+)`)
	iptIn      = regexp.MustCompile(`(?:--dports? (?:\S*,)?(?:22|ssh)(?:,\S*)?(?:\s|$)|-i ` + host.MgmtNIC + `(?:\s|$))`)
	iptOut     = regexp.MustCompile(`(?:--sports? (?:\S*,)?(?:22|ssh)(?:,\S*)?(?:\s|$)|-o ` + host.MgmtNIC + `(?:\s|$))`)
	iptBlock   = regexp.MustCompile(`-j (?:DROP|REJECT)\b`)
)

// direction is how a hook sees lvslab's SSH: "in" (input, prerouting),
// "out" (output, postrouting), "" (not at all).
func direction(hook string) string {
	switch strings.ToLower(hook) {
	case "input", "prerouting":
		return "in"
	case "output", "postrouting":
		return "out"
	}
	return ""
}

// nftChain is one chain of an nft ruleset as parseNft walks it.
type nftChain struct {
	family, table, name string
	dir, policy         string
	accepts             bool // a rule accepts lvslab's SSH
}

func (c *nftChain) ref() string { return c.family + " " + c.table + " " + c.name }

// nftCauses reads "nft -a list ruleset".
func nftCauses(lines []string) []Cause {
	var out []Cause
	var table []string
	var ch *nftChain
	for _, raw := range lines {
		line := strings.TrimSpace(nftHandle.ReplaceAllString(raw, ""))
		handle := ""
		if m := nftHandle.FindStringSubmatch(raw); m != nil {
			handle = m[1]
		}
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "table":
			table = f[1:3]
		case len(f) >= 2 && f[0] == "chain" && len(table) == 2:
			ch = &nftChain{family: table[0], table: table[1], name: f[1]}
		case ch != nil && strings.HasPrefix(line, "type ") && nftHook.MatchString(line):
			ch.dir = direction(nftHook.FindStringSubmatch(line)[1])
			if m := nftPolicy.FindStringSubmatch(line); m != nil {
				ch.policy = m[1]
			}
		case line == "}" && ch != nil:
			out = append(out, ch.policyCause()...)
			ch = nil
		case ch != nil && handle != "":
			out = append(out, ch.rule(line, handle)...)
		}
	}
	return out
}

// rule judges one rule of the chain.
func (c *nftChain) rule(rule, handle string) []Cause {
	match := nftIn
	if c.dir == "out" {
		match = nftOut
	}
	if c.dir == "" || !match.MatchString(rule) || strings.Contains(rule, "!=") {
		return nil
	}
	if nftAccept.MatchString(rule) {
		c.accepts = true
		return nil
	}
	if !nftBlock.MatchString(rule) {
		return nil
	}
	shown := nftCounter.ReplaceAllString(rule, "")
	return []Cause{{Kind: CauseFirewall, Text: fmt.Sprintf("the nft rule %q in %s blocks port 22", shown, c.ref()),
		Fix: fmt.Sprintf("nft delete rule %s handle %s", c.ref(), handle)}}
}

// policyCause: a chain that drops by default and accepts nothing of
// lvslab's SSH.
func (c *nftChain) policyCause() []Cause {
	if c.dir == "" || c.policy != "drop" || c.accepts {
		return nil
	}
	allow := `iifname "` + host.MgmtNIC + `" tcp dport 22 accept`
	if c.dir == "out" {
		allow = `oifname "` + host.MgmtNIC + `" tcp sport 22 accept`
	}
	return []Cause{{Kind: CauseFirewall, Text: fmt.Sprintf("the nft chain %s drops by default and accepts nothing on port 22", c.ref()),
		Fix: fmt.Sprintf("nft insert rule %s %s", c.ref(), allow)}}
}

// iptablesCauses reads iptables-save's output; tool ("iptables",
// "iptables-legacy") is the command that undoes a rule.
func iptablesCauses(tool string, lines []string) []Cause {
	var out []Cause
	table := ""
	policies := map[string]string{}
	accepts := map[string]bool{}
	for _, line := range lines {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case strings.HasPrefix(line, ":") && len(f) >= 2:
			policies[table+" "+f[0][1:]] = f[1]
		case len(f) >= 2 && f[0] == "-A":
			chain, spec := f[1], strings.Join(f[2:], " ")
			match := iptIn
			if direction(chain) == "out" {
				match = iptOut
			}
			if direction(chain) == "" || !match.MatchString(spec+" ") || strings.Contains(spec, "! ") {
				continue
			}
			if strings.Contains(spec, "-j ACCEPT") {
				accepts[table+" "+chain] = true
			} else if iptBlock.MatchString(spec) {
				out = append(out, Cause{Kind: CauseFirewall, Text: fmt.Sprintf("the %s rule %q in table %s blocks port 22", tool, line, table),
					Fix: fmt.Sprintf("%s -t %s -D %s %s", tool, table, chain, spec)})
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(policies)) {
		table, chain, _ := strings.Cut(key, " ")
		if policies[key] != "DROP" || accepts[key] || direction(chain) == "" {
			continue
		}
		allow := "-i " + host.MgmtNIC + " -p tcp --dport 22 -j ACCEPT"
		if direction(chain) == "out" {
			allow = "-o " + host.MgmtNIC + " -p tcp --sport 22 -j ACCEPT"
		}
		out = append(out, Cause{Kind: CauseFirewall, Text: fmt.Sprintf("the %s chain %s of table %s drops by default and accepts nothing on port 22", tool, chain, table),
			Fix: fmt.Sprintf("%s -t %s -I %s %s", tool, table, chain, allow)})
	}
	return out
}

// repairScript undoes d's causes that have a fix, firewall first (the
// rule handles were read before anything changed), then the NIC, then
// sshd; it exits 1 when a fix failed, with the failures on stderr.
func repairScript(d *Diagnosis) string {
	order := []string{CauseFirewall, CauseNICDown, CauseNoAddress, CauseSSHDStopped}
	var b strings.Builder
	b.WriteString("PATH=/usr/sbin:/usr/bin:/sbin:/bin\nfail=0\n")
	n := 0
	for _, kind := range order {
		for _, c := range d.Causes {
			if c.Kind != kind || c.Fix == "" {
				continue
			}
			fmt.Fprintf(&b, "{ %s; } || { echo %s >&2; fail=1; }\n", c.Fix, shellQuote("could not undo: "+c.Text))
			n++
		}
	}
	if n == 0 {
		return ""
	}
	b.WriteString("exit $fail\n")
	return b.String()
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
