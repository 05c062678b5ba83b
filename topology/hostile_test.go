package topology

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// aliasFanOut is the attack of issue 14: n aliases of a service whose
// real-server list is n aliases of one entry, about 37 KB for n = 2000 and
// n*n real servers once expanded.
func aliasFanOut(t testing.TB, n int) string {
	base := readTestdataTB(t, "nat.yaml")
	var b strings.Builder
	b.WriteString(base[:strings.Index(base, "services:\n")])
	b.WriteString("services:\n  - &svc\n    vip: 192.168.4.5\n    port: 80\n    mode: nat\n    real_servers: [&rs {node: web1, weight: 1}")
	b.WriteString(strings.Repeat(", *rs", n-1))
	b.WriteString("]\n")
	b.WriteString(strings.Repeat("  - *svc\n", n-1))
	return b.String()
}

func readTestdataTB(t testing.TB, name string) string {
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Generous bounds: the fixed decoder needs about a tenth of them (see
// BenchmarkHostileInput); before the fix the fan-out took gigabytes.
const (
	hostileAllocLimit = 64 << 20
	hostileTimeLimit  = 20 * time.Second
)

func TestAliasFanOutIsRefusedCheaply(t *testing.T) {
	src := aliasFanOut(t, 2000)
	var err error
	start := time.Now()
	bytes := allocated(func() { _, err = Load("lab.yaml", []byte(src)) })
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "aliases of this file expand to more than") {
		t.Fatalf("fan-out of %d bytes: got %v", len(src), err)
	}
	if !strings.HasPrefix(err.Error(), "lab.yaml:") || strings.HasPrefix(err.Error(), "lab.yaml: ") {
		t.Errorf("not placed at the alias: %v", err)
	}
	if bytes > hostileAllocLimit || took > hostileTimeLimit {
		t.Errorf("fan-out of %d bytes: %d MiB allocated in %v, limits %d MiB and %v", len(src), bytes>>20, took, hostileAllocLimit>>20, hostileTimeLimit)
	}
}

// Aliases within the limit still load, and an alias is checked where used.
func TestSmallAliasesLoad(t *testing.T) {
	lab, err := Load("lab.yaml", []byte(aliasFanOut(t, 2)))
	if err == nil {
		t.Fatalf("want the duplicate services refused, got %d services", len(lab.Services))
	}
	if !strings.Contains(err.Error(), "same virtual service") || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("got %v", err)
	}
	src := mutate(t, readTestdata(t, "nat.yaml"), `page: "192.168.2.100"`, `page: &p "192.168.2.100"`, "  - name: web\n", "  - name: *p\n")
	if lab, err := Load("lab.yaml", []byte(src)); err != nil || lab.Services[0].Name != "192.168.2.100" {
		t.Errorf("an alias of a page as a name: %v", err)
	}
	bad := mutate(t, readTestdata(t, "nat.yaml"), "eth0: {network: private1, address: 192.168.4.5/24}", "eth0: &m {network: private1, address: 192.168.4.5/24}", "  - name: web\n", "  - name: *m\n")
	if ps := problemsOf(t, bad); !strings.Contains(ps.Error(), "lab.yaml:38:11: services[0].name: expected a single value, found a map") {
		t.Errorf("an alias of the wrong kind: %v", ps)
	}
}

// A map reached through an alias keeps its keys and order: build reads
// maps in file order, and the walk checks the aliased value only once.
func TestAliasedMapIsRead(t *testing.T) {
	src := mutate(t, readTestdata(t, "nat.yaml"),
		"    nics:\n      eth0: {network: private1, address: 192.168.4.10/24}\n      eth1: {network: private2}\n",
		"    nics: &n\n      eth0: {network: private1, address: 192.168.4.10/24}\n      eth1: {network: private2}\n",
		"  lvs1:\n", "  client2:\n    role: client\n    nics: *n\n  lvs1:\n")
	ps := problemsOf(t, src)
	want := "lab.yaml:20:11: nodes.client2.nics.eth0.address: 192.168.4.10 is already used by client1 eth0"
	if len(ps) != 1 || ps[0].String() != want {
		t.Errorf("got:\n%v\nwant %s", ps, want)
	}
}

func TestSelfReferenceRefused(t *testing.T) {
	src := mutate(t, readTestdata(t, "nat.yaml"), "services:\n", "x: &loop [*loop]\nservices:\n")
	if ps := problemsOf(t, src); !strings.Contains(ps.Error(), "expand to more than") {
		t.Errorf("got %v", ps)
	}
}

