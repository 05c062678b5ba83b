package check

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// Fact is one desired fact of a node, read back.
type Fact struct {
	Name   string        `json:"name"`
	Status report.Status `json:"status"`
	Want   string        `json:"want"`
	Got    string        `json:"got"`
	// Hint says, for a student, what is wrong and why it matters in LVS.
	Hint string `json:"hint,omitempty"`
	// Fix is the handout command that shows the step which makes it true.
	Fix string `json:"fix,omitempty"`
}

// subject is what judging one node needs: its desired state, its steps on
// its OS (they name the fix) and the lab's forwarding modes around it.
type subject struct {
	lab    *topology.Lab
	st     *roles.NodeState
	steps  []catalog.Step
	os     string
	labRef string // how "lvslab plan" names the lab
	modes  []string
}

func newSubject(lab *topology.Lab, st *roles.NodeState, osFamily, labRef string) *subject {
	s := &subject{lab: lab, st: st, steps: catalog.Steps(st, osFamily), os: osFamily, labRef: labRef}
	for _, svc := range lab.Services {
		if st.Role == topology.RoleDirector || slices.ContainsFunc(svc.RealServers, func(r *topology.RealServer) bool { return r.Node == st.Name }) {
			if !slices.Contains(s.modes, svc.Mode) {
				s.modes = append(s.modes, svc.Mode)
			}
		}
	}
	return s
}

func (s *subject) mode(m string) bool { return slices.Contains(s.modes, m) }

// fix is the plan command that shows how the step named by match is done
// on this node's OS.
func (s *subject) fix(match func(catalog.Step) bool) string {
	cmd := fmt.Sprintf("lvslab plan %s --node %s --os %s", s.labRef, s.st.Name, s.os)
	for i, step := range s.steps {
		if match(step) {
			return fmt.Sprintf("%s (step %d, %s)", cmd, i+1, step.Name)
		}
	}
	return cmd
}

func named(name string) func(catalog.Step) bool {
	return func(s catalog.Step) bool { return s.Name == name }
}

func (s *subject) fact(name, want, got string, ok bool, hint string, step func(catalog.Step) bool) Fact {
	f := Fact{Name: name, Status: report.Pass, Want: want, Got: got}
	if !ok {
		f.Status, f.Hint, f.Fix = report.Fail, hint, s.fix(step)
	}
	return f
}

// judge lists every desired fact of the node as PASS or FAIL, in the
// handout's order.
func (s *subject) judge(o *Observed) []Fact {
	st := s.st
	out := []Fact{s.fact("hostname", st.Hostname, o.Hostname, o.Hostname == st.Hostname,
		fmt.Sprintf("the node is called %q, the lab calls it %s: the prompt, the logs and the page tell the nodes apart by it", o.Hostname, st.Hostname),
		named("hostname"))}
	for _, nic := range st.NICs {
		if nic.Down {
			out = append(out, s.downFact(o, nic))
		} else {
			out = append(out, s.addressFact(o, nic))
		}
	}
	if st.Gateway.IsValid() {
		out = append(out, s.gatewayFact(o))
	}
	for _, sc := range st.Sysctls {
		got := o.Sysctl[sc.Key]
		out = append(out, s.fact("sysctl "+sc.Key, sc.Value, got, got == sc.Value, sysctlHint(s, sc, got), named("sysctl")))
	}
	if len(st.Sysctls) > 0 {
		out = append(out, s.persistentSysctls(o))
	}
	for _, m := range st.Modules {
		out = append(out, s.fact("module "+m, "loaded", loaded(o.Modules[m]), o.Modules[m],
			"the "+m+" module is not loaded: without it there is no tunl0 to carry the VIP and decapsulate the director's packets", named("kernel modules")))
	}
	var boot []bootAddr
	if len(st.Aliases) > 0 {
		boot = addrsAtBoot(o, macsOf(st))
	}
	for _, a := range st.Aliases {
		out = append(out, s.aliasFact(o, a), s.aliasBootFact(o, a, boot))
	}
	if st.Web != nil {
		out = append(out, s.webFacts(o)...)
	}
	out = append(out, s.markFacts(o)...)
	if slices.ContainsFunc(s.steps, func(step catalog.Step) bool { return step.Kind == catalog.KindIPVS }) {
		out = append(out, s.ipvsFacts(o)...)
	}
	return out
}

