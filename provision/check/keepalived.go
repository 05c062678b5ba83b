package check

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/verify"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/roles/keepalived"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// The keepalived probe's sections: one read-only command on each node
// the lab runs keepalived on.
const (
	kaSecTest  = "keepalived-test"
	kaSecConf  = "keepalived-conf"
	kaSecUnits = "keepalived-units"
	kaSecData  = "keepalived-data"
	kaSecAddr  = "keepalived-addr"
	kaSecFiles = "keepalived-vip-files"
	kaSecFW    = "keepalived-firewall"
	kaSecIPVS  = "keepalived-ipvs"
)

// KeepalivedDataFile is where keepalived writes its state on SIGUSR1.
const KeepalivedDataFile = "/tmp/keepalived.data"

// keepalivedProbe reads what the facts of a keepalived node need: the
// config test (keepalived -t), the file, the units, keepalived's own
// view of its instances (SIGUSR1 makes it write its data file; it changes
// nothing), the addresses, the network files that could carry the VIP,
// and the firewall rules.
func keepalivedProbe(vips []string, director bool) *guest.Probe {
	p := guest.NewProbe()
	p.Section(kaSecTest, "keepalived -t -f "+keepalived.Path+" 2>&1; echo \"rc=$?\"")
	p.Section(kaSecConf, "cat "+keepalived.Path+" 2>/dev/null")
	p.Section(kaSecUnits, "for u in keepalived "+catalog.IPVSUnit+" ipvsadm firewalld; do echo \"$u $(systemctl is-active $u 2>/dev/null) $(systemctl is-enabled $u 2>/dev/null)\"; done")
	p.Section(kaSecData, "rm -f "+KeepalivedDataFile+"; if pid=$(cat /run/keepalived.pid 2>/dev/null) && kill -USR1 \"$pid\" 2>/dev/null; then for i in 1 2 3 4 5 6 7 8 9 10; do [ -s "+KeepalivedDataFile+" ] && break; sleep 0.2; done; cat "+KeepalivedDataFile+" 2>/dev/null; fi")
	p.Section(kaSecAddr, "ip -4 -o addr show")
	if len(vips) > 0 {
		p.Section(kaSecFiles, "grep -rlsF -e "+strings.Join(vips, " -e ")+" /etc/systemd/network /etc/network/interfaces /etc/network/interfaces.d /etc/sysconfig/network-scripts /etc/NetworkManager/system-connections /etc/systemd/system/"+catalog.VIPUnit+" 2>/dev/null; true")
	}
	p.Section(kaSecFW, "{ nft list ruleset 2>/dev/null; iptables-save 2>/dev/null; } | grep -iE 'vrrp|112|policy drop|^:INPUT DROP' ; true")
	if director {
		p.Section(kaSecIPVS, ipvs.SaveCommand+" 2>&1; true")
	}
	return p
}

// kaBlock is one keyword of keepalived.conf with its words and, when it
// opens a block, what the block holds.
type kaBlock struct {
	Key      string
	Args     []string
	Children []*kaBlock
}

// parseKeepalivedConf reads keepalived.conf's keywords and blocks: "!"
// and "#" start a comment, braces open and close blocks (a brace may
// stand on its keyword's line or alone).
func parseKeepalivedConf(text string) []*kaBlock {
	var toks []string
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexAny(line, "!#"); i >= 0 {
			line = line[:i]
		}
		line = strings.NewReplacer("{", " { ", "}", " } ").Replace(line)
		toks = append(toks, strings.Fields(line)...)
		toks = append(toks, "\n")
	}
	root := &kaBlock{}
	stack := []*kaBlock{root}
	var cur *kaBlock
	for _, t := range toks {
		top := stack[len(stack)-1]
		switch t {
		case "\n":
			cur = nil
		case "{":
			if cur == nil { // a block with no keyword (virtual_ipaddress's lines)
				cur = &kaBlock{}
				top.Children = append(top.Children, cur)
			}
			stack = append(stack, cur)
			cur = nil
		case "}":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			cur = nil
		default:
			if cur == nil {
				cur = &kaBlock{Key: t}
				top.Children = append(top.Children, cur)
			} else {
				cur.Args = append(cur.Args, t)
			}
		}
	}
	return root.Children
}

