package progress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

// sample is a run of every event type, in the order a session of up,
// down, image build and class up would emit them (one of each).
var sample = []Event{
	UpStarted{Lab: "tedu", File: "embedded:tedu-nat", Networks: 2, Nodes: 2},
	StepStarted{Step: "image"},
	ImageChosen{Name: "debian-12", Disk: "/var/lib/lvslab/images/debian-12/disk.qcow2", DirectBoot: true, Seeding: "lvslab"},
	ImageChosen{Name: "rocky-9", Disk: "/var/lib/lvslab/images/rocky-9/disk.qcow2", Seeding: "cloud-init", KVM: true},
	StepDone{Step: "image", Elapsed: Duration(12345 * time.Microsecond)},
	StepStarted{Step: "upload"},
	ImageUploading{Name: "debian-12", Version: "0123456789ab", Pool: "lvslab", Host: "root@hv1"},
	ImageUploaded{Files: 3, Bytes: 300 << 20, Elapsed: Duration(4 * time.Second)},
	ImageInPool{Name: "debian-12", Version: "0123456789ab", Pool: "lvslab", Host: "root@hv2"},
	NetworkCreated{Name: "tedu_mgmt", Bridge: "lv0-m", Detail: "10.250.0.0/24", Mgmt: true},
	NetworkCreated{Name: "tedu-private1", Bridge: "lv0-0", Detail: "isolated: no host address"},
	MemoryKept{Domain: "tedu-web1", MiB: 512, Want: 768},
	StepFailed{Step: "domains", Elapsed: Duration(1500 * ms), Error: "define domain tedu-web1: boom"},
	WaitStarted{Nodes: []string{"lvs1", "web1"}, Timeout: Duration(5 * time.Minute)},
	NodeConsole{Node: "web1", Stage: "logged in as root on the serial console, sending the set-up"},
	NodeWaiting{Node: "web1", User: "root", Addr: "10.250.0.12:22"},
	NodeWaiting{Node: "lvs1", User: "root", Addr: "10.250.0.11:22", Elapsed: Duration(3400 * ms), Error: "dial tcp 10.250.0.11:22: connect: connection refused"},
	NodeWaiting{Node: "lvs1", User: "root", Addr: "10.250.0.11:22", Elapsed: Duration(3600 * ms), Error: "dial tcp 10.250.0.11:22: connect: connection refused"},
	NodeRestored{Node: "lvs1", Causes: []string{"mgmt0 is down", "sshd is stopped", "the iptables chain INPUT of table filter drops by default and accepts nothing on port 22"}},
	NodeReady{Node: "lvs1", Addr: "10.250.0.11:22", Elapsed: Duration(4250 * ms)},
	NodeFailed{Node: "web1", Error: "node web1: no SSH login\nsecond line"},
	WaitDone{Elapsed: Duration(4300 * ms)},
	ConfigureStarted{Nodes: []string{"lvs1", "web1"}},
	ConfigureStep{Node: "lvs1", Step: "hostname", Status: "unchanged"},
	ConfigureStep{Node: "lvs1", Step: "ipvs", Status: "changed", Detail: "ipvsadm-restore"},
	NodeConfigured{Node: "lvs1", OS: "debian", Changed: []string{"ipvs", "sysctl"}, Checked: 9, Elapsed: Duration(2 * time.Second)},
	NodeConfigured{Node: "web1", OS: "debian", Checked: 7, Elapsed: Duration(1 * time.Second)},
	NodeConfigured{Node: "web2", Elapsed: Duration(300 * ms), Error: "sftp: no space"},
	ConfigureDone{Elapsed: Duration(2 * time.Second)},
	Removed{Lab: "tedu", What: "domain", Name: "tedu-web1"},
	ImagesKept{Pool: "lvslab", Host: "root@hv1", URI: "qemu+ssh://root@hv1/system"},
	LogsKept{Host: "root@hv1", Logs: []string{"/var/log/a.log", "/var/log/b.log"}},
	BuildStale{Name: "debian-12", Missing: []string{"nginx"}, Recipe: 3, Now: 4},
	BuildStale{Name: "debian-12", Recipe: 3, Now: 4},
	PhaseStarted{N: 1, Total: 7, Title: "debootstrap bookworm"},
	PhaseDone{N: 1, Total: 7, Title: "debootstrap bookworm", Elapsed: Duration(47 * time.Second)},
	PhaseStarted{N: 2, Total: 7, Title: "configure the guest"},
	PhaseDone{N: 2, Total: 7, Title: "configure the guest", Elapsed: Duration(250 * ms), Error: "chroot: exit status 1"},
	BuildDone{Name: "debian-12", Dir: "/var/lib/lvslab/images/debian-12", DiskBytes: 270e6, Elapsed: Duration(72 * time.Second)},
	BuildExists{Name: "debian-12", Dir: "/var/lib/lvslab/images/debian-12"},
	ImportDone{Name: "rocky-9", Dir: "/var/lib/lvslab/images/rocky-9", OS: "unknown", Boot: "its own bootloader (grub, BIOS)", Seeding: "cloud-init", Elapsed: Duration(41 * time.Second)},
	ClassHost{URI: "qemu:///system", FreeMiB: 6000, Students: []string{"alice", "bob"}},
	ClassHost{URI: "qemu+ssh://root@hv2/system", FreeMiB: 100},
	ClassStarted{Class: "lvs", Copies: 2, Lab: "tedu-nat", CopyMiB: 1536, Parallel: 4},
	Sourced{Source: "alice", Event: CopyStarted{Command: "up", Copy: "lvs-alice", Host: "qemu:///system"}},
	Sourced{Source: "alice", Event: StepDone{Step: "ssh", Elapsed: Duration(41200 * ms)}},
	Sourced{Source: "bob", Event: CopyDone{Command: "up", Passed: false, Elapsed: Duration(3 * time.Second), Failure: "no room\nmore"}},
	Sourced{Source: "alice", Event: CopyDone{Command: "up", Passed: true, Elapsed: Duration(123400 * ms)}},
	Traced{Where: "ssh web1", Call: "ip -j addr", Elapsed: Duration(120 * ms), Output: "a\nb\n", Error: "exit status 1"},
}

