package main

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision/check"
	"github.com/lvslab/lvslab/provision/class"
	"github.com/lvslab/lvslab/provision/class/serve"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/image"
	"github.com/lvslab/lvslab/provision/lab"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/verify"
	"github.com/lvslab/lvslab/roles/render"
)

// printedTypes are what the commands print with -o json.
var printedTypes = []any{
	labEntry{}, verdict{}, classVerdict{}, errorJSON{}, render.LabPlan{}, imageEntry{}, host.PoolImage{},
	lab.Plan{}, lab.LabSummary{}, lab.LabStatus{}, verify.Report{}, check.Report{}, verify.DrillReport{},
	verify.TableView{}, verify.SaveRestoreReport{}, class.Report{}, serve.Slip{},
}

// issue 25: a list is never a missing key: no list or map field of what
// -o json prints, at any depth, is left out when empty.
func TestNoListIsOmittedFromJSON(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string)
	walk = func(rt reflect.Type, path string) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice || rt.Kind() == reflect.Array || rt.Kind() == reflect.Map {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || seen[rt] {
			return
		}
		seen[rt] = true
		for i := range rt.NumField() {
			f := rt.Field(i)
			tag := f.Tag.Get("json")
			if !f.IsExported() || tag == "-" {
				continue
			}
			k := f.Type.Kind()
			if (k == reflect.Slice || k == reflect.Map) && f.Type.Elem().Kind() != reflect.Uint8 && strings.Contains(tag, ",omitempty") {
				t.Errorf("%s.%s (%s) is left out of the JSON when empty: %q", path, f.Name, rt, tag)
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	for _, v := range printedTypes {
		walk(reflect.TypeOf(v), reflect.TypeOf(v).String())
	}
}

// jsonCase is one outcome of a command's -o json: its arguments, or (for
// what needs a running lab, which no unit test has) the command's JSON
// writer given a report; the exit code; and what is printed: an object
// (an array's elements) with exactly keys (a key ending in "?" may be
// absent), or {"error": ...}; lists, the length of some of its lists. With
// --progress json among the arguments, stderr is progress events, one JSON
// object a line.
type jsonCase struct {
	command string
	args    []string
	write   func(w io.Writer) error
	code    int
	keys    []string
	lists   map[string]int
}

// failure is a case that prints {"error": ...}.
func failure(command string, code int, args ...string) jsonCase {
	return jsonCase{command: command, args: args, code: code, keys: []string{"error"}}
}

// The schema: the keys of each command's JSON.
var (
	labsKeys         = []string{"embedded", "lab", "nodes", "description", "default"}
	verdictKeys      = []string{"file", "valid", "lab", "networks", "nodes", "services", "problems"}
	planKeys         = []string{"lab", "file", "os", "nodes"}
	imageKeys        = []string{"name", "kind", "dir", "disk", "boot", "seeding", "suite", "created", "kernel_version", "cmdline", "packages", "disk_bytes", "virtual_bytes", "kernel_bytes", "initrd_bytes", "build_seconds", "root_password", "compressed", "recipe?", "flavor?", "source?", "detected?"}
	dryRunKeys       = []string{"lab", "file", "image", "accel", "identity", "pool", "networks", "nodes", "remove"}
	statusKeys       = []string{"lab", "file?", "host?", "mgmt?", "nodes", "networks", "volumes"}
	lsKeys           = []string{"lab", "source", "nodes", "running", "mgmt"}
	verifyKeys       = []string{"lab", "client", "director", "prober", "requests", "pass", "services", "checks", "quick?"}
	checkKeys        = []string{"lab", "file", "pass", "nodes", "verify?", "verify_error?", "verify_skipped?"}
	drillKeys        = []string{"step", "node", "actions", "verify", "checks", "pass", "outage?", "target_seconds?"}
	viewKeys         = []string{"lab", "director", "view", "commands", "output", "services", "connections"}
	restoreKeys      = []string{"lab", "director", "steps", "verify?", "pass"}
	classKeys        = []string{"class", "command", "students"}
	classVerdictKeys = []string{"file", "valid", "class", "lab", "lab_file", "students", "hosts", "problems"}
	slipKeys         = []string{"name", "passphrase"}
)

// issue 25: every command's -o json, success and failure, is JSON on
// stdout that decodes, with the keys of the schema above, the lists []
// when empty (never null), "lab" a lab's name and "nodes" a list.
func TestEveryJSONOutput(t *testing.T) {
	dir := jsonFixtures(t)
	sock := "qemu+unix:///system?socket=" + filepath.Join(dir, "none")
	classFile, badClass, noClass := filepath.Join(dir, "class.yaml"), filepath.Join(dir, "bad-class.yaml"), filepath.Join(dir, "none.yaml")
	labFile, badLab, staleLab := filepath.Join(dir, "lab.yaml"), filepath.Join(dir, "bad.yaml"), filepath.Join(dir, "stale.yaml")
	tdd := "--connect=test:///default"
	cases := []jsonCase{
		{command: "labs", args: []string{"labs", "-o", "json"}, keys: labsKeys},
		failure("labs", 2, "labs", "--show", "tedu-dr", "-o", "json"),
		{command: "validate", args: []string{"validate", "tedu-dr", "-o", "json"}, keys: verdictKeys},
		{command: "validate", args: []string{"validate", badLab, "-o", "json"}, code: 1, keys: verdictKeys},
		failure("validate", 2, "validate", "a", "b", "-o", "json"),
		{command: "plan", args: []string{"plan", "tedu-nat", "-o", "json"}, keys: planKeys},
		failure("plan", 1, "plan", "nosuchlab", "-o", "json"),
		{command: "image ls", args: []string{"image", "ls", "--dir", filepath.Join(dir, "images"), "-o", "json"}, keys: imageKeys},
		{command: "image ls", args: []string{"image", "ls", tdd, "-o", "json"}},
		failure("image ls", 2, "image", "ls", "--connect", sock, "-o", "json"),
		importCase(t, dir),
		failure("image import", 2, "image", "import", filepath.Join(dir, "none.qcow2"), "--dir", filepath.Join(dir, "imported"), "-o", "json"),
		{command: "up", args: []string{"up", "--dry-run", tdd, labFile, "-o", "json"}, keys: dryRunKeys, lists: map[string]int{"remove": 0}},
		// up removes the VM of a node the lab file no longer has.
		{command: "up", args: []string{"up", "--dry-run", tdd, staleLab, "-o", "json"}, keys: dryRunKeys, lists: map[string]int{"remove": 1}},
		failure("up", 2, "up", "--dry-run", tdd, labFile, "--progress", "fancy", "-o", "json"),
		failure("up", 2, "up", "tedu-nat", "-o", "json"),
		failure("up", 2, "up", "--dry-run", "--connect", sock, "tedu-nat", "-o", "json"),
		{command: "status", args: []string{"status", tdd, "-o", "json"}, code: 1, keys: statusKeys},
		failure("status", 1, "status", "bob", tdd, "-o", "json"),
		{command: "ls", args: []string{"ls", tdd, "-o", "json"}, keys: lsKeys},
		failure("ls", 2, "ls", "extra", "-o", "json"),
		{command: "verify", write: func(w io.Writer) error {
			return verify.Write(w, &verify.Report{Services: []*verify.ServiceReport{{}}}, report.OutputJSON)
		}, keys: verifyKeys},
		failure("verify", 2, "verify", tdd, "-o", "json"),
		{command: "check", write: func(w io.Writer) error {
			return check.Write(w, &check.Report{Nodes: []check.NodeReport{{}}}, report.OutputJSON)
		}, keys: checkKeys},
		{command: "check", args: []string{"check", tdd, "-o", "json"}, code: 2, keys: checkKeys},
		failure("check", 2, "check", "--connect", sock, "-o", "json"),
		failure("class up", 1, "class", "up", classFile, "-o", "json"),
		{command: "class up", args: []string{"class", "up", "--accel", "tcg", filepath.Join(dir, "other-class.yaml"), "-o", "json"}, code: 1, keys: classKeys},
		{command: "class status", args: []string{"class", "status", classFile, "-o", "json"}, code: 1, keys: classKeys},
		failure("class status", 2, "class", "status", noClass, "-o", "json"),
		{command: "class check", args: []string{"class", "check", classFile, "-o", "json"}, code: 1, keys: classKeys},
		failure("class check", 2, "class", "check", badClass, "-o", "json"),
		{command: "class verify", args: []string{"class", "verify", classFile, "-o", "json"}, code: 1, keys: classKeys},
		failure("class verify", 2, "class", "verify", "-o", "json"),
		{command: "class down", args: []string{"class", "down", classFile, "-o", "json", "--progress", "json"}, keys: classKeys},
		{command: "class down", args: []string{"class", "down", classFile, "-o", "json"}, keys: classKeys},
		failure("class down", 2, "class", "down", noClass, "-o", "json"),
		{command: "class validate", args: []string{"class", "validate", classFile, "-o", "json"}, keys: classVerdictKeys},
		{command: "class validate", args: []string{"class", "validate", badClass, "-o", "json"}, code: 1, keys: classVerdictKeys},
		failure("class validate", 2, "class", "validate", "-o", "json"),
		{command: "class credentials", args: []string{"class", "credentials", classFile, "-o", "json"}, keys: slipKeys},
		failure("class credentials", 2, "class", "credentials", noClass, "-o", "json"),
		// A flag lvslab does not know is an error in JSON too.
		failure("ls", 2, "ls", "--outptu", "-o", "json"),
	}
	for _, step := range []string{"fail", "heal", "restore"} {
		cases = append(cases,
			jsonCase{command: "drill " + step, write: func(w io.Writer) error { return writeJSON(w, &verify.DrillReport{}) }, keys: drillKeys},
			failure("drill "+step, 2, "drill", step, "web1", tdd, "-o", "json"))
	}
	for _, view := range []string{"stats", "rate", "conns", "zero"} {
		cases = append(cases,
			jsonCase{command: "ipvs " + view, write: func(w io.Writer) error { return writeJSON(w, &verify.TableView{}) }, keys: viewKeys},
			failure("ipvs "+view, 2, "ipvs", view, tdd, "-o", "json"))
	}
	cases = append(cases,
		jsonCase{command: "ipvs save-restore", write: func(w io.Writer) error { return writeJSON(w, &verify.SaveRestoreReport{}) }, keys: restoreKeys},
		failure("ipvs save-restore", 2, "ipvs", "save-restore", tdd, "-o", "json"))

	covered := map[string][2]bool{} // command: a success and a failure seen
	for _, c := range cases {
		runJSONCase(t, c)
		seen := covered[c.command]
		seen[boolIndex(c.keys != nil && c.keys[0] == "error")] = true
		covered[c.command] = seen
	}
	for _, l := range leaves(nil, newApp().Commands) {
		f, ok := lookupFlag(l.cmd.Flags, "-o").(*choiceFlag)
		if !ok || !slices.Contains(f.choices, outputJSON) {
			continue
		}
		name := strings.Join(l.path, " ")
		if seen := covered[name]; !seen[0] || !seen[1] {
			t.Errorf("%s -o json: success tested %v, failure tested %v", name, seen[0], seen[1])
		}
	}
}

// importCase is image import -o json of a disk whose MBR holds GRUB's boot
// code and whose partition lvslab does not read (cloud-init assumed), when
// qemu-img is there ("make deps"); else the entry import prints for it.
func importCase(t *testing.T, dir string) jsonCase {
	t.Helper()
	disk := filepath.Join(dir, "grub.img")
	data := make([]byte, 2<<20)
	copy(data[0x180:], "GRUB Geom Hard Disk Read Error")
	entry := data[446:462]
	entry[0], entry[4] = 0x80, 0x83
	binary.LittleEndian.PutUint32(entry[8:], 2048)
	binary.LittleEndian.PutUint32(entry[12:], 2048)
	data[510], data[511] = 0x55, 0xaa
	if err := os.WriteFile(disk, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c := jsonCase{command: "image import", args: []string{"image", "import", disk, "--dir", filepath.Join(dir, "imported"), "-o", "json"}, keys: imageKeys}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		c.args, c.write = nil, func(w io.Writer) error {
			return writeJSON(w, imageEntryOf(image.Image{Kind: image.Imported, Name: "grub", Manifest: &image.Manifest{Source: disk,
				Packages: []string{}, Detected: &image.Detected{Table: image.TableMBR, Boot: image.BootBIOS, Bootloader: "grub", Notes: []string{}}}}))
		}
	}
	return c
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// runJSONCase runs c and checks what it printed against its schema.
func runJSONCase(t *testing.T, c jsonCase) {
	t.Helper()
	code, stdout, stderr := 0, "", ""
	if c.write != nil {
		var b strings.Builder
		if err := c.write(&b); err != nil {
			t.Fatalf("%s: %v", c.command, err)
		}
		stdout = b.String()
	} else {
		code, stdout, stderr = lvslab(t, c.args...)
	}
	what := c.command
	if c.args != nil {
		what = strings.Join(c.args, " ")
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&v); err != nil || dec.More() {
		t.Errorf("lvslab %s: stdout is not one JSON value (%v):\n%s\nstderr: %s", what, err, stdout, stderr)
		return
	}
	if code != c.code {
		t.Errorf("lvslab %s: exit code %d, want %d (stderr %s)", what, code, c.code, stderr)
	}
	noNullLists(t, what, "", v)
	if i := slices.Index(c.args, "--progress"); i >= 0 && c.args[i+1] == "json" {
		progressEvents(t, what, stderr)
	}
	obj, _ := v.(map[string]any)
	if list, ok := v.([]any); ok {
		if len(list) == 0 {
			if c.keys != nil {
				t.Errorf("lvslab %s: an empty list, want elements with %v", what, c.keys)
			}
			return
		}
		obj, _ = list[0].(map[string]any)
	}
	if obj == nil {
		t.Errorf("lvslab %s: neither an object nor a list of objects:\n%s", what, stdout)
		return
	}
	var got []string
	for k := range obj {
		got = append(got, k)
	}
	slices.Sort(got)
	for _, k := range c.keys {
		if _, ok := obj[strings.TrimSuffix(k, "?")]; !ok && !strings.HasSuffix(k, "?") {
			t.Errorf("lvslab %s: no key %q (keys %v)", what, k, got)
		}
	}
	for _, k := range got {
		if !slices.Contains(c.keys, k) && !slices.Contains(c.keys, k+"?") {
			t.Errorf("lvslab %s: key %q is not in the schema %v", what, k, c.keys)
		}
	}
	if e, ok := obj["error"].(string); ok && (e == "" || strings.HasPrefix(e, "lvslab: ")) {
		t.Errorf("lvslab %s: error %q", what, e)
	}
	if lab, ok := obj["lab"]; ok {
		if s, isName := lab.(string); !isName || strings.ContainsAny(s, "/:.") {
			t.Errorf("lvslab %s: \"lab\" is %v, not a lab's name", what, lab)
		}
	}
	if nodes, ok := obj["nodes"]; ok {
		if _, isList := nodes.([]any); !isList {
			t.Errorf("lvslab %s: \"nodes\" is %v, not a list", what, nodes)
		}
	}
	for k, n := range c.lists {
		if list, isList := obj[k].([]any); !isList || len(list) != n {
			t.Errorf("lvslab %s: %q is %v, want a list of %d", what, k, obj[k], n)
		}
	}
}

// progressEvents checks the stderr of --progress json: progress events
// (at least one), one JSON object a line, each with its time and type, no
// list null.
func progressEvents(t *testing.T, what, stderr string) {
	t.Helper()
	for line := range strings.Lines(stderr) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Errorf("lvslab %s: stderr line %q is not a JSON object: %v", what, line, err)
			continue
		}
		if ev["time"] == nil || ev["type"] == nil {
			t.Errorf("lvslab %s: event %q without its time or type", what, line)
		}
		noNullLists(t, what, "", ev)
	}
	if stderr == "" {
		t.Errorf("lvslab %s: no progress event", what)
	}
}

// noNullLists fails on a null where JSON must hold a list: every null is,
// but for the keys below (a report not made, an absent object).
func noNullLists(t *testing.T, what, key string, v any) {
	t.Helper()
	switch v := v.(type) {
	case nil:
		if !slices.Contains([]string{"verify", "outage"}, key) {
			t.Errorf("lvslab %s: %q is null", what, key)
		}
	case []any:
		for _, e := range v {
			noNullLists(t, what, key, e)
		}
	case map[string]any:
		for k, e := range v {
			noNullLists(t, what, k, e)
		}
	}
}

// jsonFixtures makes what the cases need, in a folder it returns: the
// tedu lab defined on test:///default with web1 stopped (defineStopped),
// a lab file on a disk of its own, a broken lab, lab stale (its file, and
// a VM of a node the file no longer has), a built image, a class of alice
// (her copy on test:///default) and bob (none), a broken class, and class
// other whose copy's VMs are another class's (class up fails it at once:
// TestClassUpWritesItsMark).
func jsonFixtures(t *testing.T) string {
	conn := defineStopped(t)
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := labs.Get("tedu-nat")
	if err != nil {
		t.Fatal(err)
	}
	write("disk.img", "disk")
	labText := strings.Replace(string(src), "image: debian-12", "image: "+filepath.Join(dir, "disk.img"), 1)
	write("lab.yaml", labText)
	write("stale.yaml", strings.Replace(labText, "name: tedu\n", "name: stale\n", 1))
	write("bad.yaml", strings.Replace(string(src), "scheduler: rr", "scheduler: polling", 1))
	for _, f := range []string{"disk.qcow2", "vmlinuz", "initrd.img"} {
		write("images/debian-12/"+f, "x")
	}
	write("images/debian-12/image.json", `{"name":"debian-12","suite":"bookworm","kernel_version":"6.1.0-28-amd64","disk_bytes":270000000}`)
	write("class.yaml", "name: lvs\nlab: tedu-nat\nstudents: [alice, bob]\nhosts:\n  - uri: test:///default\n")
	write("bad-class.yaml", "name: lvs\nlab: tedu-nat\nstudent: [alice]\n")
	copyLab, err := labs.Load("tedu-nat")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ copy, class, student string }{{"lvs-alice", "lvs", "alice"}, {"other-a-b", "other-a", "b"}} {
		copyLab.Name = c.copy
		mustDefine(t, conn.DomainDefineXML)(host.DomainXML(copyLab, copyLab.Node("web1"), host.DomainSpec{Type: "test",
			Overlay: "/p/" + c.copy + ".qcow2", Seed: "/p/" + c.copy + ".iso", ConsoleLog: dir + "/" + c.copy + ".log", Mgmt: "10.250.0.12", Class: c.class, Student: c.student}))
	}
	// Lab stale's web3, a node its file no longer has.
	copyLab.Name = "stale"
	web3 := *copyLab.Node("web1")
	web3.Name = "web3"
	mustDefine(t, conn.DomainDefineXML)(host.DomainXML(copyLab, &web3, host.DomainSpec{Type: "test",
		Overlay: "/p/stale-web3.qcow2", Seed: "/p/stale-web3.iso", ConsoleLog: dir + "/stale-web3.log", Mgmt: "10.250.0.13"}))
	write("other-class.yaml", "name: other\nlab: lab.yaml\nstudents: [a-b]\nhosts:\n  - uri: test:///default\n")
	root := paths.InHome(os.Getenv(paths.EnvHome))
	rec, err := class.ReadRecord(root, "other")
	if err != nil {
		t.Fatal(err)
	}
	rec.Set("a-b", "test:///default", "other-a-b")
	if err := rec.Write(root); err != nil {
		t.Fatal(err)
	}
	return dir
}