func (b *kaBlock) find(key string) *kaBlock {
	for _, c := range b.Children {
		if strings.EqualFold(c.Key, key) {
			return c
		}
	}
	return nil
}

func (b *kaBlock) arg(key string) string {
	if c := b.find(key); c != nil && len(c.Args) > 0 {
		return c.Args[0]
	}
	return ""
}

// kaInstance is a vrrp_instance of the student's file.
type kaInstance struct {
	Name, State, Interface string
	VRID, Priority         int
	VIPs                   []string
}

func instancesOf(conf []*kaBlock) []kaInstance {
	var out []kaInstance
	for _, b := range conf {
		if b.Key != "vrrp_instance" {
			continue
		}
		in := kaInstance{State: strings.ToUpper(b.arg("state")), Interface: b.arg("interface")}
		if len(b.Args) > 0 {
			in.Name = b.Args[0]
		}
		in.VRID, _ = strconv.Atoi(b.arg("virtual_router_id"))
		in.Priority, _ = strconv.Atoi(b.arg("priority"))
		if v := b.find("virtual_ipaddress"); v != nil {
			for _, c := range v.Children {
				if c.Key != "" {
					in.VIPs = append(in.VIPs, strings.Split(c.Key, "/")[0])
				}
			}
		}
		out = append(out, in)
	}
	return out
}

// checkersOf maps "RIP:port" of each real_server of the virtual server
// vs ("VIP PORT" or "fwmark N") to its checker keywords.
func checkersOf(conf []*kaBlock, vs string) (map[string][]string, bool) {
	for _, b := range conf {
		if b.Key != "virtual_server" || strings.Join(b.Args, " ") != vs {
			continue
		}
		out := map[string][]string{}
		for _, c := range b.Children {
			if c.Key != "real_server" {
				continue
			}
			var checks []string
			for _, k := range c.Children {
				if strings.HasSuffix(k.Key, "_CHECK") || k.Key == "HTTP_GET" || k.Key == "SSL_GET" {
					checks = append(checks, k.Key)
				}
			}
			out[strings.Join(c.Args, ":")] = checks
		}
		return out, true
	}
	return nil, false
}

// kaData is keepalived's own view of an instance (its data file).
type kaData struct {
	State    string
	VRID     int
	Priority int
}

// parseKeepalivedData reads the "VRRP Instance = NAME" paragraphs of
// keepalived's data file: "State = MASTER", "Virtual Router ID = 51",
// "Priority = 100".
func parseKeepalivedData(text string) map[string]kaData {
	out := map[string]kaData{}
	var name string
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " = ")
		if !ok {
			continue
		}
		switch k {
		case "VRRP Instance":
			name = v
			out[name] = kaData{}
		case "State", "Virtual Router ID", "Priority":
			if name == "" {
				continue
			}
			d := out[name]
			switch k {
			case "State":
				if d.State == "" {
					d.State = strings.ToUpper(v)
				}
			case "Virtual Router ID":
				d.VRID, _ = strconv.Atoi(v)
			case "Priority":
				if d.Priority == 0 {
					d.Priority, _ = strconv.Atoi(v)
				}
			}
			out[name] = d
		}
	}
	return out
}

