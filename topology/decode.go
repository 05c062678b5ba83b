package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

// The raw shape of a lab file, as a teacher writes it. Field names here are
// the file's vocabulary; validation turns this into a Lab.
type rawLab struct {
	Name        string                 `yaml:"name"`
	Description string                 `yaml:"description"`
	Image       string                 `yaml:"image"`
	WebServer   string                 `yaml:"web_server"`
	Login       rawLogin               `yaml:"login"`
	Networks    map[string]*rawNetwork `yaml:"networks"`
	Nodes       map[string]*rawNode    `yaml:"nodes"`
	Services    []*rawService          `yaml:"services"`
}

type rawLogin struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

type rawNetwork struct {
	CIDR   string `yaml:"cidr"`
	Host   string `yaml:"host"`
	Bridge string `yaml:"bridge"`
}

type rawNode struct {
	Role      string             `yaml:"role"`
	NICs      map[string]*rawNIC `yaml:"nics"`
	Gateway   string             `yaml:"gateway"`
	Page      *string            `yaml:"page"`
	WebServer string             `yaml:"web_server"`
	Memory    *int               `yaml:"memory"`
	VCPUs     *int               `yaml:"vcpus"`
}

type rawNIC struct {
	Network string `yaml:"network"`
	Address string `yaml:"address"`
	MAC     string `yaml:"mac"`
}

type rawService struct {
	Name            string           `yaml:"name"`
	VIP             string           `yaml:"vip"`
	Port            *int             `yaml:"port"`
	Ports           []int            `yaml:"ports"`
	Protocol        string           `yaml:"protocol"`
	FWMark          int64            `yaml:"fwmark"`
	Mode            string           `yaml:"mode"`
	Scheduler       string           `yaml:"scheduler"`
	Persistence     int64            `yaml:"persistence"`
	VIPPrefix       *int             `yaml:"vip_prefix"`
	RealServerVIPPx *int             `yaml:"real_server_vip_prefix"`
	RealServers     []*rawRealServer `yaml:"real_servers"`
	Keepalived      *rawKeepalived   `yaml:"keepalived"` // keepalived.go
}

type rawRealServer struct {
	Node   string `yaml:"node"`
	Weight *int64 `yaml:"weight"`
	Port   *int   `yaml:"port"`
	Upper  int64  `yaml:"upper"`
	Lower  int64  `yaml:"lower"`
}

// pos is where a value sits in the file.
type pos struct{ line, col int }

// document keeps what decoding learnt besides the values: positions of every
// field path and the order of map keys (YAML maps keep the author's order).
type document struct {
	file     string
	at       map[string]pos
	keyOrder map[string][]string
	problems Problems
	// walked caches the walk's verdict on each anchored value per type, so
	// that an alias is checked once and never expanded again.
	walked map[walkKey]bool
	// quiet are the paths the walk found wrong (and the fields a misspelt
	// one probably meant): later rules say nothing more about them.
	quiet []string
}

type walkKey struct {
	n *yaml.Node
	t reflect.Type
}

func (d *document) add(path, format string, args ...any) {
	d.problems = append(d.problems, problemAt(d.file, d.at, path, format, args...))
}

