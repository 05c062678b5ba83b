package handout

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// expectations: on the client, each service's request loop and the pages
// it prints, computed from the scheduler and the weights as the kernel
// schedules them; on the director, ipvsadm -Ln as it should look.
func expectations(lab *topology.Lab, states []*roles.NodeState) []Expectation {
	var out []Expectation
	clients := lab.NodesWithRole(topology.RoleClient)
	if len(clients) > 0 {
		client := clients[0].Name
		for _, s := range append(slices.Clone(lab.Services), lab.VRRPServices...) {
			ports := []uint16{s.Port}
			if s.FWMark != 0 {
				ports = s.Ports
			}
			for _, port := range ports {
				out = append(out, requestLoop(lab, s, port, client))
			}
		}
	}
	for _, st := range states {
		if st.Role == topology.RoleDirector && len(st.IPVS) > 0 {
			out = append(out, Expectation{
				Node:    st.Name,
				What:    "the table, as the kernel holds it (the connection counters grow as requests come)",
				Command: ipvs.ListCommand,
				Output:  strings.Split(strings.TrimSuffix(Listing(st.IPVS), "\n"), "\n"),
			})
		}
	}
	return out
}

// requestLoop is the client's loop over one service port and what it
// prints.
func requestLoop(lab *topology.Lab, s *topology.Service, port uint16, client string) Expectation {
	if s.Mode == topology.ModeVRRP && s.Keepalived != nil {
		return vrrpLoop(lab, s, port, client)
	}
	e := ipvsLoop(lab, s, port, client)
	if k := s.Keepalived; k != nil {
		m := k.Master()
		var backup string
		for _, r := range k.Routers {
			if r.Node != m.Node {
				backup = r.Node
				break
			}
		}
		e.Notes = append(e.Notes, fmt.Sprintf("Then stop keepalived on the MASTER %s (systemctl stop keepalived): %s takes the VIP %s within about %d s and the loop prints the same; start it again and %s takes the VIP back.",
			m.Node, backup, s.VIP, 3*k.AdvertInt+1, m.Node))
	}
	return e
}

// vrrpLoop: a VRRP-only service has no IPVS; the MASTER answers on the VIP
// itself, and the BACKUP when the MASTER is gone.
func vrrpLoop(lab *topology.Lab, s *topology.Service, port uint16, client string) Expectation {
	k := s.Keepalived
	m := k.Master()
	page := func(node string) string {
		if n := lab.Node(node); n != nil && n.Page != "" {
			return n.Page
		}
		return node
	}
	url := "http://" + s.VIP.String() + "/"
	if port != 80 && port != 0 {
		url = fmt.Sprintf("http://%s:%d/", s.VIP, port)
	}
	e := Expectation{Node: client, What: fmt.Sprintf("4 requests to the VIP: the MASTER %s holds it and answers them all", m.Node),
		Command: "for i in 1 2 3 4; do curl -s " + url + "; done"}
	for range 4 {
		e.Output = append(e.Output, page(m.Node))
	}
	for _, r := range k.Routers {
		if r.Node != m.Node {
			e.Notes = append(e.Notes, fmt.Sprintf("Then stop keepalived on %s (systemctl stop keepalived): within about %d s %s holds the VIP and the loop prints %s; start it again and %s takes the VIP back.",
				m.Node, 3*k.AdvertInt+1, r.Node, page(r.Node), m.Node))
			break
		}
	}
	return e
}

// ipvsLoop is the loop of an IPVS service.
func ipvsLoop(lab *topology.Lab, s *topology.Service, port uint16, client string) Expectation {
	var pages []string
	var weights []int
	for _, r := range s.RealServers {
		page := r.Node
		if n := lab.Node(r.Node); n != nil && n.Page != "" {
			page = n.Page
		}
		pages = append(pages, page)
		weights = append(weights, r.Weight)
	}
	order, how := predict(s.Scheduler, weights, s.Persistence)
	n := max(4, len(order)*2)
	if len(order) == 0 {
		n = 4
	}
	n = min(n, 12)
	e := Expectation{Node: client}
	host := s.VIP.String()
	if s.Protocol == "udp" {
		e.What = fmt.Sprintf("%d datagrams to the UDP service %s:%d (socat sends one and prints the answer)", n, host, port)
		e.Command = fmt.Sprintf("for i in %s; do echo | socat -t 1 - UDP:%s:%d; done", seq(n), host, port)
	} else {
		url := "http://" + host + "/"
		if port != 80 {
			url = fmt.Sprintf("http://%s:%d/", host, port)
		}
		e.What = fmt.Sprintf("%d requests to the VIP", n)
		if s.FWMark != 0 {
			e.What += fmt.Sprintf(" on port %d (mark %d)", port, s.FWMark)
		}
		e.Command = fmt.Sprintf("for i in %s; do curl -s %s; done", seq(n), url)
	}
	e.What += ": " + how
	if len(order) > 0 {
		for i := range n {
			e.Output = append(e.Output, pages[order[i%len(order)]])
		}
	} else {
		e.Output = append(e.Output, "("+strings.Join(pages, " or ")+", the same one every time)")
	}
	// Reference 000's next step: the same weights under wrr.
	if s.Scheduler == ipvs.RoundRobin && s.Persistence == 0 && !allEqual(weights) {
		wrr := ipvs.WRRCycle(weights)
		var got []string
		for i := range 2 * len(wrr) {
			got = append(got, pages[wrr[i%len(wrr)]])
		}
		key := fmt.Sprintf("-t %s:%d", host, s.Port)
		if s.Protocol == "udp" {
			key = fmt.Sprintf("-u %s:%d", host, s.Port)
		}
		if s.FWMark != 0 {
			key = fmt.Sprintf("-f %d", s.FWMark)
		}
		e.Notes = append(e.Notes,
			"rr ignores the weights. To see them, on the director: ipvsadm -E "+key+" -s wrr; then the same loop prints, in "+weightRatio(weights)+": "+strings.Join(got, ", ")+
				". Put rr back (ipvsadm -E "+key+" -s rr) before you check the lab.")
	}
	return e
}