// keepalivedFacts appends the keepalived facts of every node the lab runs
// keepalived on to its report (nodes that could be read), then the facts
// across routers: one MASTER of each instance.
func keepalivedFacts(ctx context.Context, lab *topology.Lab, dial guest.Dialer, states []*roles.NodeState, nodes []NodeReport, labRef string) {
	masters := map[string][]string{} // instance -> nodes that say MASTER
	for i, st := range states {
		if st.Keepalived == "" || nodes[i].Error != "" {
			continue
		}
		x, err := dial(st.Name)
		if err != nil {
			nodes[i].Error = err.Error()
			continue
		}
		s := newSubject(lab, st, nodes[i].OS, labRef)
		facts, state := s.keepalivedNode(ctx, x)
		nodes[i].Facts = append(nodes[i].Facts, facts...)
		for in, d := range state {
			if d == topology.StateMaster {
				masters[in] = append(masters[in], st.Name)
			}
		}
	}
	for _, in := range keepalived.Instances(lab) {
		for i, st := range states {
			r := in.Keepalived.Router(st.Name)
			if r == nil || nodes[i].Error != "" {
				continue
			}
			s := newSubject(lab, st, nodes[i].OS, labRef)
			m := masters[in.Name]
			ok := len(m) == 1
			got := "MASTER: " + strings.Join(m, ", ")
			if len(m) == 0 {
				got = "no router is MASTER"
			}
			hint := ""
			switch {
			case len(m) > 1:
				hint = fmt.Sprintf("%s are all MASTER of virtual_router_id %d: each holds the VIP and answers its ARP, so the client's requests go to whichever answered last (split brain). They do not hear each other's adverts: VRRP (IP protocol 112) is dropped by a firewall, or virtual_router_id, authentication or the interface differ between them", strings.Join(m, " and "), in.Keepalived.VRID)
			case len(m) == 0:
				hint = fmt.Sprintf("no router is MASTER of virtual_router_id %d: nobody holds the VIP %s, so every request to it fails; start keepalived (systemctl enable --now keepalived) and read journalctl -u keepalived for FAULT (an interface that is down or named wrong)", in.Keepalived.VRID, vipList(in))
			}
			nodes[i].Facts = append(nodes[i].Facts, s.fact("one MASTER of "+in.Name+" (VRID "+strconv.Itoa(in.Keepalived.VRID)+")", "exactly one router MASTER", got, ok, hint, named("keepalived")))
		}
	}
}

func vipList(in *keepalived.Instance) string {
	var v []string
	for _, p := range in.VIPs {
		v = append(v, p.Addr().String())
	}
	return strings.Join(v, ", ")
}

// keepalivedNode reads one keepalived node and judges its facts; it
// returns the instances' live states by the lab's instance name.
func (s *subject) keepalivedNode(ctx context.Context, x guest.Executor) ([]Fact, map[string]string) {
	mine := []*keepalived.Instance{}
	var vips []string
	for _, in := range keepalived.Instances(s.lab) {
		if in.Keepalived.Router(s.st.Name) != nil {
			mine = append(mine, in)
			for _, p := range in.VIPs {
				vips = append(vips, p.Addr().String())
			}
		}
	}
	p := keepalivedProbe(vips, s.st.KeepalivedIPVS())
	out, err := x.Run(ctx, p.Script())
	if err != nil {
		return []Fact{{Name: "keepalived", Status: report.Fail, Want: "readable", Got: err.Error(), Hint: "the node could not be read"}}, nil
	}
	a, err := p.Parse(out)
	if err != nil {
		return []Fact{{Name: "keepalived", Status: report.Fail, Want: "readable", Got: err.Error(), Hint: "the node's answer could not be read"}}, nil
	}
	facts, states := s.judgeKeepalived(mine, a.Text(kaSecTest), a.Text(kaSecConf), a.Lines(kaSecUnits), a.Text(kaSecData), a.Text(kaSecAddr), a.Lines(kaSecFiles), a.Lines(kaSecFW))
	if s.st.KeepalivedIPVS() {
		facts = append(facts, s.keepalivedTableFacts(a.Text(kaSecIPVS))...)
	}
	return facts, states
}

// keepalivedTableFacts: the live table of each keepalived service is the
// one keepalived programs from the lab's virtual_server, less the real
// servers its health check took out (named, not failed).
func (s *subject) keepalivedTableFacts(saved string) []Fact {
	rules, err := ipvs.ParseRules(saved)
	var out []Fact
	for _, svc := range s.lab.Services {
		if svc.Keepalived == nil || svc.Keepalived.Router(s.st.Name) == nil {
			continue
		}
		want := roles.IPVSService(s.lab, svc)
		name := "ipvs " + want.Key() + " is keepalived's"
		if err != nil {
			out = append(out, s.fact(name, "readable", strings.TrimSpace(saved), false, "the IPVS table cannot be read: is ipvsadm installed and keepalived running?", named("packages")))
			continue
		}
		diffs, removed := verify.KeepalivedTable(want, ipvs.Find(rules, want.Key()))
		got := "as keepalived.conf"
		if len(removed) > 0 {
			got += "; taken out by the health check: " + strings.Join(removed, ", ")
		}
		if len(diffs) > 0 {
			got = strings.Join(diffs, "; ")
		}
		out = append(out, s.fact(name, fmt.Sprintf("%s %s, %d real server(s)", want.Key(), want.SchedName, len(want.Destinations)), got, len(diffs) == 0,
			"keepalived programs IPVS from keepalived.conf on both routers (the backup too, so it can take over at once): rules added by hand sit beside keepalived's and a wrong lb_algo or weight is keepalived.conf's; clear the table (ipvsadm -C), fix the file and restart keepalived, never ipvsadm -A/-a by hand here", named("keepalived.conf")))
	}
	return out
}