// markFacts: a director of a firewall-mark service marks its ports now and
// at boot, else IPVS's -f service never sees a packet.
func (s *subject) markFacts(o *Observed) []Fact {
	if len(s.st.Marks) == 0 {
		return nil
	}
	var out []Fact
	for i, m := range s.st.Marks {
		live := i < len(o.Marks) && o.Marks[i]
		want := fmt.Sprintf("%s to %s ports %s marked %d", m.Protocol, m.VIP, portText(m.Ports), m.FWMark)
		out = append(out, s.fact(fmt.Sprintf("marks -f %d", m.FWMark), want, loadedOr(live, "missing"), live,
			fmt.Sprintf("the director does not mark %s: no packet carries mark %d, so IPVS's service -f %d balances nothing and those requests reach the director itself (refused); mark them (%s)", want, m.FWMark, m.FWMark, catalog.MarkHandout(m, s.os)),
			named("firewall marks")))
	}
	boot := named("marks at boot")
	if s.os == catalog.RHEL {
		boot = named("firewall marks")
	}
	enabled := o.Enabled[catalog.MarksUnit]
	return append(out, s.fact("marks at boot", "enabled", enabled, enabled == "enabled",
		fmt.Sprintf("%s is %s: marks live only in the kernel, and after a reboot the -f services get no packet until something loads them again (systemctl enable %s)", catalog.MarksUnit, enabled, catalog.MarksUnit),
		boot))
}

func loadedOr(ok bool, not string) string {
	if ok {
		return "loaded"
	}
	return not
}

func portText(ports []uint16) string {
	var out []string
	for _, p := range ports {
		out = append(out, fmt.Sprint(p))
	}
	return strings.Join(out, ", ")
}

func loaded(ok bool) string {
	if ok {
		return "loaded"
	}
	return "not loaded"
}

// addrsOn lists the addresses on dev, and where else addr is.
func addrsOn(o *Observed, dev string) []Addr {
	var out []Addr
	for _, a := range o.Addrs {
		if a.Device == dev {
			out = append(out, a)
		}
	}
	return out
}

func findAddr(o *Observed, addr netip.Addr) *Addr {
	for i := range o.Addrs {
		if o.Addrs[i].Prefix.Addr() == addr {
			return &o.Addrs[i]
		}
	}
	return nil
}

func prefixes(as []Addr) string {
	if len(as) == 0 {
		return "none"
	}
	var s []string
	for _, a := range as {
		s = append(s, a.Prefix.String())
	}
	return strings.Join(s, " ")
}

func (s *subject) addressFact(o *Observed, nic roles.NICState) Fact {
	name := "address " + nic.Name
	step := named("address " + nic.Name)
	on := addrsOn(o, nic.Name)
	got := prefixes(on)
	want := nic.Address.String()
	hint := ""
	allowed := []netip.Prefix{nic.Address}
	for _, a := range s.st.Aliases {
		if a.Device == nic.Name {
			allowed = append(allowed, a.Address)
		}
	}
	// a VIP keepalived adds while this node is MASTER is keepalived's, not
	// a stray address (the keepalived facts judge who holds it)
	allowed = append(allowed, s.st.Floating...)
	role := s.addressRole(nic)
	switch found := findAddr(o, nic.Address.Addr()); {
	case found == nil:
		hint = fmt.Sprintf("%s has no %s: %s", nic.Name, want, role)
	case found.Device != nic.Name:
		hint = fmt.Sprintf("%s is on %s, not on %s (the NIC on lab network %s): packets for it arrive on %s and go unanswered", nic.Address.Addr(), found.Device, nic.Name, nic.Network, nic.Name)
	case found.Prefix != nic.Address:
		hint = fmt.Sprintf("%s has %s, the lab wants /%d: with the wrong mask the node takes hosts of other subnets for neighbours (or its neighbours for strangers) and its replies go astray", nic.Name, found.Prefix, nic.Address.Bits())
	default:
		for _, a := range on {
			if !slices.Contains(allowed, a.Prefix) {
				hint = fmt.Sprintf("%s also has %s, which the lab does not give it (DHCP left on, or an old address): the node then answers and sends from an address LVS knows nothing of; keep only %s", nic.Name, a.Prefix, want)
				break
			}
		}
	}
	return s.fact(name, want, got, hint == "", hint, step)
}

