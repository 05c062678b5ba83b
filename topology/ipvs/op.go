package ipvs

import (
	"fmt"
	"strings"
)

// The commands that read the table.
const (
	// SaveCommand prints the table as rules (no thresholds, no counters).
	SaveCommand = "ipvsadm -Sn"
	// ThresholdsCommand prints the connection thresholds -Sn leaves out.
	ThresholdsCommand = "ipvsadm -Ln --thresholds"
	// ListCommand is what a student types to look at the table.
	ListCommand = "ipvsadm -Ln"
	// TableCommand reads the table in the kernel's list order (--nosort:
	// the scheduler walks that order), then its counters; Parse merges both.
	TableCommand = "ipvsadm -Ln --nosort; ipvsadm -Ln --stats --exact --nosort"
	// ConnectionsCommand lists the connection entries.
	ConnectionsCommand = "ipvsadm -Lnc"
	// ClearCommand empties the table.
	ClearCommand = "ipvsadm -C"
	// ZeroCommand zeroes every counter of the table.
	ZeroCommand = "ipvsadm -Z"
	// StatsCommand prints the counters, exact (no K/M rounding).
	StatsCommand = "ipvsadm -Ln --stats --exact"
	// RateCommand prints the per-second rates, exact.
	RateCommand = "ipvsadm -Ln --rate --exact"
)

// Restore loads rules (ipvsadm-save form) from its standard input.
const Restore = "ipvsadm-restore"

// Save prints the rules in the form Restore loads; a student's handout
// spells it this way (ipvsadm-save -n), lvslab reads with SaveCommand.
const Save = "ipvsadm-save"

// RestoreFrom loads the rules saved in a file.
func RestoreFrom(path string) string { return Restore + " < " + path }

// SaveTo writes the table's rules (SaveCommand) to a file.
func SaveTo(path string) string { return SaveCommand + " > " + path }

// HandSaveTo is SaveTo as a student types it (ipvsadm-save -n > FILE), the
// form of the references' handouts.
func HandSaveTo(path string) string { return Save + " -n > " + path }

// RestoreShort is ipvsadm's own spelling of Restore (ipvsadm -R), which a
// student's unit may use instead.
const RestoreShort = "ipvsadm -R"

// heredocEnd ends the here-document of RestoreCommand. Every line Rules
// renders starts with "-", so none of them can end the document early.
const heredocEnd = "LVSLAB_EOF"

// RestoreCommand loads services whole, as one command: ipvsadm-restore
// with their rules in a quoted here-document (nothing in it is expanded).
func RestoreCommand(services []Service) string {
	return Restore + " <<'" + heredocEnd + "'\n" + Rules(services) + heredocEnd
}

// Action is what an Op does, named by its ipvsadm switch.
type Action string

// Actions.
const (
	AddService  Action = "-A"
	EditService Action = "-E"
	DelService  Action = "-D"
	AddDest     Action = "-a"
	EditDest    Action = "-e"
	DelDest     Action = "-d"
	Clear       Action = "-C"
)

// Op is one change to the table: the only place an ipvsadm switch is
// spelled. Service gives the service (its Destinations are ignored), Dest
// the real server of the destination actions.
type Op struct {
	Action  Action
	Service Service
	Dest    Destination
}

// Rule is the op in ipvsadm-save form: "-A -t 192.168.4.5:80 -s rr".
func (o Op) Rule() string {
	s, d := &o.Service, &o.Dest
	switch o.Action {
	case Clear:
		return string(Clear)
	case AddService, EditService:
		return string(o.Action) + " " + s.Key() + s.options()
	case DelService:
		return string(o.Action) + " " + s.Key()
	case AddDest, EditDest:
		return string(o.Action) + " " + s.Key() + " -r " + d.Key() + d.options()
	case DelDest:
		return string(o.Action) + " " + s.Key() + " -r " + d.Key()
	}
	panic(fmt.Sprintf("ipvs: unknown action %q", o.Action))
}

// Command is the op as a command line: "ipvsadm -A -t ...".
func (o Op) Command() string { return "ipvsadm " + o.Rule() }

// Brief is the op's command line as a hint shows it: the service's key
// and scheduler, the real server's forwarding and weight, nothing else
// (persistence, thresholds and tunnel types are named apart).
func (o Op) Brief() string {
	s := Service{Protocol: o.Service.Protocol, Address: o.Service.Address, Port: o.Service.Port, FWMark: o.Service.FWMark, SchedName: o.Service.SchedName}
	d := Destination{Address: o.Dest.Address, Port: o.Dest.Port, ConnectionFlags: o.Dest.ConnectionFlags, Weight: o.Dest.Weight}
	return Op{Action: o.Action, Service: s, Dest: d}.Command()
}

