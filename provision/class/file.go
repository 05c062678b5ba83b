// Package class is a classroom of lab copies spread over libvirt hosts: the
// class file (which lab, which students, which hosts), the placement of one
// copy per student by the hosts' free memory, the record of where each copy
// lives, bounded batches of per-copy work, and the class's report (text,
// JSON, JUnit, HTML). Everything here is plain data: the commands hand it
// the hosts' figures and the per-copy results.
package class

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/topology"
)

// Kind is the class file's kind, in messages.
var Kind = topology.FileKind{File: "class file", Item: "class", Hint: "give the path of a YAML class file (lvslab class --help shows one)"}

// Defaults and bounds of a class file.
const (
	// DefaultBatch is how many copies are brought up at a time: under TCG
	// four VMs boot in ~88 s on two cores, and a boot's SSH wait is bounded,
	// so thirty copies booting together would all time out.
	DefaultBatch = 4
	MaxBatch     = 64
	MaxStudents  = 999
	// DefaultVMOverhead is the host memory a VM takes beyond its guest
	// memory, in MiB: under TCG lvslab's 128 MiB translation cache plus
	// QEMU's own (make bench-class: 1491-1499 MiB of QEMU RSS per copy of
	// four 512 MiB guests, so a guest that fills its memory stays under
	// guest + 256). KVM hosts need less: set vm_overhead.
	DefaultVMOverhead = 256
	// MinHostMemory is the smallest memory capacity a host may give.
	MinHostMemory = 128
)

// Class is a validated class file.
type Class struct {
	Name string
	// File is the class file's path.
	File string
	// LabRef is the lab as the file gives it (an embedded lab's name, or a
	// path made absolute); Lab is that lab, loaded.
	LabRef string
	Lab    *topology.Lab
	// Students in file order (or s01..sNN from a count).
	Students []string
	Hosts    []Host
	// Batch is how many copies are brought up at a time.
	Batch int
	// VMOverhead is each VM's host memory beyond its guest's, in MiB.
	VMOverhead int
}

// Host is one libvirt host of the class.
type Host struct {
	URI string
	// MaxCopies bounds the copies placed here (0: no bound but memory).
	MaxCopies int
	// Memory bounds the host memory the class's copies take here, in MiB
	// (0: only the free memory libvirt reports).
	Memory int
}

// Copy is the lab name of student's copy: <class>-<student>.
func (c *Class) Copy(student string) string { return CopyName(c.Name, student) }

// CopyName is the lab name of a student's copy of a class.
func CopyName(class, student string) string { return class + "-" + student }

// CopyMemory is the host memory one copy needs, in MiB: each node's guest
// memory plus VMOverhead.
func (c *Class) CopyMemory() int64 {
	var m int64
	for _, n := range c.Lab.Nodes {
		m += int64(n.Memory + c.VMOverhead)
	}
	return m
}

// Host is the class's host of uri, or nil.
func (c *Class) Host(uri string) *Host {
	for i := range c.Hosts {
		if c.Hosts[i].URI == uri {
			return &c.Hosts[i]
		}
	}
	return nil
}

type rawClass struct {
	Name       string     `yaml:"name"`
	Lab        string     `yaml:"lab"`
	Students   []string   `yaml:"students"`
	Count      *int       `yaml:"count"`
	Hosts      []*rawHost `yaml:"hosts"`
	Batch      *int       `yaml:"batch"`
	VMOverhead *int       `yaml:"vm_overhead"`
}

type rawHost struct {
	URI       string `yaml:"uri"`
	MaxCopies *int   `yaml:"max_copies"`
	Memory    *int   `yaml:"memory"`
}

// LoadFile reads and validates a class file; its lab, given as a path, is
// read relative to the class file's folder.
func LoadFile(path string) (*Class, error) {
	data, err := topology.ReadFile(path, Kind)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no class file %s (a class file names the lab, the students and the hosts: \"lvslab class --help\" shows one)", path)
	}
	if err != nil {
		return nil, err
	}
	return Load(path, data)
}