func seq(n int) string {
	var s []string
	for i := 1; i <= n; i++ {
		s = append(s, fmt.Sprint(i))
	}
	return strings.Join(s, " ")
}

func allEqual(w []int) bool {
	for _, x := range w {
		if x != w[0] {
			return false
		}
	}
	return true
}

func weightRatio(w []int) string {
	var s []string
	for _, x := range w {
		s = append(s, fmt.Sprint(x))
	}
	return "the ratio of the weights " + strings.Join(s, ":")
}

// predict is the order in which one client's sequential requests reach
// the real servers (indexes into weights), and how to read it; nil when
// every request goes to one server that cannot be told in advance.
func predict(sched string, weights []int, persistence int) ([]int, string) {
	if persistence > 0 {
		return nil, fmt.Sprintf("persistence (%d s) sends every request of one client to the server its first one got", persistence)
	}
	switch sched {
	case ipvs.RoundRobin:
		return ipvs.RRCycle(weights), "round robin takes each real server in turn, whatever its weight; the loop may start anywhere in the cycle"
	case ipvs.WeightedRoundRobin:
		return ipvs.WRRCycle(weights), "weighted round robin takes them in " + weightRatio(weights) + "; the loop may start anywhere in the cycle"
	case ipvs.LeastConnection, ipvs.WeightedLeastConnection, ipvs.ShortestExpectedDelay, ipvs.NeverQueue, ipvs.WeightedFailover, ipvs.WeightedOverflow:
		// One request at a time: each ends before the next, and the
		// director counts it as an inactive connection for a while.
		ds := make([]ipvs.Destination, len(weights))
		for i, w := range weights {
			ds[i].Weight = w
		}
		var order []int
		for range 12 {
			i := ipvs.Pick(sched, ds)
			if i < 0 {
				break
			}
			order = append(order, i)
			ds[i].InactiveConnections++
		}
		how := schedulerName(sched) + " on a fresh table, one request at a time (each finished one counts as an inactive connection)"
		if sched == ipvs.WeightedLeastConnection {
			how += ": the weights' ratio " + strings.TrimPrefix(weightRatio(weights), "the ratio of the weights ")
		}
		return shortestCycle(order), how
	}
	return nil, schedulerName(sched) + " hashes an address: one client's requests all go to one real server"
}

// shortestCycle is the shortest prefix of order that repeats to make it.
func shortestCycle(order []int) []int {
	for n := 1; n <= len(order); n++ {
		ok := true
		for i := n; i < len(order); i++ {
			if order[i] != order[i%n] {
				ok = false
				break
			}
		}
		if ok {
			return order[:n]
		}
	}
	return order
}

// Listing is "ipvsadm -Ln" of a table that holds services, with no
// connections: the kernel's version line, services and their real servers
// sorted as ipvsadm sorts them.
func Listing(services []ipvs.Service) string {
	var b strings.Builder
	b.WriteString("IP Virtual Server version 1.2.1 (size=4096)\n")
	b.WriteString("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	svcs := slices.Clone(services)
	slices.SortStableFunc(svcs, func(a, b ipvs.Service) int {
		if a.FWMark != b.FWMark {
			return int(a.FWMark) - int(b.FWMark)
		}
		if c := strings.Compare(a.Protocol, b.Protocol); c != 0 {
			return c
		}
		if c := a.Address.Compare(b.Address); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
	for _, s := range svcs {
		name := fmt.Sprintf("FWM  %d", s.FWMark)
		if s.FWMark == 0 {
			name = strings.ToUpper(s.Protocol) + "  " + netip.AddrPortFrom(s.Address, s.Port).String()
		}
		flags := []string{s.SchedName}
		if s.Flags&ipvs.FlagPersistent != 0 {
			flags = append(flags, fmt.Sprintf("persistent %d", s.Timeout))
		}
		fmt.Fprintf(&b, "%s %s\n", name, strings.Join(flags, " "))
		ds := slices.Clone(s.Destinations)
		slices.SortStableFunc(ds, func(a, b ipvs.Destination) int {
			if c := a.Address.Compare(b.Address); c != 0 {
				return c
			}
			return int(a.Port) - int(b.Port)
		})
		for _, d := range ds {
			fmt.Fprintf(&b, "  -> %-28s %-7s %-6d %-10d %-10d\n", d.Key(), ipvs.ForwardName(d.ConnectionFlags), d.Weight, 0, 0)
		}
	}
	return b.String()
}