// problemAt is a problem at path's position in a file whose fields are at
// at; a missing field has none: it points at the closest parent that has.
func problemAt(file string, at map[string]pos, path, format string, args ...any) Problem {
	p := at[path]
	for q := path; p.line == 0 && q != ""; {
		q = parentPath(q)
		p = at[q]
	}
	return Problem{File: file, Line: p.line, Col: p.col, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// refuse records a problem the walk found and silences the rules about path.
func (d *document) refuse(path, format string, args ...any) {
	d.add(path, format, args...)
	d.quiet = append(d.quiet, path)
}

// quieted drops the problems of paths the walk already refused: a value
// it threw out must not also be reported missing.
func (d *document) quieted(ps Problems) Problems {
	return slices.DeleteFunc(ps, func(p Problem) bool {
		for _, q := range d.quiet {
			if p.Path == q || strings.HasPrefix(p.Path, q+".") || strings.HasPrefix(p.Path, q+"[") {
				return true
			}
		}
		return false
	})
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// Bounds on what a lab file may cost to read, whatever it holds. The
// embedded labs are about 1.5 KB and 250 values.
const (
	// MaxFileSize is the largest lab file lvslab reads.
	MaxFileSize = 256 << 10
	// MaxValues is how many values a lab may hold once its aliases are
	// expanded: an alias of a list of aliases multiplies, and decoding
	// costs what the expansion holds.
	MaxValues = 20000
)

// FileKind names a kind of YAML file lvslab reads strictly, in its
// messages: File ("lab file"), Item (what one file holds: "lab") and Hint
// (what to give instead of something that is not a file).
type FileKind struct{ File, Item, Hint string }

// LabFile is the lab file's kind.
var LabFile = FileKind{File: "lab file", Item: "lab", Hint: "give the path of a YAML lab file, or the name of an embedded lab (lvslab labs)"}

// LoadFile reads and validates a lab file. Only a regular file of at most
// MaxFileSize is read: a device, FIFO or directory is refused unread.
func LoadFile(path string) (*Lab, error) {
	data, err := ReadFile(path, LabFile)
	if err != nil {
		return nil, err
	}
	return Load(path, data)
}

// ReadFile reads a file of kind: a regular file of at most MaxFileSize,
// anything else refused unread.
func ReadFile(path string, kind FileKind) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if p := notAFile(path, st, kind); p != nil {
		return nil, p
	}
	// Non-blocking: should path become a FIFO after the Stat, the open must
	// not wait for a writer; the Stat of the open file decides.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if p := notAFile(path, st, kind); p != nil {
		return nil, p
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(path, st.Size(), kind)
	}
	return data, nil
}

func notAFile(path string, st fs.FileInfo, kind FileKind) Problems {
	var what string
	switch m := st.Mode(); {
	case m.IsRegular():
		if st.Size() > MaxFileSize {
			return tooLarge(path, st.Size(), kind)
		}
		return nil
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	default:
		what = "not a regular file"
	}
	return Problems{{File: path, Msg: what + ", not a " + kind.File + ": " + kind.Hint}}
}

func tooLarge(name string, size int64, kind FileKind) Problems {
	return Problems{{File: name, Msg: fmt.Sprintf("%d bytes is too large for a %s (at most %d KiB; %ss are a few KB): is it the right file?", size, kind.File, MaxFileSize>>10, kind.File)}}
}

// Load decodes and validates a lab. name is used in messages (a path or
// "embedded:NAME"). On failure the error is Problems with every problem.
func Load(name string, data []byte) (*Lab, error) {
	var raw rawLab
	d, err := decode(name, data, LabFile, &raw)
	if err != nil {
		return nil, err
	}
	walked := len(d.problems)
	lab := d.build(&raw)
	d.problems = append(d.problems[:walked], d.quieted(d.problems[walked:])...)
	if len(d.problems) > 0 {
		return nil, d.problems.sorted()
	}
	lab.File = name
	return lab, nil
}

// decode reads one YAML document strictly into raw (a pointer to a struct
// of yaml-tagged fields), keeping every path's position. Problems the walk
// found but could decode past stay in d.problems for the caller to add to.
func decode(name string, data []byte, kind FileKind, raw any) (*document, error) {
	if len(data) > MaxFileSize {
		return nil, tooLarge(name, int64(len(data)), kind)
	}
	d := &document{file: name, at: map[string]pos{}, keyOrder: map[string][]string{}, walked: map[walkKey]bool{}}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{{File: name, Msg: "the " + kind.File + " is empty"}}
		}
		return nil, Problems{yamlProblem(name, err)}
	}
	if len(root.Content) == 0 {
		return nil, Problems{{File: name, Msg: "the " + kind.File + " is empty"}}
	}
	doc := root.Content[0]
	if p := secondDocument(name, dec, kind); p != nil {
		return nil, Problems{*p}
	}
	if p := fanOut(name, doc, kind); p != nil {
		return nil, Problems{*p}
	}
	if !d.walk(doc, reflect.TypeOf(raw).Elem(), "") {
		return nil, d.problems.sorted()
	}
	if err := doc.Decode(raw); err != nil {
		// The walk should have caught it; place what yaml.v3 says anyway.
		return nil, append(d.problems, d.typeProblems(err)...).sorted()
	}
	return d, nil
}

