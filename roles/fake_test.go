package roles

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// fakeExec is a recording Executor: a virtual filesystem, a scripted set of
// checks that pass, a simulated IPVS table that understands the ipvsadm
// commands Apply runs, and effects that make a step's check pass once its
// last Apply command ran.
type fakeExec struct {
	files   map[string]fakeFile
	passing map[string]bool     // checks that exit 0
	effects map[string][]string // command -> checks it makes pass
	ipvs    []Service
	// frozenIPVS makes the IPVS table ignore changes (a kernel that refuses).
	frozenIPVS bool
	ran        []string
	writes     []string
}

type fakeFile struct {
	data []byte
	mode fs.FileMode
}

func newFake() *fakeExec {
	return &fakeExec{files: map[string]fakeFile{}, passing: map[string]bool{}, effects: map[string][]string{}}
}

// learn teaches the fake what each step's commands achieve.
func (f *fakeExec) learn(steps []Step) {
	for _, s := range steps {
		if s.Check == "" || len(s.Apply) == 0 {
			continue
		}
		last := s.Apply[len(s.Apply)-1]
		f.effects[last] = append(f.effects[last], s.Check)
		joined := strings.Join(s.Apply, " && ")
		f.effects[joined] = append(f.effects[joined], s.Check)
	}
}

// commands returns the commands run apart from checks and IPVS reads.
func (f *fakeExec) commands() []string {
	var out []string
	for _, c := range f.ran {
		if strings.HasPrefix(c, "if { ") || strings.HasPrefix(c, "echo "+surveyMark) || c == "ipvsadm -Sn" || c == "ipvsadm -Ln --thresholds" {
			continue
		}
		out = append(out, c)
	}
	return out
}

func (f *fakeExec) Run(ctx context.Context, cmd string) (string, error) {
	if strings.HasPrefix(cmd, "echo "+surveyMark) {
		// A survey: one check per "echo mark; check" line.
		f.ran = append(f.ran, cmd)
		var out strings.Builder
		for _, part := range strings.Split(cmd, "echo "+surveyMark)[1:] {
			idx, check, _ := strings.Cut(part, "; ")
			out.WriteString(surveyMark + idx + "\n")
			verdict, err := f.Run(ctx, strings.TrimSuffix(check, "\n"))
			if err != nil {
				return "", err
			}
			f.ran = f.ran[:len(f.ran)-1]
			out.WriteString(verdict)
		}
		return out.String(), nil
	}
	f.ran = append(f.ran, cmd)
	if strings.HasPrefix(cmd, "if { ") {
		check, _, ok := strings.Cut(strings.TrimPrefix(cmd, "if { "), "\n} >/dev/null 2>&1; then")
		if !ok {
			return "", fmt.Errorf("fake: malformed check command %q", cmd)
		}
		if f.passing[check] {
			return checkOK + "\n", nil
		}
		return checkDiffers + "\n", nil
	}
	if strings.HasPrefix(cmd, "ipvsadm") {
		return f.runIPVS(cmd)
	}
	for _, c := range f.effects[cmd] {
		f.passing[c] = true
	}
	// A chain of commands has the effects of each of them.
	if parts := strings.Split(cmd, " && "); len(parts) > 1 {
		for _, part := range parts {
			for _, c := range f.effects[part] {
				f.passing[c] = true
			}
		}
	}
	return "", nil
}

