package handout

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/render"
	"github.com/lvslab/lvslab/roles/rolestest"
	"github.com/lvslab/lvslab/topology"
	"github.com/lvslab/lvslab/topology/testkit/golden"
	"github.com/lvslab/lvslab/topology/testkit/shtest"
)

// stages are the labs that follow another on the same VMs.
var stages = map[string]string{"tedu-dr": "tedu-nat"}

func build(t *testing.T, lab *topology.Lab, opts Options) *Handout {
	t.Helper()
	h, err := Build(lab, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestGolden compares the handouts of every embedded lab (and of its stage
// after the lab before) with testdata/handout/<lab>[.from-<lab>].<os>.<format>;
// go test ./roles/handout -run Golden -update rewrites them.
func TestGolden(t *testing.T) {
	for _, name := range labs.Names() {
		lab := rolestest.Lab(t, name)
		for _, osf := range catalog.OSFamilies {
			h := build(t, lab, Options{OS: osf})
			golden.Check(t, filepath.Join("testdata", "handout", name+"."+osf+".text"), h.Text())
			golden.Check(t, filepath.Join("testdata", "handout", name+"."+osf+".md"), h.Markdown())
			if from, ok := stages[name]; ok {
				h := build(t, lab, Options{OS: osf, From: rolestest.Lab(t, from)})
				golden.Check(t, filepath.Join("testdata", "handout", name+".from-"+from+"."+osf+".text"), h.Text())
				golden.Check(t, filepath.Join("testdata", "handout", name+".from-"+from+"."+osf+".md"), h.Markdown())
			}
		}
	}
	lab := rolestest.Lab(t, "tedu-nat")
	var b bytes.Buffer
	if err := HTML(&b, lab, Options{OS: catalog.RHEL}); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "handout", "tedu-nat.rhel.html"), b.String())
	h := build(t, lab, Options{OS: catalog.Debian, Network: NetworkManager})
	golden.Check(t, filepath.Join("testdata", "handout", "tedu-nat.debian-networkmanager.text"), h.Text())
}

// budget is the most command lines a handout of all the lab's nodes may
// have, on either OS family: the 40 for tedu-nat's four nodes and
// 45 for tedu-dr's, every other lab in proportion: 10 a node for NAT,
// 45/4 a node for DR and TUN (the VIPs and ARP settings), one more a TUN
// real server (its ipip module, loaded now and at boot), two more a node
// that runs keepalived (its keepalived.conf and service), and 15 more for
// each service after the first (a UDP responder on each real server, its
// ipvsadm lines, its request loop).
func budget(lab *topology.Lab) int {
	perNode, extra := 10.0, 0
	for _, s := range lab.Services {
		if s.Mode != topology.ModeNAT {
			perNode = 45.0 / 4
		}
		if s.Mode == topology.ModeTUN {
			extra = len(s.RealServers)
		}
	}
	extra += 2 * len(lab.KeepalivedNodes())
	if n := len(lab.Services) + len(lab.VRRPServices); n > 1 {
		extra += 15 * (n - 1)
	}
	return int(perNode*float64(len(lab.Nodes))+0.5) + extra
}

// TestBudgets counts what a student types, per lab and OS family, before
// (the machine plan's text, which was the handout) and now.
func TestBudgets(t *testing.T) {
	for _, name := range labs.Names() {
		lab := rolestest.Lab(t, name)
		budget := budget(lab)
		for _, osf := range catalog.OSFamilies {
			before := commandLines(render.Plan(lab, osf).Text())
			n := build(t, lab, Options{OS: osf}).CommandLines()
			stage := ""
			if from, ok := stages[name]; ok {
				stage = ", its stage after " + from + ": " + fmt.Sprint(build(t, lab, Options{OS: osf, From: rolestest.Lab(t, from)}).CommandLines())
			}
			t.Logf("%-14s %-6s before %3d, now %2d command lines (budget %d)%s", name, osf, before, n, budget, stage)
			if n > budget {
				t.Errorf("%s on %s: %d command lines, budget %d", name, osf, n, budget)
			}
		}
	}
}

func commandLines(text string) int {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

// Nothing of convergence, nothing of lvslab's own files: only the
// exercise, each command one line that sh reads as it stands.
func TestOnlyTheExercise(t *testing.T) {
	shtest.Need(t, "sh")
	for _, name := range labs.Names() {
		lab := rolestest.Lab(t, name)
		for _, osf := range catalog.OSFamilies {
			opts := []Options{{OS: osf}}
			if from, ok := stages[name]; ok {
				opts = append(opts, Options{OS: osf, From: rolestest.Lab(t, from)})
			}
			for _, o := range opts {
				text := build(t, lab, o).Text()
				for _, bad := range []string{"LVSLAB_EOF", "lvslab-", "lvslab_", "90-lvslab", ".link", "stale", "<<", "modprobe -r", "mgmt0", "|| :", "2>/dev/null"} {
					if strings.Contains(text, bad) {
						t.Errorf("%s on %s (from %v): the handout holds %q", name, osf, o.From != nil, bad)
					}
				}
				var script strings.Builder
				for _, l := range strings.Split(text, "\n") {
					if l != "" && !strings.HasPrefix(l, "#") {
						script.WriteString(l + "\n")
					}
				}
				shtest.Parses(t, name+" on "+osf, script.String())
			}
		}
	}
}

// A stage keeps the VMs: labs with other nodes cannot follow each other.
func TestStageNeedsTheSameNodes(t *testing.T) {
	_, err := Build(rolestest.Lab(t, "tedu-dr"), Options{OS: catalog.Debian, From: rolestest.Lab(t, "dr-nginx")})
	if err == nil || !strings.Contains(err.Error(), "cannot follow") || !strings.Contains(err.Error(), "client1") {
		t.Fatalf("tedu-dr after dr-nginx: %v", err)
	}
	_, err = Build(rolestest.Lab(t, "twonic-dr"), Options{OS: catalog.Debian, From: rolestest.Lab(t, "twonic-nat")})
	if err == nil || !strings.Contains(err.Error(), "has the NICs eth0, eth1 there and eth0 here") {
		t.Fatalf("twonic-dr after twonic-nat (the director loses eth1): %v", err)
	}
	h := build(t, rolestest.Lab(t, "tedu-dr"), Options{OS: catalog.Debian, From: rolestest.Lab(t, "tedu-nat")})
	text := h.Text()
	for _, want := range []string{"ipvsadm -D -t 192.168.4.5:80", "ip addr flush dev eth1", "/etc/systemd/network/lo.network", "-e 's/ip_forward = 1/ip_forward = 0/'"} {
		if !strings.Contains(text, want) {
			t.Errorf("the NAT to DR stage lacks %q", want)
		}
	}
	if strings.Contains(text, "apt-get install") || strings.Contains(text, "hostname web1") || strings.Contains(text, "> /var/www/html") {
		t.Errorf("the stage repeats what the stage before did:\n%s", text)
	}
}

// The expected output follows the lab's scheduler and weights.
func TestExpectedOutputs(t *testing.T) {
	nat := build(t, rolestest.Lab(t, "tedu-nat"), Options{OS: catalog.RHEL})
	loop := nat.Expect[0]
	if strings.Join(loop.Output, ",") != "192.168.2.100,apache web server2,192.168.2.100,apache web server2" {
		t.Errorf("rr loop prints %q", loop.Output)
	}
	if len(loop.Notes) == 0 || !strings.Contains(loop.Notes[0], "apache web server2, 192.168.2.100, apache web server2, apache web server2, 192.168.2.100, apache web server2") {
		t.Errorf("no wrr 2:1 in %q", loop.Notes)
	}
	dr := build(t, rolestest.Lab(t, "tedu-dr"), Options{OS: catalog.Debian})
	if got := strings.Join(dr.Expect[0].Output, ","); got != "192.168.2.100,apache web server2,apache web server2,192.168.2.100,apache web server2,apache web server2" {
		t.Errorf("wlc loop prints %q", got)
	}
	list := strings.Join(dr.Expect[1].Output, "\n")
	if !strings.Contains(list, "TCP  192.168.4.15:80 wlc\n  -> 192.168.4.100:80             Route   1 ") {
		t.Errorf("ipvsadm -Ln:\n%s", list)
	}
}

// What a lab file says is text in the page, never markup.
func TestHTMLEscapes(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-nat")
	lab.Node("web1").Page = `<script>alert(1)</script>`
	lab.Description = `<img src=x onerror=alert(2)>`
	var b bytes.Buffer
	if err := HTML(&b, lab, Options{OS: catalog.Debian, Title: "student <b>7</b>"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script>", "<img", "<b>7"} {
		if strings.Contains(out, bad) {
			t.Errorf("the HTML handout holds %q unescaped", bad)
		}
	}
	if !strings.Contains(out, "&lt;script&gt;") || !strings.Contains(out, "<h2>Topology</h2>") || !strings.Contains(out, `<ol start="1">`) {
		t.Errorf("the HTML handout lacks the escaped page, the topology or the steps")
	}
}

func TestOptions(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-nat")
	if _, err := Build(lab, Options{OS: "arch"}); err == nil {
		t.Error("unknown OS: no error")
	}
	if _, err := Build(lab, Options{OS: catalog.RHEL, Network: Networkd}); err == nil {
		t.Error("networkd on RHEL: no error")
	}
	h := build(t, lab, Options{OS: catalog.Debian, Network: NetworkManager})
	if !strings.Contains(h.Text(), "nmcli connection modify eth1 connection.autoconnect yes ipv4.method manual ipv4.addresses 192.168.2.100/24 ipv4.gateway 192.168.2.5") {
		t.Error("Debian with NetworkManager: no nmcli")
	}
}

// A page of several lines, quotes and shell words is still one command
// line that writes exactly the page.
func TestHostilePageIsOneLine(t *testing.T) {
	shtest.Need(t, "sh")
	const page = "<h1>web1</h1>\n'; touch /tmp/lvslab-pwned; '\n$(id) \\n -n"
	lab := rolestest.Lab(t, "tedu-nat")
	lab.Node("web1").Page = page
	h := build(t, lab, Options{OS: catalog.Debian})
	var line string
	for _, l := range h.Lines() {
		if l.Node == "web1" && strings.HasSuffix(l.Command, "/var/www/html/index.html") {
			line = l.Command
		}
	}
	dir := t.TempDir()
	cmd := strings.Replace(line, "/var/www/html/index.html", filepath.Join(dir, "index.html"), 1)
	if out, err := shtest.Command(cmd).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "index.html")); string(got) != page+"\n" {
		t.Errorf("%s wrote %q, want %q", cmd, got, page+"\n")
	}
}

// A page cannot end the Markdown code block it is in.
func TestMarkdownFenceHoldsThePage(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-nat")
	lab.Node("web1").Page = "```\n# Injected heading"
	md := build(t, lab, Options{OS: catalog.Debian}).Markdown()
	if !strings.Contains(md, "````sh\n   printf '%s\\n' '```'") || !strings.Contains(md, "````text\n```\n# Injected heading\n") {
		t.Errorf("the page breaks out of its code block:\n%s", md)
	}
}