func TestLargeFileRefusedUnread(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	line := "# " + strings.Repeat("x", 77) + "\n"
	if err := os.WriteFile(big, []byte(readTestdata(t, "nat.yaml")+strings.Repeat(line, 4<<20/len(line))), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	bytes := allocated(func() { _, err = LoadFile(big) })
	if err == nil || !strings.Contains(err.Error(), "too large for a lab file (at most 256 KiB") {
		t.Fatalf("4 MiB file: got %v", err)
	}
	if bytes > 1<<20 {
		t.Errorf("refusing a 4 MiB file allocated %d KiB: it was read", bytes>>10)
	}
	data, _ := os.ReadFile(big)
	if _, err := Load("big.yaml", data); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("Load of 4 MiB: got %v", err)
	}
}

func TestOnlyRegularFilesAreRead(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "lab.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/dev/zero": "a device, not a lab file",
		"/dev/null": "a device, not a lab file",
		dir:         "a directory, not a lab file",
		fifo:        "a FIFO (named pipe), not a lab file", // opening it for reading would wait for a writer
	} {
		_, err := LoadFile(path)
		if err == nil || err.Error() != fmt.Sprintf("%s: %s: give the path of a YAML lab file, or the name of an embedded lab (lvslab labs)", path, want) {
			t.Errorf("%s: got %v", path, err)
		}
	}
}

// A second document is refused (TestValidationRules); empty ones are not.
func TestDocumentMarkersAccepted(t *testing.T) {
	nat := readTestdata(t, "nat.yaml")
	if _, err := Load("lab.yaml", []byte(nat+"---\n")); err != nil {
		t.Errorf("a bare --- at the end holds nothing: %v", err)
	}
	if _, err := Load("lab.yaml", []byte("---\n"+nat+"...\n")); err != nil {
		t.Errorf("explicit start and end markers: %v", err)
	}
}

// One unknown field used to stop the check there: every other problem
// must still be reported, but not the missing field it misspells.
func TestUnknownFieldHidesNothing(t *testing.T) {
	src := mutate(t, readTestdata(t, "nat.yaml"),
		"    gateway: 192.168.2.5\n    page: \"192.168.2.100\"", "    gatway: 192.168.2.5\n    page: \"192.168.2.100\"",
		"scheduler: rr", "scheduler: polling",
		"port: 80", `port: "80"`,
		"{node: web2, weight: 2}", "{node: web2, weight: [2]}")
	ps := problemsOf(t, src)
	want := []string{
		`lab.yaml:28:5: nodes.web1.gatway: unknown field "gatway" (did you mean "gateway"?)`,
		`lab.yaml:40:11: services[0].port: expected a number, found the text "80": write it without quotes`,
		`lab.yaml:43:16: services[0].scheduler: "polling" is not a kernel IPVS scheduler`,
		`lab.yaml:46:30: services[0].real_servers[1].weight: expected a number, found a list`,
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), ps)
	}
	for i := range min(len(ps), len(want)) {
		if !strings.HasPrefix(ps[i].String(), want[i]) {
			t.Errorf("problem %d:\n got %s\nwant %s...", i, ps[i], want[i])
		}
	}
}

// The misspelt field's rules stay quiet only when the right one is absent.
func TestMisspeltBesideTheRightField(t *testing.T) {
	src := mutate(t, readTestdata(t, "nat.yaml"), "    gateway: 192.168.2.5\n    page: \"192.168.2.100\"", "    gateway: 192.168.2.1\n    gatway: 192.168.2.5\n    page: \"192.168.2.100\"")
	ps := problemsOf(t, src)
	if len(ps) != 2 || ps[0].Path != "nodes.web1.gateway" || ps[1].Path != "nodes.web1.gatway" {
		t.Errorf("want the wrong gateway and the unknown field, got:\n%v", ps)
	}
}

func BenchmarkHostileInput(b *testing.B) {
	fan := []byte(aliasFanOut(b, 2000))
	big := []byte(strings.Repeat("- 1\n", MaxFileSize/4))
	nat := []byte(readTestdataTB(b, "nat.yaml"))
	for name, data := range map[string][]byte{"alias-fan-out-2000x2000": fan, "flat-list-256KiB": big, "nat-lab": nat} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for range b.N {
				Load("lab.yaml", data)
			}
			b.ReportMetric(float64(hostileAllocLimit>>20), "MiB-limit")
		})
	}
}

// hostileValues carry what a shell, a YAML or unit file, an XML document or
// a terminal would read as structure.
var hostileValues = []string{
	"a b", "a;b", "$(touch x)", "`id`", "a\nb", "a'b", `a"b`, "../x", "a/b", "<x>&", "-rf", "é", "a\x1b[31m", "a\\b", "a#b", "a=b", "*",
}

