package engine

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/topology/ipvs"
	"github.com/lvslab/lvslab/topology/ipvs/ipvstest"
)

// fakeExec is a recording Executor: a virtual filesystem, a scripted set of
// checks that pass, a simulated IPVS table that understands the ipvsadm
// commands Apply runs, and effects that make a step's check pass once its
// last Apply command ran.
type fakeExec struct {
	files   map[string]fakeFile
	passing map[string]bool     // checks that exit 0
	effects map[string][]string // command -> checks it makes pass
	kernel  *ipvstest.Kernel    // the director's IPVS table
	ran     []string
	writes  []string
	reads   []string // files read whole (not by the survey's checksums)
	// slow: a passing check still reads as differing this many more times
	// (a change that takes effect asynchronously).
	slow map[string]int
}

type fakeFile struct {
	data []byte
	mode fs.FileMode
}

func newFake() *fakeExec {
	f := &fakeExec{files: map[string]fakeFile{}, passing: map[string]bool{}, effects: map[string][]string{}, kernel: ipvstest.New(nil)}
	f.kernel.ReadFile = func(path string) ([]byte, bool) {
		file, ok := f.files[path]
		return file.data, ok
	}
	return f
}

// learn teaches the fake what each step's commands achieve.
func (f *fakeExec) learn(steps []catalog.Step) {
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
		if strings.HasPrefix(c, "if { ") || isSurvey(c) || c == ipvs.SaveCommand || c == ipvs.ThresholdsCommand {
			continue
		}
		out = append(out, c)
	}
	return out
}

func (f *fakeExec) Run(ctx context.Context, cmd string) (string, error) {
	if isSurvey(cmd) {
		f.ran = append(f.ran, cmd)
		return f.survey(ctx, cmd)
	}
	if cmds, survey, ok := splitApplied(cmd); ok {
		// Commands, then a survey in the same round trip: each command
		// recorded (and effective) as if run alone.
		for _, c := range cmds {
			if _, err := f.Run(ctx, c); err != nil {
				return "", err
			}
		}
		return f.Run(ctx, survey)
	}
	f.ran = append(f.ran, cmd)
	if strings.HasPrefix(cmd, "if { ") {
		check, _, ok := strings.Cut(strings.TrimPrefix(cmd, "if { "), "\n} >/dev/null 2>&1; then")
		if !ok {
			return "", fmt.Errorf("fake: malformed check command %q", cmd)
		}
		if f.passing[check] && f.slow[check] > 0 {
			f.slow[check]--
			return checkDiffers + "\n", nil
		}
		if f.passing[check] {
			return checkOK + "\n", nil
		}
		return checkDiffers + "\n", nil
	}
	if ipvstest.Handles(cmd) {
		for _, c := range f.effects[cmd] {
			f.passing[c] = true
		}
		return f.kernel.Run(cmd)
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

func (f *fakeExec) ReadFile(ctx context.Context, path string) ([]byte, bool, error) {
	f.reads = append(f.reads, path)
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

// countChecks counts, among the commands a fake ran, the single checks
// ("if { ...") and the surveys.
func countChecks(ran []string) (single, surveys int) {
	for _, c := range ran {
		switch {
		case strings.HasPrefix(c, "if { "):
			single++
		case isSurvey(c):
			surveys++
		}
	}
	return single, surveys
}

// isSurvey tells a survey script from other commands.
func isSurvey(cmd string) bool {
	before, _, _, ok := guest.ReadScript(cmd)
	return ok && before == ""
}

// survey answers a survey script section by section, as a node would.
func (f *fakeExec) survey(ctx context.Context, cmd string) (string, error) {
	var out strings.Builder
	_, marker, sections, _ := guest.ReadScript(cmd)
	for _, sec := range sections {
		name, body := sec.Name, sec.Script
		out.WriteString(guest.Frame(marker, name))
		switch {
		case name == secOS:
			for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
				if file, ok := f.files[p]; ok {
					out.Write(file.data)
					break
				}
			}
		case name == secFiles:
			list, _, _ := strings.Cut(strings.TrimPrefix(body, "set --; for f in "), "; do")
			for _, p := range strings.Fields(list) {
				if file, ok := f.files[strings.Trim(p, "'")]; ok {
					fmt.Fprintf(&out, "%x  %s\n", sha256.Sum256(file.data), strings.Trim(p, "'"))
				}
			}
		case strings.HasPrefix(name, secCheck):
			verdict, err := f.Run(ctx, strings.TrimSuffix(body, "\n"))
			if err != nil {
				return "", err
			}
			f.ran = f.ran[:len(f.ran)-1]
			out.WriteString(verdict)
		case name == secIPVS:
			rules, err := f.kernel.Run(ipvs.SaveCommand)
			if err != nil {
				out.WriteString(guest.Frame(marker, secIPVSFail) + err.Error() + "\n")
				continue
			}
			if rules != "" {
				th, _ := f.kernel.Run(ipvs.ThresholdsCommand)
				out.WriteString(rules + "\n" + th)
			}
		}
	}
	return out.String(), nil
}

// splitApplied splits runAndSurvey's script into its commands and survey.
func splitApplied(script string) ([]string, string, bool) {
	body, _, _, ok := guest.ReadScript(script)
	if !ok || !strings.HasPrefix(body, "{ ") {
		return nil, "", false
	}
	survey := strings.TrimPrefix(script, body)
	body = strings.TrimSuffix(body, "\n")
	var cmds []string
	for _, part := range strings.Split(strings.TrimPrefix(body+"\n", "{ "), "\n} || exit $?\n") {
		if part = strings.TrimPrefix(part, "{ "); part != "" {
			cmds = append(cmds, part)
		}
	}
	return cmds, survey, true
}