// judgeKeepalived is pure: the facts of a keepalived node from what its
// probe read.
func (s *subject) judgeKeepalived(mine []*keepalived.Instance, test, confText string, units []string, data, addrs string, vipFiles, fw []string) ([]Fact, map[string]string) {
	var out []Fact
	confStep := named("keepalived.conf")
	unit := unitStates(units)
	ka := unit["keepalived"]
	out = append(out, s.fact("keepalived running and enabled", "active enabled", ka[0]+" "+ka[1], ka[0] == "active" && ka[1] == "enabled",
		"keepalived must run for VRRP to elect a MASTER and, on a director, to program the IPVS table; enabled, it comes back after a reboot: systemctl enable --now keepalived", named("keepalived")))
	out = append(out, s.confParses(test, confStep))

	conf := parseKeepalivedConf(confText)
	have := instancesOf(conf)
	live := parseKeepalivedData(data)
	states := map[string]string{}
	held := heldAddrs(addrs)
	for _, in := range mine {
		out = append(out, s.instanceFacts(in, have, live, held, vipFiles, states, confStep)...)
	}
	out = append(out, s.vrrpFacts(conf, fw, unit, confStep)...)
	if s.st.KeepalivedIPVS() {
		out = append(out, s.keepalivedBootFacts(conf, unit)...)
	}
	return out, states
}

// unitStates reads "UNIT ACTIVE ENABLED" lines: each unit's two states.
func unitStates(units []string) map[string][2]string {
	unit := map[string][2]string{}
	for _, l := range units {
		f := strings.Fields(l)
		if len(f) >= 3 {
			unit[f[0]] = [2]string{f[1], f[2]}
		} else if len(f) > 0 {
			unit[f[0]] = [2]string{"unknown", "unknown"}
		}
	}
	return unit
}

// confParses judges keepalived -t's answer ("rc=N" and its errors).
func (s *subject) confParses(test string, confStep func(catalog.Step) bool) Fact {
	rc := ""
	var errs []string
	for _, l := range strings.Split(test, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "rc="); ok {
			rc = v
		} else if strings.TrimSpace(l) != "" {
			errs = append(errs, strings.TrimSpace(l))
		}
	}
	got := "keepalived -t exits " + rc
	if len(errs) > 0 {
		got += ": " + strings.Join(errs[:min(3, len(errs))], "; ")
	}
	return s.fact("keepalived.conf parses", "keepalived -t exits 0", got, rc == "0",
		"keepalived -t -f "+keepalived.Path+" finds errors: keepalived skips what it cannot read (an unknown keyword, a brace missing), so an instance or a virtual server may be missing; fix the lines it names (the course's nb_get_retry is retry in keepalived 2.x)", confStep)
}

// heldAddrs are the addresses "ip addr" shows.
func heldAddrs(addrs string) map[string]bool {
	held := map[string]bool{}
	for _, l := range strings.Split(addrs, "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				held[strings.Split(f[i+1], "/")[0]] = true
			}
		}
	}
	return held
}