func emitAll(s Sink, events []Event) {
	for _, ev := range events {
		s.Emit(ev)
	}
}

// wantPlain is what Plain prints for sample: the lines of before.
const wantPlain = `lab tedu from embedded:tedu-nat: 2 networks, 2 nodes
  image debian-12 (/var/lib/lvslab/images/debian-12/disk.qcow2), direct kernel boot, seeded by lvslab, TCG emulation
  image rocky-9 (/var/lib/lvslab/images/rocky-9/disk.qcow2), its own bootloader, seeded by cloud-init, KVM
  image      done in 12ms
  uploading image debian-12 (version 0123456789ab) to pool lvslab on root@hv1
  uploaded 3 files, 300 MiB in 4.0 s (75 MiB/s)
  image debian-12 (version 0123456789ab) already in pool lvslab on root@hv2: nothing to upload
  management network tedu_mgmt (bridge lv0-m, 10.250.0.0/24)
  network tedu-private1 (bridge lv0-0, isolated: no host address)
  note: tedu-web1 has 512 MiB, the lab file says 768 MiB; kept ("lvslab down" then "up" applies it)
  waiting for SSH on 2 nodes (timeout 5m0s)
    web1  logged in as root on the serial console, sending the set-up
    web1  waiting for SSH root@10.250.0.12:22 (0s)
    lvs1  waiting for SSH root@10.250.0.11:22 (3s): connection refused
    lvs1  restored lvslab's access through its guest agent: mgmt0 is down, sshd is stopped and the iptables chain INPUT of table filter drops by default and accepts nothing on port 22
    lvs1  ready on 10.250.0.11:22 after 4.3s
    web1  FAILED: node web1: no SSH login
configure: 2 nodes
   lvs1       changed  ipvs
   lvs1       changed (ipvs, sysctl) in 2s
   web1       unchanged (7 steps checked, debian) in 1s
   web2       failed after 300ms: sftp: no space
configure: done in 2s
removed domain tedu-web1
kept the image volumes (image-*) in pool lvslab on root@hv1 for the next up: "lvslab image ls --connect 'qemu+ssh://root@hv1/system'" lists them, "lvslab image rm --connect 'qemu+ssh://root@hv1/system' NAME" removes one
kept console logs on root@hv1 (no storage pool holds them, and libvirt's API removes no other file; the next up of the node overwrites each): /var/log/a.log /var/log/b.log
image "debian-12" lacks nginx, which lvslab's recipe now installs: rebuilding it
image "debian-12" was built by an older recipe (revision 3, now 4): rebuilding it
[1/7] debootstrap bookworm ...
[1/7] debootstrap bookworm: done in 47s
[2/7] configure the guest ...
[2/7] configure the guest: FAILED in 300ms
image "debian-12" built in 1m12s: disk 270 MB, in /var/lib/lvslab/images/debian-12
image "debian-12" is already built in /var/lib/lvslab/images/debian-12 (use --force to rebuild it)
image "rocky-9" imported in 41s: unknown, its own bootloader (grub, BIOS), seeded by cloud-init, network unknown
host qemu:///system (6000 MiB free): alice bob
host qemu+ssh://root@hv2/system (100 MiB free): -
class lvs: 2 copies of tedu-nat, 1536 MiB each, 4 at a time
[alice] up lvs-alice on qemu:///system
[alice]   ssh        done in 41.2s
[bob] up FAILED: no room in 3s
[alice] up done in 2m3.4s
debug: ssh web1: ip -j addr (120ms): exit status 1
    | a
    | b
`

