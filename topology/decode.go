package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The raw shape of a lab file, as a teacher writes it. Field names here are
// the file's vocabulary; validation turns this into a Lab.
type rawLab struct {
	Name        string                 `yaml:"name"`
	Description string                 `yaml:"description"`
	Image       string                 `yaml:"image"`
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
	Role    string             `yaml:"role"`
	NICs    map[string]*rawNIC `yaml:"nics"`
	Gateway string             `yaml:"gateway"`
	Page    *string            `yaml:"page"`
	Memory  int                `yaml:"memory"`
	VCPUs   int                `yaml:"vcpus"`
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
	Protocol        string           `yaml:"protocol"`
	FWMark          int64            `yaml:"fwmark"`
	Mode            string           `yaml:"mode"`
	Scheduler       string           `yaml:"scheduler"`
	Persistence     int64            `yaml:"persistence"`
	VIPPrefix       *int             `yaml:"vip_prefix"`
	RealServerVIPPx *int             `yaml:"real_server_vip_prefix"`
	RealServers     []*rawRealServer `yaml:"real_servers"`
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
}

func (d *document) add(path, format string, args ...any) {
	p := d.at[path]
	// A missing field has no position; point at the closest parent that has.
	for q := path; p.line == 0 && q != ""; {
		q = parentPath(q)
		p = d.at[q]
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: p.line, Col: p.col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// LoadFile reads and validates a lab file.
func LoadFile(path string) (*Lab, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, data)
}

// Load decodes and validates a lab. name is used in messages (a path or
// "embedded:NAME"). On failure the error is Problems with every problem.
func Load(name string, data []byte) (*Lab, error) {
	d := &document{file: name, at: map[string]pos{}, keyOrder: map[string][]string{}}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{{File: name, Msg: "the lab file is empty"}}
		}
		return nil, Problems{yamlProblem(name, err)}
	}
	if len(root.Content) == 0 {
		return nil, Problems{{File: name, Msg: "the lab file is empty"}}
	}
	doc := root.Content[0]
	d.walk(doc, reflect.TypeOf(rawLab{}), "")
	if len(d.problems) > 0 {
		return nil, d.problems.sorted()
	}
	var raw rawLab
	if err := doc.Decode(&raw); err != nil {
		return nil, Problems{yamlProblem(name, err)}
	}
	lab := d.build(&raw)
	if len(d.problems) > 0 {
		return nil, d.problems.sorted()
	}
	lab.File = name
	return lab, nil
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

// walk checks the YAML tree against the raw types: unknown fields, wrong
// kinds (a list where a map belongs, text where a number belongs), duplicate
// keys. It records every path's position for later messages.
func (d *document) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.at[path] = pos{n.Line, n.Column}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value: the field keeps its default
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.add(path, "expected a map of fields, found %s", kindName(n))
			return
		}
		fields := structFields(t)
		known := make([]string, 0, len(fields))
		for k := range fields {
			known = append(known, k)
		}
		sort.Strings(known)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := joinPath(path, k.Value)
			d.at[child] = pos{v.Line, v.Column}
			if seen[k.Value] {
				d.at[child] = pos{k.Line, k.Column}
				d.add(child, "field given twice")
				continue
			}
			seen[k.Value] = true
			ft, ok := fields[k.Value]
			if !ok {
				d.at[child] = pos{k.Line, k.Column}
				msg := fmt.Sprintf("unknown field %q", k.Value)
				if s := suggest(k.Value, known); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				d.add(child, "%s; known fields here: %s", msg, strings.Join(known, ", "))
				continue
			}
			d.walk(v, ft, child)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.add(path, "expected a map of names, found %s", kindName(n))
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := joinPath(path, k.Value)
			if seen[k.Value] {
				d.at[child] = pos{k.Line, k.Column}
				d.add(child, "name %q used twice", k.Value)
				continue
			}
			seen[k.Value] = true
			d.keyOrder[path] = append(d.keyOrder[path], k.Value)
			d.walk(v, t.Elem(), child)
			d.at[child] = pos{k.Line, k.Column}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.add(path, "expected a list, found %s", kindName(n))
			return
		}
		for i, v := range n.Content {
			d.walk(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.add(path, "expected a single value, found %s", kindName(n))
		}
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode {
			d.add(path, "expected a number, found %s", kindName(n))
			return
		}
		if _, err := strconv.ParseInt(n.Value, 0, 64); err != nil {
			d.add(path, "expected a whole number, found %q", n.Value)
		}
	}
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