// Every identifier of a lab reaches shells, unit and network files, cloud-init
// and libvirt XML unquoted (roles concatenates NIC names into commands, for
// one): validation must refuse any hostile value there, so that only names
// of a safe shape go on.
func TestHostileIdentifiersRefused(t *testing.T) {
	nat := readTestdata(t, "nat.yaml")
	fields := []struct {
		path  string // %s is the value
		place func(v string) string
	}{
		{"name", func(v string) string { return mutate(t, nat, "name: tedu", "name: "+v) }},
		{"nodes.%s", func(v string) string { return mutate(t, nat, "  client1:\n", "  "+v+":\n") }},
		{"nodes.client1.nics.%s", func(v string) string {
			return mutate(t, nat, "      eth0: {network: private1, address: 192.168.4.10/24}", "      "+v+": {network: private1, address: 192.168.4.10/24}")
		}},
		{"networks.%s", func(v string) string { return mutate(t, nat, "  private1: {", "  "+v+": {") }},
		{"networks.private1.bridge", func(v string) string {
			return mutate(t, nat, "host: 192.168.4.254}", "host: 192.168.4.254, bridge: "+v+"}")
		}},
		{"image", func(v string) string { return mutate(t, nat, "image: debian-12", "image: "+v) }},
		{"login.user", func(v string) string {
			return mutate(t, nat, "image: debian-12\n", "image: debian-12\nlogin: {user: "+v+"}\n")
		}},
		{"nodes.client1.nics.eth0.mac", func(v string) string {
			return mutate(t, nat, "address: 192.168.4.10/24}", "address: 192.168.4.10/24, mac: "+v+"}")
		}},
		{"nodes.client1.nics.eth0.address", func(v string) string { return mutate(t, nat, "address: 192.168.4.10/24}", "address: "+v+"}") }},
		{"nodes.client1.gateway", func(v string) string { return mutate(t, nat, "gateway: 192.168.4.5", "gateway: "+v) }},
		{"services[0].name", func(v string) string { return mutate(t, nat, "  - name: web\n", "  - name: "+v+"\n") }},
		{"services[0].vip", func(v string) string { return mutate(t, nat, "vip: 192.168.4.5", "vip: "+v) }},
		{"services[0].scheduler", func(v string) string { return mutate(t, nat, "scheduler: rr", "scheduler: "+v) }},
		{"services[0].mode", func(v string) string { return mutate(t, nat, "mode: nat", "mode: "+v) }},
		{"services[0].protocol", func(v string) string { return mutate(t, nat, "protocol: tcp", "protocol: "+v) }},
	}
	for _, f := range fields {
		for _, v := range hostileValues {
			if f.path == "image" && ImageIsPath(v) {
				continue // a disk's path goes to libvirt XML only (provision's TestHostileValuesInXML)
			}
			quoted, _ := json.Marshal(v) // a JSON string is a YAML double-quoted scalar
			path := f.path
			if strings.Contains(path, "%s") {
				path = fmt.Sprintf(path, v)
			}
			_, err := Load("lab.yaml", []byte(f.place(string(quoted))))
			ps, _ := err.(Problems)
			if !slices.ContainsFunc(ps, func(p Problem) bool { return p.Path == path && p.Line > 0 }) {
				t.Errorf("%s = %q: no problem at %s; got:\n%v", f.path, v, path, ps)
			}
		}
	}
}

// Free text (a page, the description, the password) may hold anything the
// renderers quote (roles/render and provision's seed tests prove it), but
// no control character.
func TestFreeText(t *testing.T) {
	nat := readTestdata(t, "nat.yaml")
	for _, v := range hostileValues {
		quoted, _ := json.Marshal(v)
		src := mutate(t, nat, `page: "apache web server2"`, "page: "+string(quoted),
			"description: LVS-NAT, rr over web1 (weight 1) and web2 (weight 2); change to wrr to see 2:1", "description: "+string(quoted),
			"image: debian-12\n", "image: debian-12\nlogin: {password: "+string(quoted)+"}\n")
		lab, err := Load("lab.yaml", []byte(src))
		control := strings.ContainsFunc(v, func(r rune) bool { return r == 0x1b })
		switch {
		case control && (err == nil || !strings.Contains(err.Error(), "nodes.web2.page: holds the control character U+001B") ||
			!strings.Contains(err.Error(), "description: holds the control character")):
			t.Errorf("%q: want the control character refused in page and description, got %v", v, err)
		case !control && strings.Contains(v, "\n"):
			if err == nil || !strings.Contains(err.Error(), "login.password: holds the control character U+000A") {
				t.Errorf("%q: a line break in the password must be refused, got %v", v, err)
			}
		case !control && err != nil:
			t.Errorf("%q: free text refused: %v", v, err)
		case !control && (lab.Node("web2").Page != v || lab.Description != v || lab.Login.Password != v):
			t.Errorf("%q: free text changed: %q %q %q", v, lab.Node("web2").Page, lab.Description, lab.Login.Password)
		}
	}
}
