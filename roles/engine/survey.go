package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/guest"
	"github.com/lvslab/lvslab/roles/shell"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// Survey tells what Apply would do to a node, changing nothing: each step
// unchanged, or changed with the file Apply would write and the commands it
// would run (for the IPVS table, the ipvsadm edits that bring it to the
// lab's). Every check is read as the node is now, so a step that only
// differs because an earlier one has not run yet shows as changed too.
func Survey(ctx context.Context, exec guest.Executor, steps []catalog.Step) (Result, error) {
	var res Result
	f, err := survey(ctx, exec, steps, 0, false)
	if err != nil {
		return res, err
	}
	for i := range steps {
		step := &steps[i]
		sr := StepResult{Name: step.Name, Status: StatusUnchanged}
		if step.Kind == catalog.KindIPVS {
			current, err := f.table(ctx, exec)
			if err != nil {
				return res, err
			}
			if cmds := ipvs.Commands(ipvs.Diff(current, step.IPVS)); len(cmds) > 0 {
				sr.Status, sr.Commands = StatusChanged, cmds
			}
		} else {
			same, err := inspect(ctx, exec, step, f, i)
			if err != nil {
				return res, err
			}
			if !same {
				sr.Status, sr.Commands = StatusChanged, step.Apply
				if step.File != nil {
					sr.Wrote = step.File.Path
				}
			}
		}
		res.Steps = append(res.Steps, sr)
	}
	return res, nil
}

// facts is what one survey read of a node, in one command (under TCG
// every SSH session costs a few tenths of a second and every process the
// guest starts about a tenth): each check's verdict, the checksum of each
// step file that exists, the IPVS table and, when asked, os-release.
type facts struct {
	osRelease string
	owner     string            // catalog.Owner*, read with os-release
	verdicts  map[int]bool      // by step index
	sums      map[string]string // path -> hex SHA-256, for the files that exist
	ipvsRead  bool              // the table was asked for
	ipvs      []ipvs.Service
	ipvsErr   error
}

// The survey's sections (guest.Probe): "check 3" is step 3's verdict.
const (
	secOS       = "os"
	secFiles    = "files"
	secCheck    = "check "
	secUnits    = "units"
	secIPVS     = "ipvs"
	secIPVSFail = "ipvs-error"
)

// surveyProbe reads the facts steps[from:] depend on, and os-release when
// withOS. Files are compared by checksum, all in one sha256sum; a file it
// does not list is read whole (missing, or no sha256sum on the node).
func surveyProbe(steps []catalog.Step, from int, withOS bool) *guest.Probe {
	p := guest.NewProbe()
	if withOS {
		// The shell's own read and printf: no process.
		p.Section(secOS, readOSRelease)
		p.Section(secOwner, catalog.OwnerProbe)
	}
	var paths []string
	for _, st := range steps[from:] {
		if st.File != nil {
			paths = append(paths, shell.Quote(st.File.Path))
		}
	}
	if len(paths) > 0 {
		p.Section(secFiles, fmt.Sprintf("set --; for f in %s; do [ -f \"$f\" ] && set -- \"$@\" \"$f\"; done; [ $# = 0 ] || sha256sum -- \"$@\" 2>/dev/null", strings.Join(paths, " ")))
	}
	p.Add(catalog.Helpers(catalog.StepChecks(steps[from:])...))
	// One systemctl read of every unit pays from the second test.
	if units, tests := unitsChecked(steps[from:]); tests > 1 {
		p.Section(secUnits, unitsPrelude(units))
	}
	table := false
	for i := from; i < len(steps); i++ {
		st := &steps[i]
		if st.Kind == catalog.KindIPVS {
			table = true
			continue
		}
		if st.Check != "" {
			p.Section(secCheck+strconv.Itoa(i), checkCommand(st.Check))
		}
	}
	if table {
		// Thresholds only when there are services: -Sn leaves them out.
		p.Section(secIPVS, "")
		p.Add(fmt.Sprintf("if o=$(%s 2>&1); then [ -z \"$o\" ] || { printf '%%s\\n' \"$o\"; %s; }; else %s; printf '%%s\\n' \"$o\"; fi",
			ipvs.SaveCommand, ipvs.ThresholdsCommand, p.Mark(secIPVSFail)))
	}
	return p
}

// readOSRelease prints os-release with the shell's own read and printf: no
// process.
const readOSRelease = `for f in /etc/os-release /usr/lib/os-release; do [ -f "$f" ] && { while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done <"$f"; break; }; done`

// bootWaitSeconds bounds the survey's wait for a node's boot to finish.
const bootWaitSeconds = 60

// unitRe finds the unit tests of checks: "systemctl is-enabled -q apache2".
var unitRe = regexp.MustCompile(`systemctl is-(?:enabled|active) -q ([A-Za-z0-9@_.:-]+)`)