func TestPlainLines(t *testing.T) {
	var b bytes.Buffer
	emitAll(Plain(&b), sample)
	if b.String() != wantPlain {
		t.Errorf("plain lines differ:\n%s", diffLines(b.String(), wantPlain))
	}
}

// wantJSON is what JSON writes for sample at a fixed time.
const wantJSON = `{"time":"2025-01-02T02:04:05.6Z","type":"up.started","lab":"tedu","file":"embedded:tedu-nat","networks":2,"nodes":2}
{"time":"2025-01-02T02:04:05.6Z","type":"step.started","step":"image"}
{"time":"2025-01-02T02:04:05.6Z","type":"image.chosen","name":"debian-12","disk":"/var/lib/lvslab/images/debian-12/disk.qcow2","direct_boot":true,"seeding":"lvslab","kvm":false}
{"time":"2025-01-02T02:04:05.6Z","type":"image.chosen","name":"rocky-9","disk":"/var/lib/lvslab/images/rocky-9/disk.qcow2","direct_boot":false,"seeding":"cloud-init","kvm":true}
{"time":"2025-01-02T02:04:05.6Z","type":"step.done","step":"image","seconds":0.012345}
{"time":"2025-01-02T02:04:05.6Z","type":"step.started","step":"upload"}
{"time":"2025-01-02T02:04:05.6Z","type":"image.uploading","name":"debian-12","version":"0123456789ab","pool":"lvslab","host":"root@hv1"}
{"time":"2025-01-02T02:04:05.6Z","type":"image.uploaded","files":3,"bytes":314572800,"seconds":4}
{"time":"2025-01-02T02:04:05.6Z","type":"image.in_pool","name":"debian-12","version":"0123456789ab","pool":"lvslab","host":"root@hv2"}
{"time":"2025-01-02T02:04:05.6Z","type":"network.created","name":"tedu_mgmt","bridge":"lv0-m","detail":"10.250.0.0/24","mgmt":true}
{"time":"2025-01-02T02:04:05.6Z","type":"network.created","name":"tedu-private1","bridge":"lv0-0","detail":"isolated: no host address","mgmt":false}
{"time":"2025-01-02T02:04:05.6Z","type":"node.memory_kept","domain":"tedu-web1","mib":512,"want_mib":768}
{"time":"2025-01-02T02:04:05.6Z","type":"step.failed","step":"domains","seconds":1.5,"error":"define domain tedu-web1: boom"}
{"time":"2025-01-02T02:04:05.6Z","type":"wait.started","nodes":["lvs1","web1"],"timeout_seconds":300}
{"time":"2025-01-02T02:04:05.6Z","type":"node.console","node":"web1","stage":"logged in as root on the serial console, sending the set-up"}
{"time":"2025-01-02T02:04:05.6Z","type":"node.waiting","node":"web1","user":"root","addr":"10.250.0.12:22","seconds":0}
{"time":"2025-01-02T02:04:05.6Z","type":"node.waiting","node":"lvs1","user":"root","addr":"10.250.0.11:22","seconds":3.4,"error":"dial tcp 10.250.0.11:22: connect: connection refused"}
{"time":"2025-01-02T02:04:05.6Z","type":"node.waiting","node":"lvs1","user":"root","addr":"10.250.0.11:22","seconds":3.6,"error":"dial tcp 10.250.0.11:22: connect: connection refused"}
{"time":"2025-01-02T02:04:05.6Z","type":"node.restored","node":"lvs1","causes":["mgmt0 is down","sshd is stopped","the iptables chain INPUT of table filter drops by default and accepts nothing on port 22"]}
{"time":"2025-01-02T02:04:05.6Z","type":"node.ready","node":"lvs1","addr":"10.250.0.11:22","seconds":4.25}
{"time":"2025-01-02T02:04:05.6Z","type":"node.failed","node":"web1","error":"node web1: no SSH login\nsecond line"}
{"time":"2025-01-02T02:04:05.6Z","type":"wait.done","seconds":4.3}
{"time":"2025-01-02T02:04:05.6Z","type":"configure.started","nodes":["lvs1","web1"]}
{"time":"2025-01-02T02:04:05.6Z","type":"configure.step","node":"lvs1","step":"hostname","status":"unchanged"}
{"time":"2025-01-02T02:04:05.6Z","type":"configure.step","node":"lvs1","step":"ipvs","status":"changed","detail":"ipvsadm-restore"}
{"time":"2025-01-02T02:04:05.6Z","type":"node.configured","node":"lvs1","os":"debian","changed":["ipvs","sysctl"],"checked":9,"seconds":2}
{"time":"2025-01-02T02:04:05.6Z","type":"node.configured","node":"web1","os":"debian","checked":7,"seconds":1}
{"time":"2025-01-02T02:04:05.6Z","type":"node.configured","node":"web2","checked":0,"seconds":0.3,"error":"sftp: no space"}
{"time":"2025-01-02T02:04:05.6Z","type":"configure.done","seconds":2}
{"time":"2025-01-02T02:04:05.6Z","type":"down.removed","lab":"tedu","kind":"domain","name":"tedu-web1"}
{"time":"2025-01-02T02:04:05.6Z","type":"down.images_kept","pool":"lvslab","host":"root@hv1","uri":"qemu+ssh://root@hv1/system"}
{"time":"2025-01-02T02:04:05.6Z","type":"down.logs_kept","host":"root@hv1","logs":["/var/log/a.log","/var/log/b.log"]}
{"time":"2025-01-02T02:04:05.6Z","type":"build.stale","name":"debian-12","missing":["nginx"],"recipe":3,"now":4}
{"time":"2025-01-02T02:04:05.6Z","type":"build.stale","name":"debian-12","recipe":3,"now":4}
{"time":"2025-01-02T02:04:05.6Z","type":"build.phase_started","n":1,"total":7,"title":"debootstrap bookworm"}
{"time":"2025-01-02T02:04:05.6Z","type":"build.phase_done","n":1,"total":7,"title":"debootstrap bookworm","seconds":47}
{"time":"2025-01-02T02:04:05.6Z","type":"build.phase_started","n":2,"total":7,"title":"configure the guest"}
{"time":"2025-01-02T02:04:05.6Z","type":"build.phase_done","n":2,"total":7,"title":"configure the guest","seconds":0.25,"error":"chroot: exit status 1"}
{"time":"2025-01-02T02:04:05.6Z","type":"build.done","name":"debian-12","dir":"/var/lib/lvslab/images/debian-12","disk_bytes":270000000,"seconds":72}
{"time":"2025-01-02T02:04:05.6Z","type":"build.exists","name":"debian-12","dir":"/var/lib/lvslab/images/debian-12"}
{"time":"2025-01-02T02:04:05.6Z","type":"import.done","name":"rocky-9","dir":"/var/lib/lvslab/images/rocky-9","os":"unknown","boot":"its own bootloader (grub, BIOS)","seeding":"cloud-init","seconds":41}
{"time":"2025-01-02T02:04:05.6Z","type":"class.host","uri":"qemu:///system","free_mib":6000,"students":["alice","bob"]}
{"time":"2025-01-02T02:04:05.6Z","type":"class.host","uri":"qemu+ssh://root@hv2/system","free_mib":100}
{"time":"2025-01-02T02:04:05.6Z","type":"class.started","class":"lvs","copies":2,"lab":"tedu-nat","copy_mib":1536,"parallel":4}
{"time":"2025-01-02T02:04:05.6Z","type":"copy.started","source":"alice","command":"up","copy":"lvs-alice","host":"qemu:///system"}
{"time":"2025-01-02T02:04:05.6Z","type":"step.done","source":"alice","step":"ssh","seconds":41.2}
{"time":"2025-01-02T02:04:05.6Z","type":"copy.done","source":"bob","command":"up","passed":false,"seconds":3,"failure":"no room\nmore"}
{"time":"2025-01-02T02:04:05.6Z","type":"copy.done","source":"alice","command":"up","passed":true,"seconds":123.4}
{"time":"2025-01-02T02:04:05.6Z","type":"debug.call","where":"ssh web1","call":"ip -j addr","seconds":0.12,"output":"a\nb\n","error":"exit status 1"}
`

