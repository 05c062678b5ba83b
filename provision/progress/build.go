package progress

import (
	"fmt"
	"strings"
)

// The events of "lvslab image build".

// PhaseStarted: phase N of Total of an image build begins.
type PhaseStarted struct {
	N     int    `json:"n"`
	Total int    `json:"total"`
	Title string `json:"title"`
}

// PhaseDone: the phase ended, well or with Error.
type PhaseDone struct {
	N       int      `json:"n"`
	Total   int      `json:"total"`
	Title   string   `json:"title"`
	Elapsed Duration `json:"seconds"`
	Error   string   `json:"error,omitempty"`
}

// BuildStale: an image of the name exists but lacks packages the recipe
// now installs (Missing), or an older recipe built it: it is built again.
type BuildStale struct {
	Name    string   `json:"name"`
	Missing []string `json:"missing,omitempty"`
	Recipe  int      `json:"recipe"`
	Now     int      `json:"now"`
}

// BuildExists: the image is built already; nothing is done.
type BuildExists struct {
	Name string `json:"name"`
	Dir  string `json:"dir"`
}

// BuildDone: the image is built, into Dir.
type BuildDone struct {
	Name      string   `json:"name"`
	Dir       string   `json:"dir"`
	DiskBytes int64    `json:"disk_bytes"`
	Elapsed   Duration `json:"seconds"`
}

// ImportDone: a disk is imported into the store as image Name, with what
// lvslab read on it: its OS, how it boots, how a new VM of it is seeded
// and what manages its network ("" when unknown).
type ImportDone struct {
	Name    string   `json:"name"`
	Dir     string   `json:"dir"`
	OS      string   `json:"os"`
	Boot    string   `json:"boot"`
	Seeding string   `json:"seeding"`
	Network string   `json:"network,omitempty"`
	Elapsed Duration `json:"seconds"`
}

func phaseLabel(n, total int, title string) string { return fmt.Sprintf("[%d/%d] %s", n, total, title) }

func (e PhaseStarted) label() string { return phaseLabel(e.N, e.Total, e.Title) }
func (e PhaseDone) label() string    { return phaseLabel(e.N, e.Total, e.Title) }

func (e PhaseDone) status() string {
	if e.Error != "" {
		return "FAILED"
	}
	return "done"
}

func (e PhaseStarted) text() string { return e.label() + " ...\n" }

func (e PhaseDone) text() string {
	return fmt.Sprintf("%s: %s in %s\n", e.label(), e.status(), e.Elapsed.tenths())
}

// ttyText is the phase's end on a terminal: its ticking line, finished.
func (e PhaseDone) ttyText() string {
	return fmt.Sprintf("\r%s ... %s in %s\x1b[K\n", e.label(), e.status(), e.Elapsed.tenths())
}

func (e BuildStale) text() string {
	if len(e.Missing) > 0 {
		return fmt.Sprintf("image %q lacks %s, which lvslab's recipe now installs: rebuilding it\n", e.Name, strings.Join(e.Missing, ", "))
	}
	return fmt.Sprintf("image %q was built by an older recipe (revision %d, now %d): rebuilding it\n", e.Name, e.Recipe, e.Now)
}

func (e BuildExists) text() string {
	return fmt.Sprintf("image %q is already built in %s (use --force to rebuild it)\n", e.Name, e.Dir)
}

func (e BuildDone) text() string {
	return fmt.Sprintf("image %q built in %s: disk %.0f MB, in %s\n", e.Name, e.Elapsed.tenths(), float64(e.DiskBytes)/1e6, e.Dir)
}

func (e ImportDone) text() string {
	network := e.Network
	if network == "" {
		network = "unknown"
	}
	return fmt.Sprintf("image %q imported in %s: %s, %s, seeded by %s, network %s\n", e.Name, e.Elapsed.tenths(), e.OS, e.Boot, e.Seeding, network)
}