func (f *fakeExec) runIPVS(cmd string) (string, error) {
	if cmd == "ipvsadm -Sn" {
		// like ipvsadm: no thresholds; the real servers in another order
		// than added
		shown := make([]Service, len(f.ipvs))
		for i, s := range f.ipvs {
			s.Destinations = slices.Clone(s.Destinations)
			slices.Reverse(s.Destinations)
			for j := range s.Destinations {
				s.Destinations[j].UpperThreshold, s.Destinations[j].LowerThreshold = 0, 0
			}
			shown[i] = s
		}
		return RenderIPVS(shown), nil
	}
	if cmd == "ipvsadm -Ln --thresholds" {
		var b strings.Builder
		b.WriteString("IP Virtual Server version 1.2.1 (size=4096)\n")
		b.WriteString("Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn\n  -> RemoteAddress:Port\n")
		for _, s := range f.ipvs {
			switch {
			case s.FWMark != 0:
				fmt.Fprintf(&b, "FWM  %d %s\n", s.FWMark, s.SchedName)
			default:
				fmt.Fprintf(&b, "%s  %s:%d %s\n", strings.ToUpper(s.Protocol), s.Address, s.Port, s.SchedName)
			}
			for _, d := range s.Destinations {
				fmt.Fprintf(&b, "  -> %-28s %-10d %-10d 0          0\n", d.Key(), d.UpperThreshold, d.LowerThreshold)
			}
		}
		return b.String(), nil
	}
	if f.frozenIPVS {
		return "", nil
	}
	if cmd == "ipvsadm -C" {
		f.ipvs = nil
		return "", nil
	}
	if path, ok := strings.CutPrefix(cmd, "ipvsadm-restore < "); ok {
		file, ok := f.files[path]
		if !ok {
			return "", fmt.Errorf("fake: %s: no such file", path)
		}
		svcs, err := ParseIPVSSave(string(file.data))
		if err != nil {
			return "", err
		}
		f.ipvs = append(f.ipvs, svcs...)
		return "", nil
	}
	fields := strings.Fields(strings.TrimPrefix(cmd, "ipvsadm "))
	if len(fields) < 3 {
		return "", fmt.Errorf("fake: unknown ipvsadm command %q", cmd)
	}
	var key Service
	if err := parseKey(&key, fields[1], fields[2]); err != nil {
		return "", err
	}
	idx := -1
	for i := range f.ipvs {
		if f.ipvs[i].Key() == key.Key() {
			idx = i
		}
	}
	opts := fields[3:]
	switch fields[0] {
	case "-A":
		if idx >= 0 {
			return "", errors.New("fake: service exists")
		}
		key.SchedName = WeightedLeastConnection
		if err := parseServiceOptions(&key, opts); err != nil {
			return "", err
		}
		f.ipvs = append(f.ipvs, key)
		return "", nil
	}
	if idx < 0 {
		return "", errors.New("fake: no such service")
	}
	svc := &f.ipvs[idx]
	switch fields[0] {
	case "-E":
		key.SchedName = WeightedLeastConnection
		if err := parseServiceOptions(&key, opts); err != nil {
			return "", err
		}
		key.Destinations = svc.Destinations
		*svc = key
	case "-D":
		f.ipvs = slices.Delete(f.ipvs, idx, idx+1)
	case "-a", "-e", "-d":
		d, err := parseDestOptions(opts, svc.Port)
		if err != nil {
			return "", err
		}
		di := slices.IndexFunc(svc.Destinations, func(x Destination) bool { return x.Key() == d.Key() })
		switch {
		case fields[0] == "-a" && di < 0:
			svc.Destinations = append(svc.Destinations, d)
		case fields[0] == "-e" && di >= 0:
			svc.Destinations[di] = d
		case fields[0] == "-d" && di >= 0:
			svc.Destinations = slices.Delete(svc.Destinations, di, di+1)
		default:
			return "", fmt.Errorf("fake: %s: real server state does not allow it", cmd)
		}
	default:
		return "", fmt.Errorf("fake: unknown ipvsadm command %q", cmd)
	}
	return "", nil
}

func (f *fakeExec) ReadFile(ctx context.Context, path string) ([]byte, bool, error) {
	file, ok := f.files[path]
	if !ok {
		return nil, false, nil
	}
	return slices.Clone(file.data), true, nil
}

func (f *fakeExec) WriteFile(ctx context.Context, path string, data []byte, mode fs.FileMode) error {
	f.writes = append(f.writes, path)
	f.files[path] = fakeFile{data: slices.Clone(data), mode: mode}
	return nil
}

// fakeReaddresser is a fakeExec that can run detached and reconnect.
type fakeReaddresser struct {
	*fakeExec
	addr       string
	detached   []string
	reconnects []string
}

func (f *fakeReaddresser) RunDetached(ctx context.Context, cmd string) error {
	f.detached = append(f.detached, cmd)
	_, err := f.Run(ctx, cmd)
	return err
}

func (f *fakeReaddresser) Reconnect(ctx context.Context, newAddr string) error {
	f.reconnects = append(f.reconnects, newAddr)
	f.addr = newAddr
	return nil
}

func (f *fakeReaddresser) Addr() string { return f.addr }