// addressRole says what an address is for in LVS.
func (s *subject) addressRole(nic roles.NICState) string {
	switch {
	case s.st.Role == topology.RoleDirector && s.mode(topology.ModeNAT) && s.isGatewayOfRealServers(nic.Address.Addr()):
		return "it is the DIP, the real servers' gateway: without it their replies never come back to the director to be rewritten"
	case s.st.Role == topology.RoleDirector:
		return "the director is reached on this network through it"
	case s.st.Role == topology.RoleWeb:
		return "it is this real server's RIP: the director forwards the requests to it"
	}
	return "the client sends its requests from it"
}

func (s *subject) isGatewayOfRealServers(a netip.Addr) bool {
	for _, n := range s.lab.Nodes {
		if n.Role == topology.RoleWeb && n.Gateway == a {
			return true
		}
	}
	return false
}

func (s *subject) downFact(o *Observed, nic roles.NICState) Fact {
	on := addrsOn(o, nic.Name)
	up := o.Up[nic.Name]
	got := "down, no address"
	switch {
	case len(on) > 0:
		got = "address " + prefixes(on)
	case up:
		got = "up, no address"
	}
	hint := nic.Name + " must stay down with no address, as in the classroom VMs: a second NIC up gives the node another path, "
	if s.st.Role == topology.RoleWeb && s.mode(topology.ModeNAT) {
		hint += "and a NAT real server with one next to the client answers it directly, bypassing the director (the client drops the reply)"
	} else {
		hint += "and traffic that should go through the director may leave by it"
	}
	return s.fact("down "+nic.Name, "down, no address", got, len(on) == 0 && !up, hint, named("disable "+nic.Name))
}

func (s *subject) gatewayFact(o *Observed) Fact {
	st := s.st
	dev := st.GatewayNIC()
	want := st.Gateway.String() + " dev " + dev
	var got []string
	ok := false
	for _, r := range o.Routes {
		got = append(got, r.Via.String()+" dev "+r.Device)
		if r.Via == st.Gateway && r.Device == dev {
			ok = true
		}
	}
	ok = ok && len(o.Routes) == 1
	gotText := strings.Join(got, ", ")
	if gotText == "" {
		gotText = "no default route"
	}
	var hint string
	switch {
	case st.Role == topology.RoleWeb && s.mode(topology.ModeNAT):
		hint = fmt.Sprintf("the default route is %s, not the DIP %s: in NAT the replies must go back through the director, which rewrites their source from the RIP to the VIP; otherwise they bypass it and the client drops them (curl hangs)", gotText, st.Gateway)
	case st.Role == topology.RoleWeb:
		hint = fmt.Sprintf("the default route is %s, not %s: in DR and TUN the real server answers the client directly, through this gateway", gotText, st.Gateway)
	default:
		hint = fmt.Sprintf("the default route is %s, not %s: the node reaches the other networks through it", gotText, st.Gateway)
	}
	if len(o.Routes) > 1 {
		hint = fmt.Sprintf("there are %d default routes (%s): keep only %s; the kernel picks one of them and the other path bypasses LVS", len(o.Routes), gotText, want)
	}
	return s.fact("gateway", want, gotText, ok, hint, named("address "+dev))
}

