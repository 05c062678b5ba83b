package class

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func load(t *testing.T, text string) (*Class, error) {
	t.Helper()
	return Load("class.yaml", []byte(text))
}

func TestLoadClass(t *testing.T) {
	c, err := load(t, `name: lvs
lab: tedu-nat
students: [alice, bob]
hosts:
  - uri: qemu+ssh://root@hv1/system
    max_copies: 12
    memory: 49152
  - uri: qemu:///system
batch: 2
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "lvs" || c.Lab.Name != "tedu" || c.LabRef != "tedu-nat" || strings.Join(c.Students, " ") != "alice bob" || c.Batch != 2 || c.VMOverhead != DefaultVMOverhead {
		t.Fatalf("%+v", c)
	}
	if len(c.Hosts) != 2 || c.Hosts[0] != (Host{URI: "qemu+ssh://root@hv1/system", MaxCopies: 12, Memory: 49152}) || c.Hosts[1] != (Host{URI: "qemu:///system"}) {
		t.Fatalf("%+v", c.Hosts)
	}
	if c.Copy("alice") != "lvs-alice" {
		t.Fatal(c.Copy("alice"))
	}
	// tedu-nat: four nodes of 512 MiB, each with the VM overhead.
	if got, want := c.CopyMemory(), int64(4*(512+DefaultVMOverhead)); got != want {
		t.Fatalf("copy memory %d, want %d", got, want)
	}
}

func TestLoadClassCount(t *testing.T) {
	c, err := load(t, "name: c\nlab: tedu-dr\ncount: 12\nhosts: [{uri: 'test:///default'}]\nvm_overhead: 0\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Students) != 12 || c.Students[0] != "s01" || c.Students[11] != "s12" || c.Batch != DefaultBatch || c.VMOverhead != 0 {
		t.Fatalf("%v %d %d", c.Students, c.Batch, c.VMOverhead)
	}
	c, err = load(t, "name: c\nlab: tedu-dr\ncount: 100\nhosts: [{uri: 'test:///default'}]\n")
	if err != nil || c.Students[0] != "s001" || c.Students[99] != "s100" {
		t.Fatalf("%v %v", err, c.Students[:1])
	}
}

// A lab given as a path is the class file's neighbour, recorded absolute.
func TestLoadClassLabPath(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../labs/tedu-nat.yaml")
	if err != nil {
		t.Skip("embedded lab file not at ../../labs:", err)
	}
	os.WriteFile(filepath.Join(dir, "my-lab.yaml"), data, 0o644)
	path := filepath.Join(dir, "class.yaml")
	os.WriteFile(path, []byte("name: c\nlab: ./my-lab.yaml\nstudents: [a]\nhosts: [{uri: 'test:///default'}]\n"), 0o644)
	c, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.LabRef != filepath.Join(dir, "my-lab.yaml") || c.Lab.File != c.LabRef {
		t.Fatalf("%s %s", c.LabRef, c.Lab.File)
	}
}

// Every problem is placed at file:line:col, all of them at once.
func TestLoadClassProblems(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"name: Lvs\nlab: tedu-nat\nstudents: [a]\nhosts: [{uri: 'test:///default'}]\n",
			`class.yaml:1:7: name: "Lvs" is not a usable name`},
		{"name: lvs\nlab: tedu-nat\nstudents: [a]\nhosts: [{uri: 'test:///default', max_copy: 3}]\n",
			`class.yaml:4:34: hosts[0].max_copy: unknown field "max_copy"; known fields here: max_copies, memory, uri`},
		{"name: lvs\nlab: tedu-nat\nstudents: [alice, Bob, alice]\nhosts: [{uri: 'test:///default'}]\n",
			"class.yaml:3:19: students[1]: \"Bob\" is not a usable student name: a lower-case letter, then lower-case letters, digits or '-' (it names the copy's VMs)\nclass.yaml:3:24: students[2]: student \"alice\" given twice"},
		{"name: lvs\nlab: tedu-nat\nstudents: [a]\ncount: 3\nhosts: [{uri: 'test:///default'}]\n",
			"class.yaml:4:8: count: give the students either by name (students:) or by number (count:), not both"},
		{"name: a-long-class-name\nlab: tedu-nat\nstudents: [a, studentname]\nhosts: [{uri: 'test:///default'}]\n",
			`class.yaml:3:15: students[1]: the copy's lab name "a-long-class-name-studentname" is too long`},
		{"name: lvs\nlab: no-such-lab\nstudents: [a]\nhosts: [{uri: 'test:///default'}, {uri: 'test:///default'}, {uri: nouri}]\nbatch: 0\n",
			"class.yaml:2:6: lab: no embedded lab \"no-such-lab\""},
		{"name: lvs\nlab: tedu-nat\nstudents: [a]\nhosts: [{uri: 'test:///default'}, {uri: 'test:///default'}, {uri: nouri, memory: 64}]\nbatch: 0\n",
			"class.yaml:4:41: hosts[1].uri: host test:///default given twice\nclass.yaml:4:67: hosts[2].uri: \"nouri\" is not a libvirt URI (qemu+ssh://user@host/system, qemu:///system)\nclass.yaml:4:82: hosts[2].memory: 64 MiB: the host memory the class may take there, at least 128 MiB (leave it out for the free memory libvirt reports)\nclass.yaml:5:8: batch: 0: copies brought up at a time, 1 to 64"},
		{"name: lvs\n", "class.yaml:1:1: lab: missing"},
		{"", "class.yaml: the class file is empty"},
		{"name: lvs\n---\nname: b\n", "class.yaml:3:1: a second YAML document (after ---): a class file holds one class; put each class in a file of its own"},
	} {
		_, err := load(t, tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.text, err, tc.want)
		}
	}
}

func TestLoadClassNotAFile(t *testing.T) {
	_, err := LoadFile(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "a directory, not a class file: give the path of a YAML class file") {
		t.Fatal(err)
	}
}
