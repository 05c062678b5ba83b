// Package ipvstest simulates the kernel's IPVS table for tests: it answers
// the ipvsadm commands lvslab sends (listings in every form, rules, edits,
// ipvsadm-restore) and schedules connections with the kernel's algorithms.
// Every package's tests share it, so they agree on what the kernel does.
package ipvstest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/topology/ipvs"
)

// Kernel is one node's IPVS table.
type Kernel struct {
	// Services in the kernel's list order; each one's destinations with the
	// last added first, as the kernel keeps them.
	Services []ipvs.Service
	// Conns are the entries "ipvsadm -Lnc" shows.
	Conns []ipvs.Conn
	// Frozen makes the table ignore changes (a kernel that refuses).
	Frozen bool
	// ReadFile serves "ipvsadm-restore < PATH"; nil: no file exists.
	ReadFile func(path string) ([]byte, bool)
	pos      map[string]int // where each rr/wrr service is in its cycle
}

// New is a kernel whose table was loaded with ipvsadm-restore.
func New(services []ipvs.Service) *Kernel {
	k := &Kernel{}
	k.load(services)
	return k
}

// Service returns the service with that key (ipvs.Service.Key), or nil.
func (k *Kernel) Service(key string) *ipvs.Service { return ipvs.Find(k.Services, key) }

// SetPosition puts a cyclic scheduler's pointer at step pos of its cycle.
func (k *Kernel) SetPosition(key string, pos int) {
	if k.pos == nil {
		k.pos = map[string]int{}
	}
	k.pos[key] = pos
}

// Handles tells whether cmd is one Run answers.
func Handles(cmd string) bool {
	return strings.HasPrefix(cmd, "ipvsadm ") || strings.HasPrefix(cmd, ipvs.Restore+" ")
}

// Run answers one command line, or several joined with "; ".
func (k *Kernel) Run(cmd string) (string, error) {
	if doc, ok := strings.CutPrefix(cmd, ipvs.Restore+" <<'"); ok {
		// a quoted here-document: <<'DELIM', the rules, then DELIM
		delim, body, _ := strings.Cut(doc, "'\n")
		rules, ok := strings.CutSuffix(body, delim)
		if !ok {
			return "", fmt.Errorf("ipvstest: here-document does not end with %s", delim)
		}
		return "", k.restore(rules)
	}
	var out strings.Builder
	for _, c := range strings.Split(cmd, "; ") {
		o, err := k.run1(c)
		if err != nil {
			return out.String(), err
		}
		out.WriteString(o)
	}
	return out.String(), nil
}

func (k *Kernel) run1(cmd string) (string, error) {
	switch f := strings.Fields(cmd); {
	case cmd == ipvs.SaveCommand:
		return ipvs.Rules(k.saveView()), nil
	case cmd == ipvs.ConnectionsCommand:
		return k.connections(), nil
	case len(f) >= 2 && f[0] == "ipvsadm" && f[1] == "-Ln":
		return k.listing(f[2:])
	case k.Frozen:
		return "", nil
	case cmd == ipvs.ZeroCommand:
		for i := range k.Services {
			k.Services[i].Stats = ipvs.Stats{}
			for j := range k.Services[i].Destinations {
				k.Services[i].Destinations[j].Stats = ipvs.Stats{}
			}
		}
		return "", nil
	case strings.HasPrefix(cmd, ipvs.RestoreFrom("")):
		path := strings.TrimPrefix(cmd, ipvs.RestoreFrom(""))
		var data []byte
		ok := false
		if k.ReadFile != nil {
			data, ok = k.ReadFile(path)
		}
		if !ok {
			return "", fmt.Errorf("ipvstest: %s: no such file", path)
		}
		return "", k.restore(string(data))
	}
	op, err := ipvs.ParseOp(cmd)
	if err != nil {
		return "", fmt.Errorf("ipvstest: %w", err)
	}
	return "", k.Apply(op)
}

func (k *Kernel) restore(rules string) error {
	svcs, err := ipvs.ParseRules(rules)
	if err != nil {
		return err
	}
	k.load(svcs)
	return nil
}

func (k *Kernel) load(svcs []ipvs.Service) {
	for _, s := range svcs {
		k.Services = append(k.Services, s)
		k.Services[len(k.Services)-1].Destinations = nil
		for _, d := range s.Destinations {
			k.addDest(&k.Services[len(k.Services)-1], d)
		}
	}
}

// The kernel's answers to edits it refuses.
var (
	ErrServiceExists = errors.New("Service already exists")
	ErrNoService     = errors.New("No such service")
	ErrDestExists    = errors.New("Destination already exists")
	ErrNoDest        = errors.New("No such destination")
)