// sysctlHint says why a kernel setting matters.
func sysctlHint(s *subject, sc roles.Sysctl, got string) string {
	now := fmt.Sprintf("%s is %q, the lab wants %s: ", sc.Key, got, sc.Value)
	switch key := sc.Key; {
	case key == "net.ipv4.ip_forward" && sc.Value == "1":
		return now + "the NAT director routes between the client's network and the real servers'; with forwarding off it drops the replies and the client's requests hang"
	case key == "net.ipv4.ip_forward":
		return now + "a DR or TUN director routes nothing itself (IPVS forwards the VIP's packets), so the references keep forwarding off"
	case strings.HasSuffix(key, ".send_redirects") && sc.Value != "0":
		return now + "the lab keeps the kernel's default here, as the references' DR director does"
	case strings.HasSuffix(key, ".arp_ignore"):
		return now + "without arp_ignore=1 this real server answers ARP for the VIP it holds on " + vipDevice(s) + ", the client (or its router) learns its MAC and sends the requests to it instead of the director: it steals the VIP"
	case strings.HasSuffix(key, ".arp_announce"):
		return now + "without arp_announce=2 this real server announces the VIP as the source of its own ARP requests, so its neighbours map the VIP to its MAC and bypass the director"
	case strings.HasSuffix(key, ".send_redirects"):
		return now + "the director would send ICMP redirects telling the real servers to reply around it; in NAT every reply must pass through it to be rewritten"
	case strings.HasSuffix(key, ".rp_filter"):
		return now + "reverse-path filtering drops the packets tunl0 decapsulates (their source is the client, not reachable through tunl0)"
	}
	return now + "the lab's forwarding mode needs it"
}

func vipDevice(s *subject) string {
	for _, a := range s.st.Aliases {
		return a.Device
	}
	return "lo"
}

func (s *subject) persistentSysctls(o *Observed) Fact {
	var want, lost, lines []string
	var overridden []string
	for _, sc := range s.st.Sysctls {
		want = append(want, sc.Key+"="+sc.Value)
		v, from := o.Persistent[sc.Key], o.PersistentFrom[sc.Key]
		if v == sc.Value {
			continue
		}
		lost = append(lost, sc.Key)
		lines = append(lines, sc.Key+" = "+sc.Value)
		if from != "" {
			overridden = append(overridden, fmt.Sprintf("%s sets %s = %s and wins at boot", from, sc.Key, v))
		}
	}
	got := "all in the sysctl files"
	if len(lost) > 0 {
		got = "not in any sysctl file: " + strings.Join(lost, " ")
		if len(overridden) > 0 {
			got = strings.Join(overridden, "; ")
		}
	}
	hint := "set with sysctl -w or echo into /proc only, these are lost at the next reboot: " + strings.Join(lost, ", ") +
		"; append them to /etc/sysctl.conf (" + strings.Join(lines, ", ") + ") and load it with sysctl -p"
	if len(overridden) > 0 {
		hint = "at boot the sysctl files apply in order of their names, /etc/sysctl.conf as /etc/sysctl.d/99-sysctl.conf: " + strings.Join(overridden, "; ") +
			"; set " + strings.Join(lines, ", ") + " there (or remove the line) and run sysctl -p"
	}
	return s.fact("sysctl at boot", strings.Join(want, " "), got, len(lost) == 0, hint, named("sysctl"))
}