// Source is a file Decode read: it places problems about its values at
// their file:line:col and keeps the author's order of map keys.
type Source struct {
	d *document
	// walked is how many problems the walk found: the rules' own come after.
	walked int
}

// Decode reads one YAML document of kind strictly into raw, a pointer to a
// struct of yaml-tagged fields (text, whole numbers, pointers, lists, maps
// of names): unknown fields (with the nearest known one), wrong kinds,
// duplicate keys, aliases that fan out and second documents are Problems at
// file:line:col. The Source places the caller's own rules' problems.
func Decode(name string, data []byte, kind FileKind, raw any) (*Source, error) {
	d, err := decode(name, data, kind, raw)
	if err != nil {
		return nil, err
	}
	return &Source{d: d, walked: len(d.problems)}, nil
}

// Add records a problem at path ("hosts[1].uri"), or at its closest
// parent that the file gives.
func (s *Source) Add(path, format string, args ...any) { s.d.add(path, format, args...) }

// Keys are the keys of the map at path, in the file's order.
func (s *Source) Keys(path string) []string { return s.d.keyOrder[path] }

// Err is every problem found (by Decode's walk and by Add), sorted, or nil.
func (s *Source) Err() error {
	// The rules say nothing more about a value the walk refused.
	ps := append(slices.Clone(s.d.problems[:s.walked]), s.d.quieted(s.d.problems[s.walked:])...)
	if len(ps) > 0 {
		return ps.sorted()
	}
	return nil
}

// secondDocument refuses a file that goes on after "---" with another
// document: lvslab would read the first and silently ignore the rest.
func secondDocument(file string, dec *yaml.Decoder, kind FileKind) *Problem {
	var next yaml.Node
	err := dec.Decode(&next)
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		p := yamlProblem(file, err)
		if p.Line == 0 {
			p.Msg = strings.Replace(p.Msg, "not valid YAML: ", "not valid YAML after the first document: ", 1)
		}
		return &p
	case len(next.Content) == 0 || next.Content[0].ShortTag() == "!!null":
		return nil // a bare "---" or "..." at the end holds nothing
	}
	return &Problem{File: file, Line: next.Content[0].Line, Col: next.Content[0].Column,
		Msg: fmt.Sprintf("a second YAML document (after ---): a %s holds one %s; put each %s in a file of its own", kind.File, kind.Item, kind.Item)}
}

// fanOut refuses a document whose aliases expand to more than MaxValues
// values, before anything expands them. Sizes are counted once per node.
func fanOut(file string, doc *yaml.Node, kind FileKind) *Problem {
	sizes := map[*yaml.Node]int{}
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if s, ok := sizes[n]; ok {
			return s
		}
		sizes[n] = MaxValues + 1 // a value that contains itself is endless
		s := 1
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			s = size(n.Alias)
		}
		for _, c := range n.Content {
			s = min(s+size(c), MaxValues+1)
		}
		sizes[n] = s
		return s
	}
	if size(doc) <= MaxValues {
		return nil
	}
	// Point at the alias through which most of it comes.
	n := doc
	for n.Kind != yaml.AliasNode && len(n.Content) > 0 {
		n = slices.MaxFunc(n.Content, func(a, b *yaml.Node) int { return sizes[a] - sizes[b] })
	}
	return &Problem{File: file, Line: n.Line, Col: n.Column,
		Msg: fmt.Sprintf("the aliases of this file expand to more than %d values (a %s has a few hundred): refused, as a fan-out of aliases would take all memory", MaxValues, kind.Item)}
}

