package topology

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzLoad feeds the decoder mutations of the embedded labs: it must never
// panic, and every refusal must be Problems placed in the file, in lvslab's
// own words (no raw unmarshal error without a field).
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("../labs/*.yaml")
	more, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range append(seeds, more...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	if len(seeds) == 0 {
		f.Fatal("no embedded labs to seed from")
	}
	f.Add([]byte("name: x\nservices: [&s {real_servers: [&r {node: a}, *r]}, *s]\n"))
	if nat, err := os.ReadFile("testdata/nat.yaml"); err == nil { // aliases of maps, lists and values
		f.Add([]byte(strings.NewReplacer("    nics:\n      eth0: {network: private1, address: 192.168.4.10/24}", "    nics: &n\n      eth0: {network: private1, address: 192.168.4.10/24}",
			"  lvs1:\n", "  client2: {role: client, nics: *n}\n  lvs1:\n", "    real_servers:\n", "    real_servers: &rs\n").Replace(string(nat))))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lab, err := Load("lab.yaml", data)
		if err == nil {
			if lab.Name == "" || len(lab.Nodes) == 0 || lab.Director() == nil {
				t.Fatalf("accepted a lab without name, nodes or director: %+v", lab)
			}
			// Nothing the file holds is lost on the way (aliases included).
			var raw rawLab
			if err := yaml.Unmarshal(data, &raw); err != nil {
				t.Fatalf("accepted what yaml.v3 cannot decode: %v", err)
			}
			if len(lab.Networks) != len(raw.Networks) || len(lab.Nodes) != len(raw.Nodes) || len(lab.Services)+len(lab.VRRPServices) != len(raw.Services) {
				t.Fatalf("lab has %d networks, %d nodes, %d services; the file %d, %d, %d",
					len(lab.Networks), len(lab.Nodes), len(lab.Services)+len(lab.VRRPServices), len(raw.Networks), len(raw.Nodes), len(raw.Services))
			}
			for _, n := range lab.Nodes {
				if len(n.NICs) != len(raw.Nodes[n.Name].NICs) {
					t.Fatalf("node %s has %d NICs, the file %d", n.Name, len(n.NICs), len(raw.Nodes[n.Name].NICs))
				}
			}
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("error is not Problems: %T %v", err, err)
		}
		var root yaml.Node
		parsed := yaml.Unmarshal(data, &root) == nil && len(root.Content) > 0
		for _, p := range ps {
			if p.File != "lab.yaml" || p.Msg == "" {
				t.Fatalf("problem without file or message: %#v", p)
			}
			if strings.Contains(p.Msg, "unmarshal") && p.Path == "" {
				t.Fatalf("a type error without its field: %s", p)
			}
			// yaml.v3 gives no line for some syntax errors after the first document.
			if parsed && p.Line == 0 && !strings.Contains(p.Msg, "too large") && !strings.HasPrefix(p.Msg, "not valid YAML") {
				t.Fatalf("problem not placed in a file that parses: %s", p)
			}
		}
	})
}