func (s *subject) aliasFact(o *Observed, a roles.Alias) Fact {
	label := a.Device
	if a.Label != "" {
		label = a.Label
	}
	name := "vip " + label
	want := a.Address.String() + " on " + a.Device
	step := s.vipStep(a)
	found := findAddr(o, a.Address.Addr())
	got := "missing"
	if found != nil {
		got = found.Prefix.String() + " on " + found.Device
	}
	var hint string
	switch {
	case found == nil && s.st.Role == topology.RoleDirector:
		hint = fmt.Sprintf("the director has no VIP %s: nobody answers ARP for it, so the client's requests never reach IPVS", a.Address.Addr())
	case found == nil && a.Device == "tunl0":
		hint = fmt.Sprintf("tunl0 has no VIP %s: the real server drops the packets it decapsulates, since they are addressed to the VIP", a.Address.Addr())
	case found == nil:
		hint = fmt.Sprintf("%s has no VIP %s: in DR the director forwards requests still addressed to the VIP, and a real server without it drops them (requests time out)", a.Device, a.Address.Addr())
	case found.Device != a.Device:
		hint = fmt.Sprintf("the VIP is on %s, not on %s", found.Device, a.Device)
		if s.st.Role == topology.RoleWeb {
			hint += ": on a real NIC the real server answers ARP for it and steals it from the director; it belongs on " + a.Device + ", /32"
		}
	case found.Prefix.Bits() != a.Address.Bits() && s.st.Role == topology.RoleWeb:
		hint = fmt.Sprintf("the VIP on %s is %s, it must be /32: a /%d on %s makes the whole %s local to this host, so it stops reaching its neighbours there and its networking breaks", a.Device, found.Prefix, found.Prefix.Bits(), a.Device, found.Prefix.Masked())
	case found.Prefix.Bits() != a.Address.Bits():
		hint = fmt.Sprintf("the VIP is %s, the lab wants %s", found.Prefix, a.Address)
	}
	return s.fact(name, want, got, hint == "", hint, step)
}

func (s *subject) webFacts(o *Observed) []Fact {
	unit := webUnit(s.steps)
	var out []Fact
	active := o.Active[unit]
	out = append(out, s.fact(unit+" running", "active", active, active == "active",
		fmt.Sprintf("%s is %s: the director still sends this real server its share, and those requests get \"connection refused\" (start it with systemctl start %s)", unit, active, unit),
		named(unit)))
	enabled := o.Enabled[unit]
	out = append(out, s.fact(unit+" at boot", "enabled", enabled, enabled == "enabled",
		fmt.Sprintf("%s is %s at boot: after a reboot this real server serves nothing until someone starts it (systemctl enable %s)", unit, enabled, unit),
		named(unit)))
	for _, port := range s.st.Web.Ports {
		listening := o.Listening[port]
		out = append(out, s.fact(fmt.Sprintf("listens on %d", port), "listening", map[bool]string{true: "listening", false: "nothing listens"}[listening], listening,
			fmt.Sprintf("nothing listens on TCP port %d, the port the director forwards to: the requests sent here are refused", port),
			named(unit+" ports")))
	}
	for _, u := range s.st.Web.UDP {
		unit, step := catalog.UDPUnit(u.Port), named(fmt.Sprintf("udp %d", u.Port))
		active, enabled := o.Active[unit], o.Enabled[unit]
		out = append(out, s.fact(fmt.Sprintf("udp %d responder", u.Port), "active", active, active == "active",
			fmt.Sprintf("%s is %s: nothing answers the datagrams the director sends here on UDP port %d, so that share of the UDP service gets no reply", unit, active, u.Port), step))
		out = append(out, s.fact(fmt.Sprintf("udp %d responder at boot", u.Port), "enabled", enabled, enabled == "enabled",
			fmt.Sprintf("%s is %s at boot: after a reboot this real server answers no datagram (systemctl enable %s)", unit, enabled, unit), step))
	}
	want := s.st.Web.Page
	page := "missing"
	if o.Page != nil {
		page = strings.TrimSpace(*o.Page)
	}
	out = append(out, s.fact("page", want, short(page), page == want,
		fmt.Sprintf("index.html says %q, the lab expects %q: the client (and lvslab verify) tell the real servers apart by their pages", short(page), want),
		named("index.html")))
	for _, port := range s.st.Web.Ports {
		body, served := o.Served[port]
		got := "no answer"
		if served && body != nil {
			got = strings.TrimSpace(*body)
		}
		out = append(out, s.fact(fmt.Sprintf("serves the page on %d", port), want, short(got), got == want,
			fmt.Sprintf("http://127.0.0.1:%d/ answers %q, not the page %q: the web server is down, listens elsewhere, or serves another directory", port, short(got), want),
			named(unit)))
	}
	return out
}