// Apply changes the table as the kernel does for one op.
func (k *Kernel) Apply(op ipvs.Op) error {
	if op.Action == ipvs.Clear {
		k.Services = nil
		return nil
	}
	key := op.Service.Key()
	idx := slices.IndexFunc(k.Services, func(s ipvs.Service) bool { return s.Key() == key })
	if op.Action == ipvs.AddService {
		if idx >= 0 {
			return ErrServiceExists
		}
		s := op.Service
		s.Destinations = nil
		k.Services = append(k.Services, s)
		return nil
	}
	if idx < 0 {
		return ErrNoService
	}
	svc := &k.Services[idx]
	di := slices.IndexFunc(svc.Destinations, func(d ipvs.Destination) bool { return d.Key() == op.Dest.Key() })
	switch {
	case op.Action == ipvs.EditService:
		s := op.Service
		s.Destinations, s.Stats = svc.Destinations, svc.Stats
		*svc = s
	case op.Action == ipvs.DelService:
		k.Services = slices.Delete(k.Services, idx, idx+1)
	case op.Action == ipvs.AddDest && di < 0:
		k.addDest(svc, op.Dest)
	case op.Action == ipvs.EditDest && di >= 0:
		d := op.Dest
		old := svc.Destinations[di]
		d.ActiveConnections, d.InactiveConnections, d.Stats = old.ActiveConnections, old.InactiveConnections, old.Stats
		svc.Destinations[di] = d
	case op.Action == ipvs.DelDest && di >= 0:
		svc.Destinations = slices.Delete(svc.Destinations, di, di+1)
	case op.Action == ipvs.AddDest:
		return ErrDestExists
	default:
		return ErrNoDest
	}
	delete(k.pos, key)
	return nil
}

// addDest puts a destination at the head of the list, as the kernel does.
func (k *Kernel) addDest(svc *ipvs.Service, d ipvs.Destination) {
	svc.Destinations = append([]ipvs.Destination{d}, svc.Destinations...)
}

// Schedule gives one new connection to the destination the kernel picks
// for the service, counts it (inactive once closed), and returns it; nil
// when no destination can take it.
func (k *Kernel) Schedule(key string) *ipvs.Destination {
	svc := k.Service(key)
	if svc == nil {
		return nil
	}
	i := k.pick(svc)
	if i < 0 {
		return nil
	}
	d := &svc.Destinations[i]
	d.InactiveConnections++
	for _, st := range []*ipvs.Stats{&d.Stats, &svc.Stats} {
		st.Connections++
		st.PacketsIn += 6
		st.BytesIn += 336
	}
	return d
}

func (k *Kernel) pick(svc *ipvs.Service) int {
	ds := svc.Destinations
	if svc.Persistence() > 0 && len(ds) > 0 {
		return len(ds) - 1 // the template of this client's first connection
	}
	switch svc.SchedName {
	case ipvs.RoundRobin, ipvs.WeightedRoundRobin:
		weights := make([]int, len(ds))
		for i, d := range ds {
			weights[i] = d.Weight
		}
		c := ipvs.WRRCycle(weights)
		if svc.SchedName == ipvs.RoundRobin {
			c = ipvs.RRCycle(weights)
		}
		if len(c) == 0 {
			return -1
		}
		if k.pos == nil {
			k.pos = map[string]int{}
		}
		p := k.pos[svc.Key()]
		k.pos[svc.Key()] = p + 1
		return c[p%len(c)]
	case ipvs.SourceHashing, ipvs.DestinationHashing, ipvs.MaglevHashing,
		ipvs.LocalityBasedLeastConnection, ipvs.LocalityBasedLeastConnectionReplica:
		// one client and one VIP always hash to the same server
		return slices.IndexFunc(ds, func(d ipvs.Destination) bool { return d.Weight > 0 })
	}
	return ipvs.Pick(svc.SchedName, ds)
}

// saveView is the table as ipvsadm -Sn shows it: sorted, no thresholds.
func (k *Kernel) saveView() []ipvs.Service {
	out := k.sorted()
	for i := range out {
		for j := range out[i].Destinations {
			out[i].Destinations[j].UpperThreshold, out[i].Destinations[j].LowerThreshold = 0, 0
		}
	}
	return out
}

// sorted is the table in ipvsadm's listing order (without --nosort).
func (k *Kernel) sorted() []ipvs.Service {
	out := slices.Clone(k.Services)
	for i := range out {
		out[i].Destinations = slices.Clone(out[i].Destinations)
		slices.SortFunc(out[i].Destinations, func(a, b ipvs.Destination) int {
			return cmp.Or(a.Address.Compare(b.Address), cmp.Compare(a.Port, b.Port))
		})
	}
	slices.SortFunc(out, func(a, b ipvs.Service) int {
		return cmp.Or(cmp.Compare(a.FWMark, b.FWMark), strings.Compare(a.Protocol, b.Protocol),
			a.Address.Compare(b.Address), cmp.Compare(a.Port, b.Port))
	})
	return out
}