// Problem says what the op would repair, for error messages: "missing
// real server -t 192.168.4.5:80 -r 192.168.2.100:80 -m -w 1".
func (o Op) Problem() string {
	what := map[Action]string{
		AddService: "missing service ", EditService: "service differs, want ", DelService: "unexpected service ",
		AddDest: "missing real server ", EditDest: "real server differs, want ", DelDest: "unexpected real server ",
		Clear: "the table must be emptied",
	}[o.Action]
	return what + strings.TrimPrefix(o.Rule(), string(o.Action)+" ")
}

// options is what follows the key on an -A or -E line.
func (s *Service) options() string {
	var b strings.Builder
	b.WriteString(" -s " + s.SchedName)
	if s.SchedFlags != "" {
		b.WriteString(" -b " + s.SchedFlags)
	}
	if s.Flags&FlagPersistent != 0 {
		fmt.Fprintf(&b, " -p %d", s.Timeout)
		if s.Netmask.IsValid() && s.Netmask != hostMask {
			b.WriteString(" -M " + s.Netmask.String())
		}
	}
	if s.Flags&FlagOnePacket != 0 {
		b.WriteString(" -o")
	}
	return b.String()
}

// options is what follows "-r ADDR:PORT" on an -a or -e line.
func (d *Destination) options() string {
	s := fmt.Sprintf(" %s -w %d", d.ForwardFlag(), d.Weight)
	if d.ConnectionFlags&connectionFlagFwdMask == ConnectionFlagTunnel && d.TunnelType != "" {
		s += " --tun-type " + d.TunnelType
	}
	if d.UpperThreshold != 0 {
		s += fmt.Sprintf(" -x %d", d.UpperThreshold)
	}
	if d.LowerThreshold != 0 {
		s += fmt.Sprintf(" -y %d", d.LowerThreshold)
	}
	return s
}

// Build is the ops that build services from an empty table, in the given
// order: each service, then its real servers.
func Build(services []Service) []Op {
	var out []Op
	for _, s := range services {
		out = append(out, Op{Action: AddService, Service: s})
		for _, d := range s.Destinations {
			out = append(out, Op{Action: AddDest, Service: s, Dest: d})
		}
	}
	return out
}

// Rules renders services in ipvsadm-save -n form, one rule a line, in the
// given order: a rules file for ipvsadm-restore, comparable with a read-back.
func Rules(services []Service) string {
	var b strings.Builder
	for _, op := range Build(services) {
		b.WriteString(op.Rule() + "\n")
	}
	return b.String()
}

// Commands are the command lines of ops, in order.
func Commands(ops []Op) []string {
	var out []string
	for _, op := range ops {
		out = append(out, op.Command())
	}
	return out
}

// Diff returns the fewest ops that turn the table have into want: -D/-A/-E
// for services, -d/-a/-e for real servers, in key order. None when they
// already match; observed fields (connections, counters) never differ.
func Diff(have, want []Service) []Op {
	cur, wanted := Normalize(have), Normalize(want)
	var out []Op
	for _, c := range cur {
		if Find(wanted, c.Key()) == nil {
			out = append(out, Op{Action: DelService, Service: c})
		}
	}
	for _, w := range wanted {
		c := Find(cur, w.Key())
		if c == nil {
			out = append(out, Build([]Service{w})...)
			continue
		}
		if c.options() != w.options() {
			out = append(out, Op{Action: EditService, Service: w})
		}
		for _, d := range c.Destinations {
			if w.Dest(d.Key()) == nil {
				out = append(out, Op{Action: DelDest, Service: w, Dest: d})
			}
		}
		for _, d := range w.Destinations {
			switch cd := c.Dest(d.Key()); {
			case cd == nil:
				out = append(out, Op{Action: AddDest, Service: w, Dest: d})
			case cd.options() != d.options():
				out = append(out, Op{Action: EditDest, Service: w, Dest: d})
			}
		}
	}
	return out
}

// Differences describes, one line each, how have differs from want, for
// error messages; none when they match.
func Differences(have, want []Service) []string {
	var out []string
	for _, op := range Diff(have, want) {
		out = append(out, op.Problem())
	}
	return out
}