func yamlProblem(file string, err error) Problem {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if strings.HasPrefix(msg, "line ") {
		rest := msg[len("line "):]
		if i := strings.Index(rest, ":"); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return Problem{File: file, Line: line, Col: 1, Msg: "not valid YAML: " + msg}
}

// typeProblems places each of yaml.v3's unmarshal errors at its line and,
// when a field starts there, that field's path.
func (d *document) typeProblems(err error) Problems {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Problems{yamlProblem(d.file, err)}
	}
	var out Problems
	for _, e := range te.Errors {
		p := yamlProblem(d.file, errors.New(e))
		p.Msg = strings.TrimPrefix(p.Msg, "not valid YAML: ")
		for path, at := range d.at {
			if at.line == p.Line && (p.Path == "" || at.col < p.Col || path < p.Path) {
				p.Path, p.Col = path, at.col
			}
		}
		out = append(out, p)
	}
	return out
}

// walk checks the YAML tree against the raw types: unknown fields, wrong
// kinds (a list where a map belongs, text where a number belongs), duplicate
// keys. It records every path's position for later messages. It reports
// false for a value that cannot be decoded into t; the caller then drops
// it, so that decoding goes on and the remaining rules still report
// every other problem. An alias is walked once per type at the place of
// its first use, never expanded anew.
func (d *document) walk(n *yaml.Node, t reflect.Type, path string) bool {
	d.at[path] = pos{n.Line, n.Column}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Anchor != "" {
		key := walkKey{n, t}
		if ok, done := d.walked[key]; done {
			if ok {
				d.record(n, t, path, d.at[path])
			}
			return ok
		}
		d.walked[key] = true // a value inside itself: yaml.v3 refuses it
		ok := d.walkValue(n, t, path)
		d.walked[key] = ok
		return ok
	}
	return d.walkValue(n, t, path)
}

func (d *document) walkValue(n *yaml.Node, t reflect.Type, path string) bool {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return true // an empty value: the field keeps its default
	}
	switch t.Kind() {
	case reflect.Struct:
		return d.walkStruct(n, t, path)
	case reflect.Map:
		return d.walkMap(n, t, path)
	case reflect.Slice:
		return d.walkSlice(n, t, path)
	case reflect.String:
		return d.walkString(n, path)
	case reflect.Int, reflect.Int64:
		return d.walkInt(n, path)
	case reflect.Bool:
		return d.walkBool(n, path)
	}
	return true
}

// walkStruct checks a map of fields: each known, given once.
func (d *document) walkStruct(n *yaml.Node, t reflect.Type, path string) bool {
	if !d.expect(n, yaml.MappingNode, path, "a map of fields") {
		return false
	}
	fields := structFields(t)
	known := slices.Sorted(maps.Keys(fields))
	seen := map[string]bool{}
	n.Content = d.keepPairs(n.Content, path, func(k, v *yaml.Node, child string) bool {
		if seen[k.Value] {
			d.at[child] = pos{k.Line, k.Column}
			d.add(child, "field given twice")
			return false
		}
		seen[k.Value] = true
		ft, ok := fields[k.Value]
		if !ok {
			d.at[child] = pos{k.Line, k.Column}
			msg := fmt.Sprintf("unknown field %q", k.Value)
			if s := Suggest(k.Value, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
				if !hasKey(n, s) { // else the rules about the given one still speak
					d.quiet = append(d.quiet, joinPath(path, s))
				}
			}
			d.refuse(child, "%s; known fields here: %s", msg, strings.Join(known, ", "))
			return false
		}
		d.at[child] = pos{v.Line, v.Column}
		return d.walk(v, ft, child)
	})
	return true
}

// walkMap checks a map of names: each given once, in the order kept.
func (d *document) walkMap(n *yaml.Node, t reflect.Type, path string) bool {
	if !d.expect(n, yaml.MappingNode, path, "a map of names") {
		return false
	}
	seen := map[string]bool{}
	n.Content = d.keepPairs(n.Content, path, func(k, v *yaml.Node, child string) bool {
		d.at[child] = pos{k.Line, k.Column}
		if seen[k.Value] {
			d.add(child, "name %q used twice", k.Value)
			return false
		}
		seen[k.Value] = true
		ok := d.walk(v, t.Elem(), child)
		d.at[child] = pos{k.Line, k.Column}
		if ok {
			d.keyOrder[path] = append(d.keyOrder[path], k.Value)
		}
		return ok
	})
	return true
}