// short is a page as a report shows it: its first line, cut at 60
// characters (a distribution's default page is kilobytes of HTML).
func short(page string) string {
	line, rest, _ := strings.Cut(page, "\n")
	if r := []rune(line); len(r) > 60 {
		return string(r[:60]) + "..."
	} else if rest != "" {
		return line + " ..."
	}
	return line
}

func (s *subject) ipvsFacts(o *Observed) []Fact {
	step := func(st catalog.Step) bool { return st.Kind == catalog.KindIPVS }
	if o.IPVSErr != "" {
		return []Fact{s.fact("ipvs table", "readable", o.IPVSErr, false,
			"the IPVS table cannot be read ("+o.IPVSErr+"): install ipvsadm", named("packages"))}
	}
	var out []Fact
	mode := map[string]string{}
	for _, svc := range s.lab.Services {
		mode[ipvsKey(s.lab, svc)] = svc.Mode
	}
	for _, want := range s.st.IPVS {
		key := want.Key()
		have := ipvs.Find(o.IPVS, key)
		if have == nil {
			out = append(out, s.fact("ipvs "+key, serviceText(&want), "missing", false,
				fmt.Sprintf("the director has no virtual service %s: the VIP answers but IPVS does not balance it (%s)", key, ipvs.Op{Action: ipvs.AddService, Service: want}.Brief()), step))
			continue
		}
		out = append(out, s.fact("ipvs "+key+" scheduler", want.SchedName, have.SchedName, have.SchedName == want.SchedName,
			fmt.Sprintf("the service schedules with %s, the lab wants %s: the requests are shared out differently from what the exercise shows (%s)", have.SchedName, want.SchedName, ipvs.Op{Action: ipvs.EditService, Service: want}.Brief()), step))
		if want.Persistence() > 0 || have.Persistence() > 0 {
			out = append(out, s.fact("ipvs "+key+" persistence", fmt.Sprint(want.Persistence()), fmt.Sprint(have.Persistence()), have.Persistence() == want.Persistence(),
				fmt.Sprintf("persistence is %d s, the lab wants %d s (ipvsadm -p): with it one client sticks to one real server", have.Persistence(), want.Persistence()), step))
		}
		for _, d := range want.Destinations {
			out = append(out, s.destFact(&want, mode[key], &d, have.Dest(d.Key()), step))
		}
		for _, d := range have.Destinations {
			if want.Dest(d.Key()) == nil {
				out = append(out, s.fact(fmt.Sprintf("ipvs %s -r %s", key, d.Key()), "absent", destText(&d), false,
					fmt.Sprintf("%s is a real server the lab does not have: the director sends it a share of the requests (remove it with %s)", d.Key(), ipvs.Op{Action: ipvs.DelDest, Service: want, Dest: d}.Brief()), step))
			}
		}
	}
	for _, have := range o.IPVS {
		if ipvs.Find(s.st.IPVS, have.Key()) == nil {
			out = append(out, s.fact("ipvs "+have.Key(), "absent", serviceText(&have), false,
				fmt.Sprintf("the director also has the virtual service %s, which the lab does not (%s)", have.Key(), ipvs.Op{Action: ipvs.DelService, Service: have}.Brief()), step))
		}
	}
	return append(out, s.bootFacts(o)...)
}

// ipvsKey is a lab service's ipvsadm identity.
func ipvsKey(lab *topology.Lab, svc *topology.Service) string {
	v := roles.IPVSService(lab, svc)
	return v.Key()
}

func serviceText(s *ipvs.Service) string {
	t := s.Key() + " -s " + s.SchedName
	if s.Persistence() > 0 {
		t += fmt.Sprintf(" -p %d", s.Persistence())
	}
	return t
}