// instanceFacts judge one vrrp_instance of the lab on this node: the
// student's configuration of it, keepalived's view of it, and no VIP added
// by hand. states gets the instance's live state.
func (s *subject) instanceFacts(in *keepalived.Instance, have []kaInstance, live map[string]kaData, held map[string]bool, vipFiles []string, states map[string]string, confStep func(catalog.Step) bool) []Fact {
	var out []Fact
	k, r := in.Keepalived, in.Keepalived.Router(s.st.Name)
	name := "vrrp_instance VRID " + strconv.Itoa(k.VRID)
	want := fmt.Sprintf("state %s, virtual_router_id %d, priority %d, VIP %s", r.State, k.VRID, r.Priority, vipList(in))
	var student *kaInstance
	for i := range have {
		if have[i].VRID == k.VRID {
			student = &have[i]
		}
	}
	if student == nil {
		var ids []string
		for _, h := range have {
			ids = append(ids, fmt.Sprintf("%s VRID %d", h.Name, h.VRID))
		}
		out = append(out, s.fact(name, want, "no vrrp_instance with virtual_router_id "+strconv.Itoa(k.VRID)+" ("+strings.Join(ids, ", ")+")", false,
			fmt.Sprintf("both routers must share virtual_router_id %d on one segment: with another id each router is MASTER of its own virtual router and both hold the VIP", k.VRID), confStep))
	} else {
		var diffs []string
		if student.State != r.State {
			diffs = append(diffs, "state "+student.State)
		}
		if student.Priority != r.Priority {
			diffs = append(diffs, "priority "+strconv.Itoa(student.Priority))
		}
		for _, p := range in.VIPs {
			if !slices.Contains(student.VIPs, p.Addr().String()) {
				diffs = append(diffs, "no VIP "+p.Addr().String())
			}
		}
		out = append(out, s.fact(name, want, strings.Join(append([]string{student.Name}, diffs...), ", "), len(diffs) == 0,
			fmt.Sprintf("the election needs the lab's priorities: the higher priority (%d) is MASTER and holds the VIP, the lower one backs it up; equal priorities make the higher address win, a surprise; the VIP in virtual_ipaddress is what moves", k.Master().Priority), confStep))
	}
	// keepalived's own view: its state, and MASTER with the VIP held.
	var d *kaData
	for n, v := range live {
		if v.VRID == k.VRID || n == in.Name {
			d = &v
		}
	}
	stateGot := "unknown (no keepalived data: not running?)"
	ok := false
	if d != nil {
		stateGot, ok = d.State, d.State == topology.StateMaster || d.State == topology.StateBackup
		states[in.Name] = d.State
	}
	out = append(out, s.fact("instance state VRID "+strconv.Itoa(k.VRID), "MASTER or BACKUP", stateGot, ok,
		"an instance in FAULT holds nothing: its interface is down or not the one named in interface; an instance that does not run cannot take over when the master fails; journalctl -u keepalived says why", named("keepalived")))
	// No VIP by hand on a backup (live or in a network file).
	var byHand []string
	if d != nil && d.State == topology.StateBackup {
		for _, p := range in.VIPs {
			if held[p.Addr().String()] {
				byHand = append(byHand, p.Addr().String()+" is on this BACKUP")
			}
		}
	}
	for _, f := range vipFiles {
		if f = strings.TrimSpace(f); f != "" {
			byHand = append(byHand, "a VIP is in "+f)
		}
	}
	out = append(out, s.fact("no VIP added by hand", "the VIP only from keepalived", orNone(byHand), len(byHand) == 0,
		"keepalived adds the VIP on the MASTER only and moves it on failover; a VIP added by hand (ip addr add, an ifcfg or .network file, nmcli) stays on the backup too, so both answer ARP for it and the client's requests go to either: remove it (ip addr del VIP dev eth0, and from the file) and let keepalived add it", confStep))
	return out
}