// walkSlice checks each item; a refused one becomes null, so indexes stay.
func (d *document) walkSlice(n *yaml.Node, t reflect.Type, path string) bool {
	if !d.expect(n, yaml.SequenceNode, path, "a list") {
		return false
	}
	kept := n.Content[:0:0]
	for i, v := range n.Content {
		if d.walk(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i)) {
			kept = append(kept, v)
		} else {
			kept = append(kept, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: v.Line, Column: v.Column})
		}
	}
	n.Content = kept
	return true
}

// walkString checks a single value that reads as text.
func (d *document) walkString(n *yaml.Node, path string) bool {
	if !d.expect(n, yaml.ScalarNode, path, "a single value") {
		return false
	}
	var s string
	if err := n.Decode(&s); err != nil {
		d.refuse(path, "%s cannot be read as text: %s", kindName(n), strings.TrimPrefix(err.Error(), "yaml: "))
		return false
	}
	if strings.ContainsRune(s, 0) {
		d.refuse(path, "contains a NUL byte: no file or command can carry it")
		return false
	}
	return true
}

// walkInt checks a whole number, given without quotes.
func (d *document) walkInt(n *yaml.Node, path string) bool {
	if !d.expect(n, yaml.ScalarNode, path, "a number") {
		return false
	}
	var v int64
	switch {
	case n.ShortTag() == "!!str" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 && isInt(n.Value):
		d.refuse(path, "expected a number, found the text %q: write it without quotes", n.Value)
		return false
	case n.ShortTag() != "!!int" || n.Decode(&v) != nil:
		d.refuse(path, "expected a whole number, found %q", n.Value)
		return false
	}
	return true
}

// walkBool checks a yes-or-no value: true or false, without quotes.
func (d *document) walkBool(n *yaml.Node, path string) bool {
	if !d.expect(n, yaml.ScalarNode, path, "true or false") {
		return false
	}
	if n.ShortTag() != "!!bool" {
		d.refuse(path, "expected true or false, found %q", n.Value)
		return false
	}
	return true
}

// expect refuses n unless it is of kind; what names the kind for the user.
func (d *document) expect(n *yaml.Node, kind yaml.Kind, path, what string) bool {
	if n.Kind != kind {
		d.refuse(path, "expected %s, found %s", what, kindName(n))
		return false
	}
	return true
}

func hasKey(mapping *yaml.Node, key string) bool {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if mapping.Content[i].Value == key {
			return true
		}
	}
	return false
}

// isInt tells whether s, written plain, would be a YAML whole number.
func isInt(s string) bool {
	var n yaml.Node
	return yaml.Unmarshal([]byte(s), &n) == nil && len(n.Content) == 1 && n.Content[0].ShortTag() == "!!int"
}

// record notes the key order (and, at the alias, the positions) of a value
// the walk checked already under another path: build reads maps in file
// order. The fan-out bound keeps this cheap; no problem is reported twice.
func (d *document) record(n *yaml.Node, t reflect.Type, path string, at pos) {
	if _, ok := d.at[path]; !ok {
		d.at[path] = at
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		fields := structFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if ft, ok := fields[n.Content[i].Value]; ok {
				d.record(n.Content[i+1], ft, joinPath(path, n.Content[i].Value), at)
			}
		}
	case reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.keyOrder[path] = append(d.keyOrder[path], n.Content[i].Value)
			d.record(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), at)
		}
	case reflect.Slice:
		for i, v := range n.Content {
			d.record(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i), at)
		}
	}
}

// keepPairs walks the key/value pairs of a mapping and returns those keep
// accepts; a key that is not a single value is refused here.
func (d *document) keepPairs(content []*yaml.Node, path string, keep func(k, v *yaml.Node, child string) bool) []*yaml.Node {
	var kept []*yaml.Node
	for i := 0; i+1 < len(content); i += 2 {
		k, v := content[i], content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.at[path+".?"] = pos{k.Line, k.Column}
			d.refuse(path+".?", "a key must be a single name, found %s", kindName(k))
			continue
		}
		if keep(k, v, joinPath(path, k.Value)) {
			kept = append(kept, k, v)
		}
	}
	return kept
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// structFields maps yaml tag names to field types.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = f.Type
	}
	return out
}