func destText(d *ipvs.Destination) string {
	t := fmt.Sprintf("%s %s -w %d", d.Key(), d.ForwardFlag(), d.Weight)
	if d.UpperThreshold > 0 {
		t += fmt.Sprintf(" -x %d", d.UpperThreshold)
	}
	if d.LowerThreshold > 0 {
		t += fmt.Sprintf(" -y %d", d.LowerThreshold)
	}
	return t
}

func (s *subject) destFact(svc *ipvs.Service, mode string, want, have *ipvs.Destination, step func(catalog.Step) bool) Fact {
	key := svc.Key()
	name := fmt.Sprintf("ipvs %s -r %s", key, want.Key())
	if have == nil {
		return s.fact(name, destText(want), "missing", false,
			fmt.Sprintf("the real server %s is not in the service: it gets no requests (%s)", want.Key(), ipvs.Op{Action: ipvs.AddDest, Service: *svc, Dest: *want}.Brief()), step)
	}
	wf, hf := want.ForwardFlag(), have.ForwardFlag()
	routed := have.Forwarding() == ipvs.ConnectionFlagDirectRoute || have.Forwarding() == ipvs.ConnectionFlagLocalNode
	var hint string
	switch {
	case wf != hf && mode == topology.ModeDR && have.Forwarding() == ipvs.ConnectionFlagMasq:
		hint = "the real server is added with -m (NAT, masquerading) but the service is DR: use -g. In DR the director only rewrites the MAC and the real server, holding the VIP on lo, answers the client directly; with -m the director rewrites the destination to the RIP and expects the reply back through itself, which never comes"
	case wf != hf && mode == topology.ModeNAT && routed:
		hint = "the real server is added with -g (direct routing) but the service is NAT: use -m. With -g the director hands the packet, still addressed to the VIP, to the real server's MAC, and a NAT real server has no VIP: it drops it"
	case wf != hf:
		hint = fmt.Sprintf("the real server is added with %s, the lab's %s mode needs %s", hf, strings.ToUpper(mode), wf)
	case have.Weight != want.Weight:
		hint = fmt.Sprintf("its weight is %d, the lab wants %d: the weighted schedulers share the requests in proportion to the weights (%s)", have.Weight, want.Weight, ipvs.Op{Action: ipvs.EditDest, Service: *svc, Dest: *want}.Brief())
	case have.UpperThreshold != want.UpperThreshold || have.LowerThreshold != want.LowerThreshold:
		hint = fmt.Sprintf("its connection thresholds are -x %d -y %d, the lab wants -x %d -y %d", have.UpperThreshold, have.LowerThreshold, want.UpperThreshold, want.LowerThreshold)
	}
	return s.fact(name, destText(want), destText(have), hint == "", hint, step)
}

// aliasBootFact: the VIP comes back after a reboot when a file of the
// node's network stack, or an enabled unit, puts it on its device.
func (s *subject) aliasBootFact(o *Observed, a roles.Alias, boot []bootAddr) Fact {
	label := a.Device
	if a.Label != "" {
		label = a.Label
	}
	want := a.Address.String() + " on " + a.Device
	got, ok := "no file or enabled unit puts it back", false
	var elsewhere []string
	for _, b := range boot {
		if b.Prefix.Addr() != a.Address.Addr() {
			continue
		}
		if b.Device == a.Device && b.Prefix.Bits() == a.Address.Bits() {
			got, ok = "from "+b.From, true
			break
		}
		elsewhere = append(elsewhere, fmt.Sprintf("%s on %s from %s", b.Prefix, b.Device, b.From))
	}
	if !ok && len(elsewhere) > 0 {
		got = strings.Join(elsewhere, ", ")
	}
	hint := fmt.Sprintf("an address added with ip addr (or ifconfig) lives only until the next reboot, and nothing on this node puts %s back on %s then (%s): ", a.Address, a.Device, got)
	if len(elsewhere) > 0 {
		hint = fmt.Sprintf("at boot the VIP comes back as %s, not %s: ", strings.Join(elsewhere, ", "), want)
	}
	hint += vipHowTo(s.os, stackOf(o), a)
	step := s.vipStep(a)
	return s.fact("vip "+label+" at boot", want, got, ok, hint, step)
}