func fixedJSON(w io.Writer) *JSON {
	j := NewJSON(w)
	j.now = func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 600e6, time.FixedZone("CET", 3600)) }
	return j
}

func TestJSONLines(t *testing.T) {
	var b bytes.Buffer
	emitAll(fixedJSON(&b), sample)
	if b.String() != wantJSON {
		t.Errorf("JSON lines differ:\n%s", diffLines(b.String(), wantJSON))
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(sample) {
		t.Fatalf("%d lines for %d events", len(lines), len(sample))
	}
	// Every line decodes: its envelope names the event, and its fields
	// decode back into the event it came from.
	for i, line := range lines {
		var env envelope
		if err := json.Unmarshal([]byte(line), &env); err != nil {
			t.Fatalf("line %d %s: %v", i, line, err)
		}
		source, ev := unwrap(sample[i])
		if env.Type != ev.Kind() || env.Source != source || env.Time.IsZero() {
			t.Errorf("line %d: envelope %+v for %T from %q", i, env, ev, source)
		}
		back := reflect.New(reflect.TypeOf(ev))
		if err := json.Unmarshal([]byte(line), back.Interface()); err != nil {
			t.Fatalf("line %d %s: %v", i, line, err)
		}
		if got := back.Elem().Interface(); !reflect.DeepEqual(got, ev) {
			t.Errorf("line %d decodes to %#v, want %#v", i, got, ev)
		}
	}
}

// The node lines of the wait, redrawn in place on a terminal; a build
// phase's line finished in place.
func TestTTYRedrawsInPlace(t *testing.T) {
	var b bytes.Buffer
	emitAll(NewText(&b, true), []Event{
		WaitStarted{Nodes: []string{"lvs1", "web1"}, Timeout: Duration(2 * time.Minute)},
		NodeWaiting{Node: "web1", User: "root", Addr: "10.0.0.2:22"},
		NodeWaiting{Node: "web1", User: "root", Addr: "10.0.0.2:22"}, // the same line: not drawn again
		NodeReady{Node: "lvs1", Addr: "10.0.0.1:22", Elapsed: Duration(2 * time.Second)},
		NodeFailed{Node: "web1", Error: "interrupted", Interrupted: true},
		WaitDone{},
		NodeReady{Node: "web1", Addr: "10.0.0.2:22"}, // after the wait: not drawn
		StepDone{Step: "ssh", Elapsed: Duration(2 * time.Second)},
		PhaseStarted{N: 1, Total: 2, Title: "debootstrap"},
		PhaseDone{N: 1, Total: 2, Title: "debootstrap", Elapsed: Duration(3 * time.Second)},
	})
	want := "  waiting for SSH on 2 nodes (timeout 2m0s)\n" +
		"\r\x1b[2K    lvs1  \n" +
		"\r\x1b[2K    web1  waiting for SSH root@10.0.0.2:22 (0s)\n" +
		"\x1b[2A\r\x1b[2K    lvs1  ready on 10.0.0.1:22 after 2s\n" +
		"\r\x1b[2K    web1  waiting for SSH root@10.0.0.2:22 (0s)\n" +
		"\x1b[2A\r\x1b[2K    lvs1  ready on 10.0.0.1:22 after 2s\n" +
		"\r\x1b[2K    web1  interrupted\n" +
		"  ssh        done in 2s\n" +
		"[1/2] debootstrap ...\r[1/2] debootstrap ... done in 3s\x1b[K\n"
	if b.String() != want {
		t.Errorf("tty:\n%q\nwant\n%q", b.String(), want)
	}
}

// A phase's line ticks on a terminal while it runs, and stops at its end.
func TestTTYPhaseTicks(t *testing.T) {
	var b bytes.Buffer
	r := NewText(&b, true)
	r.every = 5 * time.Millisecond
	written := func() string { // the renderer writes under its lock
		r.mu.Lock()
		defer r.mu.Unlock()
		return b.String()
	}
	r.Emit(PhaseStarted{N: 3, Total: 7, Title: "trim"})
	time.Sleep(60 * time.Millisecond)
	r.Emit(PhaseDone{N: 3, Total: 7, Title: "trim", Elapsed: Duration(60 * time.Millisecond)})
	end := written()
	time.Sleep(30 * time.Millisecond)
	if written() != end {
		t.Errorf("ticked after the phase ended: %q", written())
	}
	if !strings.HasPrefix(end, "[3/7] trim ...\r[3/7] trim ... 0s\r") || !strings.HasSuffix(end, "\r[3/7] trim ... done in 100ms\x1b[K\n") {
		t.Errorf("ticking line %q", end)
	}
}

// The events of sources are plain lines under their prefix, even on a
// terminal, and each source keeps its own node lines.
func TestSourcesArePlainPrefixedLines(t *testing.T) {
	var b bytes.Buffer
	r := NewText(&b, true)
	alice, bob := From(r, "alice"), From(r, "bob")
	alice.Emit(WaitStarted{Nodes: []string{"web1"}, Timeout: Duration(time.Minute)})
	bob.Emit(WaitStarted{Nodes: []string{"client1"}, Timeout: Duration(time.Minute)})
	alice.Emit(NodeWaiting{Node: "web1", User: "root", Addr: "10.0.0.2:22"})
	bob.Emit(NodeWaiting{Node: "client1", User: "root", Addr: "10.0.0.2:22"})
	alice.Emit(NodeWaiting{Node: "web1", User: "root", Addr: "10.0.0.2:22", Elapsed: Duration(time.Second)})
	bob.Emit(NodeReady{Node: "client1", Addr: "10.0.0.2:22", Elapsed: Duration(time.Second)})
	want := "[alice]   waiting for SSH on 1 nodes (timeout 1m0s)\n" +
		"[bob]   waiting for SSH on 1 nodes (timeout 1m0s)\n" +
		"[alice]     web1  waiting for SSH root@10.0.0.2:22 (0s)\n" +
		"[bob]     client1  waiting for SSH root@10.0.0.2:22 (0s)\n" +
		"[bob]     client1  ready on 10.0.0.2:22 after 1s\n"
	if b.String() != want {
		t.Errorf("sources:\n%s\nwant\n%s", b.String(), want)
	}
}

func TestModes(t *testing.T) {
	var b bytes.Buffer
	for mode, want := range map[string]string{ModeAuto: "*progress.Text false", "": "*progress.Text false",
		ModeTTY: "*progress.Text true", ModePlain: "*progress.Text false", ModeJSON: "*progress.JSON"} {
		s, err := New(mode, &b)
		if err != nil {
			t.Fatalf("%q: %v", mode, err)
		}
		got := reflect.TypeOf(s).String()
		if text, ok := s.(*Text); ok {
			got += map[bool]string{true: " true", false: " false"}[text.tty]
		}
		if got != want {
			t.Errorf("New(%q) = %s, want %s", mode, got, want)
		}
	}
	if _, err := New("color", &b); err == nil || !strings.Contains(err.Error(), "auto, tty, plain, json") {
		t.Errorf("New(color): %v", err)
	}
}

// Every event type of the package is in sample (so its plain and JSON
// forms are pinned above), under a kind of its own.
func TestSampleHasEveryEvent(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, f := range pkgs["progress"].Files {
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "Kind" && fn.Recv != nil {
				types = append(types, fmt.Sprint(fn.Recv.List[0].Type))
			}
		}
	}
	seen, kinds := map[string]bool{}, map[string]string{}
	for _, ev := range sample {
		if s, ok := ev.(Sourced); ok {
			seen["Sourced"] = true
			ev = s.Event
		}
		name := reflect.TypeOf(ev).Name()
		seen[name] = true
		if other, ok := kinds[ev.Kind()]; ok && other != name {
			t.Errorf("%s and %s are both %q", other, name, ev.Kind())
		}
		kinds[ev.Kind()] = name
	}
	if len(types) < 30 {
		t.Fatalf("found only %d event types: %v", len(types), types)
	}
	for _, ty := range types {
		if !seen[ty] {
			t.Errorf("event %s is not in sample", ty)
		}
	}
}

// diffLines shows the first line where got and want differ.
func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	i := 0
	for i < len(g) && i < len(w) && g[i] == w[i] {
		i++
	}
	g, w = append(g, ""), append(w, "") // line i exists in both
	return fmt.Sprintf("line %d:\n got %q\nwant %q", i+1, g[i], w[i])
}