// unitsChecked lists the units the steps' checks ask systemctl about, and
// how many tests they make.
func unitsChecked(steps []catalog.Step) (out []string, tests int) {
	for _, st := range steps {
		for _, m := range unitRe.FindAllStringSubmatch(st.Check, -1) {
			tests++
			u := m[1]
			if !strings.Contains(u, ".") {
				u += ".service"
			}
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out, tests
}

// unitsPrelude reads every unit the checks ask about with one systemctl
// (each systemctl costs more than a tenth of a second in a TCG guest) and
// makes "systemctl is-enabled -q U" and "is-active -q U", for the rest of
// the survey only, answer from that read by the shell itself, with
// systemctl's own verdicts: enabled, enabled-runtime, static, alias,
// indirect and generated count as enabled; active, reloading and
// refreshing as active. Anything else, or a unit the read lacks, goes to
// systemctl itself.
//
// A unit still starting or stopping (the SSH login can come before the
// boot's last units, apache2 among them) is read again once the boot's
// jobs are done: is-system-running --wait returns at once on a booted
// node, and a node that is up is never waited for.
func unitsPrelude(units []string) string {
	read := `lvslab_units=$(systemctl show -p Id -p UnitFileState -p ActiveState -- ` + strings.Join(units, " ") + ` 2>/dev/null)`
	return read + `
case $lvslab_units in *ActiveState=activating* | *ActiveState=deactivating* | *ActiveState=reloading*)
	timeout ` + strconv.Itoa(bootWaitSeconds) + ` systemctl is-system-running --wait >/dev/null 2>&1
	` + read + ` ;;
esac
lvslab_unit() {
	lvslab_u=$2; case $lvslab_u in *.*) ;; *) lvslab_u=$lvslab_u.service ;; esac
	lvslab_id= lvslab_en= lvslab_ac=
	while IFS= read -r lvslab_l; do
		case $lvslab_l in
		Id=*) lvslab_id=${lvslab_l#Id=} ;;
		UnitFileState=*) lvslab_en=${lvslab_l#UnitFileState=} ;;
		ActiveState=*) lvslab_ac=${lvslab_l#ActiveState=} ;;
		'') [ "$lvslab_id" = "$lvslab_u" ] && break || { lvslab_id= lvslab_en= lvslab_ac=; } ;;
		esac
	done <<LVSLAB_UNITS
$lvslab_units

LVSLAB_UNITS
	[ "$lvslab_id" = "$lvslab_u" ] || return 2
	case $1:$lvslab_en:$lvslab_ac in
	enabled:enabled:* | enabled:enabled-runtime:* | enabled:static:* | enabled:alias:* | enabled:indirect:* | enabled:generated:*) return 0 ;;
	active:*:active | active:*:reloading | active:*:refreshing) return 0 ;;
	esac
	return 1
}
systemctl() {
	case "$1 $2 $#" in
	"is-enabled -q 3" | "is-active -q 3") lvslab_unit "${1#is-}" "$3"; lvslab_r=$?; [ "$lvslab_r" = 2 ] || return "$lvslab_r" ;;
	esac
	command systemctl "$@"
}`
}

// survey reads the facts of steps[from:] in one command.
func survey(ctx context.Context, exec guest.Executor, steps []catalog.Step, from int, withOS bool) (*facts, error) {
	p := surveyProbe(steps, from, withOS)
	out, err := exec.Run(ctx, p.Script())
	if err != nil {
		return nil, fmt.Errorf("survey the node: %w", err)
	}
	return parseSurvey(p, out)
}

func parseSurvey(p *guest.Probe, out string) (*facts, error) {
	f := &facts{verdicts: map[int]bool{}, sums: map[string]string{}}
	a, err := p.Parse(out)
	if err != nil {
		return nil, fmt.Errorf("the survey's answer: %w", err)
	}
	f.osRelease = strings.Join(a.Lines(secOS), "\n")
	f.owner = catalog.ParseOwner(a.Text(secOwner))
	for _, line := range a.Lines(secFiles) {
		// "SUM  PATH" ("SUM *PATH" in binary mode); an odd path comes
		// escaped, "\\SUM ...": left to ReadFile.
		sum, rest, ok := strings.Cut(line, " ")
		if ok && len(sum) == 64 && len(rest) > 1 {
			f.sums[rest[1:]] = sum
		}
	}
	for _, name := range a.Names() {
		lines := a.Lines(name)
		idx, ok := strings.CutPrefix(name, secCheck)
		if !ok {
			continue
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			return nil, fmt.Errorf("the survey printed %q", name)
		}
		switch strings.TrimSpace(strings.Join(lines, "")) {
		case checkOK:
			f.verdicts[i] = true
		case checkDiffers:
			f.verdicts[i] = false
		}
	}
	if a.Has(secIPVSFail) {
		f.ipvsRead, f.ipvsErr = true, fmt.Errorf("read the IPVS table: %s", strings.TrimSpace(a.Text(secIPVSFail)))
	} else if a.Has(secIPVS) {
		f.ipvsRead = true
		if f.ipvs, f.ipvsErr = ipvs.ParseRules(a.Text(secIPVS)); f.ipvsErr != nil {
			f.ipvsErr = fmt.Errorf("read the IPVS table: %w", f.ipvsErr)
		}
	}
	return f, nil
}

// table is the IPVS table as the survey read it, read again when it did not.
func (f *facts) table(ctx context.Context, exec guest.Executor) ([]ipvs.Service, error) {
	if f != nil && f.ipvsRead {
		return f.ipvs, f.ipvsErr
	}
	return ipvs.New(exec.Run).Rules(ctx)
}

// sameFile tells whether the node's copy of a step's file has the wanted
// content: by the survey's checksum, else by reading it.
func (f *facts) sameFile(ctx context.Context, exec guest.Executor, file *catalog.File) (bool, error) {
	if f != nil {
		if sum, ok := f.sums[file.Path]; ok {
			want := sha256.Sum256([]byte(file.Content))
			return sum == hex.EncodeToString(want[:]), nil
		}
	}
	data, exists, err := exec.ReadFile(ctx, file.Path)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", file.Path, err)
	}
	return exists && string(data) == file.Content, nil
}

// wrote records that file now has its wanted content.
func (f *facts) wrote(file *catalog.File) {
	sum := sha256.Sum256([]byte(file.Content))
	f.sums[file.Path] = hex.EncodeToString(sum[:])
}

// verdict is the survey's verdict on step i's check, if it read one.
func (f *facts) verdict(i int) (bool, bool) {
	if f == nil {
		return false, false
	}
	v, ok := f.verdicts[i]
	return v, ok
}