// bootFacts: the rules come back after a reboot when they are saved in a
// file that something enabled loads at boot: the distribution's ipvsadm
// service (RHEL's ipvsadm.service, Debian's init with AUTO="true"), or
// any enabled unit that runs ipvsadm-restore (the student's, lvslab's).
func (s *subject) bootFacts(o *Observed) []Fact {
	restorers := ipvsRestorers(o)
	dist := distRulesFile(s.os)
	// the files to judge: each restorer's, the distribution's first
	files := []string{dist}
	for _, r := range restorers {
		if !slices.Contains(files, r.File) {
			files = append(files, r.File)
		}
	}
	judgeFile := func(f string) (string, bool) {
		c, ok := o.Files[f]
		if !ok && len(s.st.IPVS) > 0 {
			return "missing", false
		}
		// (grep prints nothing of an empty file: no service, nothing saved)
		saved, err := ipvs.ParseRules(c)
		switch {
		case err != nil:
			return "unreadable: " + err.Error(), false
		case len(ipvs.Diff(saved, s.st.IPVS)) > 0:
			return strings.Join(ipvs.Differences(saved, s.st.IPVS), "; "), false
		}
		return "as the lab", true
	}
	// saved: in a file an enabled restorer loads, else in any candidate
	savedIn, got := "", ""
	for _, enabledOnly := range []bool{true, false} {
		for _, f := range files {
			if enabledOnly && !slices.ContainsFunc(restorers, func(r restorer) bool { return r.Enabled && r.File == f }) {
				continue
			}
			g, ok := judgeFile(f)
			if ok {
				savedIn, got = f, "as the lab in "+f
				break
			}
			if got == "" || f == dist {
				got = f + ": " + g
			}
		}
		if savedIn != "" {
			break
		}
	}
	target := dist
	for _, r := range restorers {
		if r.Enabled {
			target = r.File
			break
		}
	}
	out := []Fact{s.fact("ipvs rules saved", target, got, savedIn != "",
		fmt.Sprintf("the saved rules are not the lab's (%s): ipvsadm rules live only in the kernel, and after a reboot the director comes back with what is saved; save them with %s -n > %s", got, ipvs.Save, target),
		named("ipvs rules file"))}
	var enabled, units []string
	ok := false
	for _, r := range restorers {
		state := "not enabled"
		if r.Enabled {
			state = "enabled"
			enabled = append(enabled, r.What+" loads "+r.File)
			// saved elsewhere, or not at all (that fails above)
			ok = ok || savedIn == "" || r.File == savedIn
		}
		units = append(units, r.What+" ("+r.File+") "+state)
	}
	gotBoot := "nothing enabled loads saved rules"
	if len(units) > 0 {
		gotBoot = strings.Join(units, ", ")
	}
	hint := "nothing enabled loads the saved rules at boot: after a reboot the IPVS table is empty and the VIP balances nothing; " + ipvsHowTo(s.os, o)
	if len(enabled) > 0 && !ok {
		hint = fmt.Sprintf("at boot %s, but the lab's rules are saved in %s: after a reboot the director loads the wrong rules; save them into the file it loads (%s -n > %s)", strings.Join(enabled, ", "), savedIn, ipvs.Save, target)
	}
	return append(out, s.fact("ipvs rules at boot", "an enabled service that loads them", gotBoot, ok, hint, named("ipvs at boot")))
}

// vipStep finds the catalog step that puts the alias a in place: its own
// "vip" step, else the step of its device's addresses.
func (s *subject) vipStep(a roles.Alias) func(catalog.Step) bool {
	own := func(step catalog.Step) bool {
		return strings.HasPrefix(step.Name, "vip ") && slices.Contains(strings.Fields(step.Name), a.Device)
	}
	if slices.ContainsFunc(s.steps, own) {
		return own
	}
	return named("address " + a.Device)
}