// vrrpFacts: no vrrp_strict, and no firewall rule that drops VRRP.
func (s *subject) vrrpFacts(conf []*kaBlock, fw []string, unit map[string][2]string, confStep func(catalog.Step) bool) []Fact {
	var out []Fact
	// vrrp_strict and firewall rules that drop VRRP.
	strict := false
	for _, b := range conf {
		if b.Key == "global_defs" && b.find("vrrp_strict") != nil {
			strict = true
		}
	}
	out = append(out, s.fact("no vrrp_strict", "no vrrp_strict in global_defs", map[bool]string{true: "vrrp_strict", false: "none"}[strict], !strict,
		"vrrp_strict makes keepalived add firewall rules that drop every packet to the VIP (RFC 3768 says a VRRP address must not be reached), so the service answers nothing; it also refuses authentication: remove vrrp_strict from global_defs", confStep))
	var drops []string
	accepted, policyDrop := false, ""
	for _, l := range fw {
		u := strings.ToLower(l)
		vrrp := strings.Contains(u, "vrrp") || strings.Contains(u, " 112")
		switch {
		case vrrp && (strings.Contains(u, "drop") || strings.Contains(u, "reject")):
			drops = append(drops, strings.TrimSpace(l))
		case vrrp && strings.Contains(u, "accept"):
			accepted = true
		case strings.Contains(u, "hook input") && strings.Contains(u, "policy drop"), strings.HasPrefix(u, ":input drop"):
			policyDrop = strings.TrimSpace(l)
		}
	}
	if policyDrop != "" && !accepted {
		drops = append(drops, "input policy drop and no rule accepts vrrp: "+policyDrop)
	}
	if unit["firewalld"][0] == "active" && !accepted {
		drops = append(drops, "firewalld is active and no rule accepts vrrp (firewall-cmd --permanent --add-rich-rule='rule protocol value=\"vrrp\" accept'; firewall-cmd --reload)")
	}
	out = append(out, s.fact("VRRP not dropped by a firewall", "no rule drops IP protocol 112", orNone(drops), len(drops) == 0,
		"adverts (IP protocol 112 to 224.0.0.18) must reach the other router; dropped, the backup hears no master and becomes MASTER too (split brain, both hold the VIP): delete the rule, or allow vrrp (nft add rule inet filter input ip protocol vrrp accept)", named("firewalld")))

	return out
}

// keepalivedBootFacts, on a director whose IPVS table keepalived programs: the
// health checkers, and no unit that restores saved rules at boot.
func (s *subject) keepalivedBootFacts(conf []*kaBlock, unit map[string][2]string) []Fact {
	var out []Fact
	out = append(out, s.checkerFacts(conf)...)
	var boot []string
	for _, u := range []string{catalog.IPVSUnit, "ipvsadm"} {
		if unit[u][1] == "enabled" {
			boot = append(boot, u+" enabled")
		}
	}
	bootStep := named("ipvs boot unit off")
	if s.os == catalog.RHEL {
		bootStep = named("ipvs boot off")
	}
	out = append(out, s.fact("no IPVS rules restored at boot", "keepalived's table only", orNone(boot), len(boot) == 0,
		"a unit that restores saved rules at boot clears the table or adds the hand rules beside keepalived's (ipvsadm -C first, then the saved ones): keepalived programs the table itself; systemctl disable it and remove the saved rules", bootStep))
	return out
}

// checkerFacts: every real server of each keepalived service's
// virtual_server has the lab's health checker.
func (s *subject) checkerFacts(conf []*kaBlock) []Fact {
	var out []Fact
	for _, svc := range s.lab.Services {
		if svc.Keepalived == nil || svc.Keepalived.Router(s.st.Name) == nil {
			continue
		}
		vs := fmt.Sprintf("%s %d", svc.VIP, svc.Port)
		if svc.FWMark != 0 {
			vs = fmt.Sprintf("fwmark %d", svc.FWMark)
		}
		want := roles.IPVSService(s.lab, svc)
		check := ""
		if svc.Keepalived.Check != nil {
			check = svc.Keepalived.Check.Type
		}
		name := "health checks of virtual_server " + vs
		checks, found := checkersOf(conf, vs)
		var got []string
		ok := found
		for _, d := range want.Destinations {
			key := d.Address.String() + ":" + strconv.Itoa(int(d.Port))
			if svc.FWMark != 0 {
				key = d.Address.String()
			}
			c, in := checks[key]
			switch {
			case !in:
				ok = false
				got = append(got, key+" missing")
			case check != "" && !slices.Contains(c, check):
				ok = false
				got = append(got, key+" "+orNone(c))
			default:
				got = append(got, key+" "+orNone(c))
			}
		}
		if !found {
			got = []string{"no virtual_server " + vs}
		}
		wantText := "each real server with " + check
		if check == "" {
			wantText = "each real server"
		}
		out = append(out, s.fact(name, wantText, strings.Join(got, ", "), ok,
			"keepalived programs only the real servers its virtual_server lists, and takes out one whose "+orNone([]string{check})+" fails (after connect_timeout and retry x delay_before_retry): without a checker a dead web server keeps its share of the requests, which then fail", named("keepalived.conf")))
	}
	return out
}

func orNone(v []string) string {
	if len(v) == 0 {
		return "none"
	}
	return strings.Join(v, "; ")
}
