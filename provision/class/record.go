package class

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/lvslab/lvslab/provision/paths"
)

// Record is where a class's copies live, kept in lvslab's home
// (paths.Root's ClassRecord) so that every class command finds each copy (the
// copies' tags in libvirt say the same from the hosts' side).
type Record struct {
	Class string `json:"class"`
	// File is the class file, Lab the lab it was brought up from.
	File   string       `json:"file"`
	Lab    string       `json:"lab"`
	Copies []CopyRecord `json:"copies"`
}

// CopyRecord is one student's copy: its lab name on its host.
type CopyRecord struct {
	Student string `json:"student"`
	Host    string `json:"host"`
	Copy    string `json:"copy"`
}

// ReadRecord reads class's record; a class never brought up has an empty
// one.
func ReadRecord(root paths.Root, class string) (*Record, error) {
	path := root.ClassRecord(class)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Record{Class: class}, nil
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("class record %s: %w", path, err)
	}
	if r.Class != class {
		return nil, fmt.Errorf("class record %s is of class %q", path, r.Class)
	}
	return &r, nil
}

// Placement is the recorded student -> host.
func (r *Record) Placement() Placement {
	p := Placement{}
	for _, c := range r.Copies {
		p[c.Student] = c.Host
	}
	return p
}

// Set records student's copy on host (replacing what was recorded).
func (r *Record) Set(student, host, copyName string) {
	r.Remove(student)
	r.Copies = append(r.Copies, CopyRecord{Student: student, Host: host, Copy: copyName})
	sort.Slice(r.Copies, func(i, j int) bool { return r.Copies[i].Student < r.Copies[j].Student })
}

// Remove forgets student's copy.
func (r *Record) Remove(student string) {
	for i, c := range r.Copies {
		if c.Student == student {
			r.Copies = append(r.Copies[:i], r.Copies[i+1:]...)
			return
		}
	}
}

// Write saves the record (atomically: a crash leaves the old or the new
// one); a record with no copy left is removed.
func (r *Record) Write(root paths.Root) error {
	path := root.ClassRecord(r.Class)
	if len(r.Copies) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return paths.WriteFileAtomic(path, append(data, '\n'), 0o600)
}