// Load decodes and validates a class file named path. On failure the error
// is topology.Problems, every problem at its file:line:col.
func Load(path string, data []byte) (*Class, error) {
	var raw rawClass
	src, err := topology.Decode(path, data, Kind, &raw)
	if err != nil {
		return nil, err
	}
	c := &Class{Name: raw.Name, File: path, Batch: DefaultBatch, VMOverhead: DefaultVMOverhead}
	switch {
	case raw.Name == "":
		src.Add("name", "missing: the class's name (it prefixes every copy: <name>-<student>)")
	case !topology.IsLabName(raw.Name):
		src.Add("name", "%q is not a usable name: a lower-case letter, then lower-case letters, digits or '-'", raw.Name)
	}
	c.loadLab(src, raw.Lab)
	c.students(src, &raw)
	c.hosts(src, raw.Hosts)
	if raw.Batch != nil {
		if *raw.Batch < 1 || *raw.Batch > MaxBatch {
			src.Add("batch", "%d: copies brought up at a time, 1 to %d", *raw.Batch, MaxBatch)
		}
		c.Batch = *raw.Batch
	}
	if raw.VMOverhead != nil {
		if *raw.VMOverhead < 0 || *raw.VMOverhead > 65536 {
			src.Add("vm_overhead", "%d: each VM's host memory beyond its guest's, in MiB, 0 to 65536", *raw.VMOverhead)
		}
		c.VMOverhead = *raw.VMOverhead
	}
	if err := src.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Class) loadLab(src *topology.Source, ref string) {
	if ref == "" {
		src.Add("lab", "missing: the lab every student gets a copy of (an embedded lab's name, or a lab file's path)")
		return
	}
	// A path is the class file's neighbour, and recorded absolute so that
	// every later command (and the copies' tags) finds the same file.
	if strings.ContainsAny(ref, "/.") && !filepath.IsAbs(ref) {
		if abs, err := filepath.Abs(filepath.Join(filepath.Dir(c.File), ref)); err == nil {
			ref = abs
		}
	}
	lab, err := labs.Load(ref)
	if err != nil {
		src.Add("lab", "%s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return
	}
	c.LabRef, c.Lab = ref, lab
}

func (c *Class) students(src *topology.Source, raw *rawClass) {
	switch {
	case raw.Count != nil && raw.Students != nil:
		src.Add("count", "give the students either by name (students:) or by number (count:), not both")
		return
	case raw.Count != nil:
		n := *raw.Count
		if n < 1 || n > MaxStudents {
			src.Add("count", "%d students: 1 to %d", n, MaxStudents)
			return
		}
		width := max(2, len(fmt.Sprint(n)))
		for i := 1; i <= n; i++ {
			c.Students = append(c.Students, fmt.Sprintf("s%0*d", width, i))
		}
	case len(raw.Students) == 0:
		src.Add("students", "missing: the students, a list of names (students: [alice, bob]) or a number (count: 30 gives s01..s30)")
		return
	default:
		if len(raw.Students) > MaxStudents {
			src.Add("students", "%d students: at most %d", len(raw.Students), MaxStudents)
			return
		}
		seen := map[string]bool{}
		for i, s := range raw.Students {
			path := fmt.Sprintf("students[%d]", i)
			switch {
			case !topology.IsLabName(s):
				src.Add(path, "%q is not a usable student name: a lower-case letter, then lower-case letters, digits or '-' (it names the copy's VMs)", s)
				continue
			case seen[s]:
				src.Add(path, "student %q given twice", s)
				continue
			}
			seen[s] = true
			c.Students = append(c.Students, s)
		}
	}
	if c.Name == "" || !topology.IsLabName(c.Name) {
		return
	}
	path := "students"
	if raw.Count != nil {
		path = "count"
	}
	for i, s := range c.Students {
		if !topology.IsLabName(c.Copy(s)) {
			if raw.Count == nil {
				path = fmt.Sprintf("students[%d]", i)
			}
			src.Add(path, "the copy's lab name %q is too long: class name and student name together take at most 19 characters", c.Copy(s))
			return
		}
	}
}

func (c *Class) hosts(src *topology.Source, raw []*rawHost) {
	if len(raw) == 0 {
		src.Add("hosts", "missing: the libvirt hosts, a list of - uri: qemu+ssh://user@host/system (optional max_copies:, memory: in MiB)")
		return
	}
	seen := map[string]bool{}
	for i, h := range raw {
		path := fmt.Sprintf("hosts[%d]", i)
		if h == nil {
			src.Add(path, "empty: give uri: (and optionally max_copies:, memory:)")
			continue
		}
		host := Host{URI: h.URI}
		switch {
		case h.URI == "":
			src.Add(path+".uri", "missing: the host's libvirt URI, as virsh -c takes it")
		case !strings.Contains(h.URI, ":"):
			src.Add(path+".uri", "%q is not a libvirt URI (qemu+ssh://user@host/system, qemu:///system)", h.URI)
		case seen[h.URI]:
			src.Add(path+".uri", "host %s given twice", h.URI)
		}
		seen[h.URI] = true
		if h.MaxCopies != nil {
			if *h.MaxCopies < 1 || *h.MaxCopies > MaxStudents {
				src.Add(path+".max_copies", "%d: at most this many copies on the host, 1 to %d (leave it out for no bound)", *h.MaxCopies, MaxStudents)
			}
			host.MaxCopies = *h.MaxCopies
		}
		if h.Memory != nil {
			if *h.Memory < MinHostMemory {
				src.Add(path+".memory", "%d MiB: the host memory the class may take there, at least %d MiB (leave it out for the free memory libvirt reports)", *h.Memory, MinHostMemory)
			}
			host.Memory = *h.Memory
		}
		c.Hosts = append(c.Hosts, host)
	}
}
