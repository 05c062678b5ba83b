package main

// The images end-to-end test (make e2e-images): lvslab's own image and two
// disks made the way distributions make theirs, from Debian's packages (a
// "generic cloud" disk with GRUB and cloud-init, a classroom "base" disk
// with a root password and a serial getty), the latter two imported as a
// user's disks are; then, in the sandbox, tedu-nat up on each, verified,
// switched to tedu-dr, verified, the guests described by status, down. The
// base disk's password is looked for where it must never be.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// imagesPassword is the base image's root password, and the lab file's
// login.password for it.
const imagesPassword = "Base-Lvs.7319"

// The images the inner test brings the lab up on: lvslab's own image and
// the two imported disks, with how their VMs are seeded.
var e2eImages = []struct{ name, seeded string }{
	{"debian-12", "lvslab"},
	{"imported-cloud", "cloud-init"},
	{"imported-base", "console"},
}

// TestImagesE2E builds the images outside the sandbox (debootstrap needs
// the package mirror), imports the cloud and base disks and checks what
// lvslab detected on them, then runs the inner test in the sandbox.
func TestImagesE2E(t *testing.T) {
	bin := e2eBinary(t)
	if os.Getenv(e2eInnerEnv) == "1" {
		t.Skip("already inside the sandbox")
	}
	lvslab := func(what string, args ...string) string {
		t.Helper()
		return outside(t, bin, what, args...)
	}
	lvslab("build lvslab's image", "image", "build")
	lvslab("build the cloud image", "image", "build", "--flavor", "cloud")
	lvslab("build the base image", "image", "build", "--flavor", "base", "--root-password", imagesPassword)
	disks := map[string]string{}
	for _, img := range imageList(t, lvslab("list the images", "image", "ls", "-o", "json")) {
		disks[img.Name] = img.Disk
	}
	lvslab("import the cloud disk", "image", "import", disks["debian-12-cloud"], "--name", "imported-cloud", "--force")
	lvslab("import the base disk", "image", "import", disks["debian-12-base"], "--name", "imported-base", "--force")
	detected := map[string]e2eImage{}
	for _, img := range imageList(t, lvslab("list the images again", "image", "ls", "-o", "json")) {
		detected[img.Name] = img
	}
	for name, want := range map[string]e2eImage{
		"imported-cloud": {Kind: "imported", Boot: "bios", Seeding: "cloud-init", Detected: e2eDetected{OSFamily: "debian", OSVersion: "12", CloudInit: true, Network: "systemd-networkd", Bootloader: "grub", Table: "mbr"}},
		"imported-base":  {Kind: "imported", Boot: "bios", Seeding: "console", Detected: e2eDetected{OSFamily: "debian", OSVersion: "12", Network: "systemd-networkd", Bootloader: "grub", Table: "mbr"}},
	} {
		got := detected[name]
		if got.Kind != want.Kind || got.Boot != want.Boot || got.Seeding != want.Seeding || got.Detected != want.Detected {
			t.Errorf("image %s detected as %+v, want %+v", name, got, want)
		}
	}
	for _, img := range detected {
		if b, err := os.ReadFile(filepath.Join(filepath.Dir(img.Disk), "build.log")); err == nil && strings.Contains(string(b), imagesPassword) {
			t.Errorf("the build log of %s holds the root password", img.Name)
		}
	}
	took, err := runInSandbox(t, bin, e2eInnerEnv, "TestImagesE2EInner", "75m")
	if err != nil {
		t.Fatalf("images end-to-end run failed after %s: %v", took.Round(time.Second), err)
	}
	t.Logf("images end-to-end run passed in %s", took.Round(time.Second))
}

// e2eImage is an entry of "lvslab image ls -o json".
type e2eImage struct {
	Name     string      `json:"name"`
	Kind     string      `json:"kind"`
	Disk     string      `json:"disk"`
	Boot     string      `json:"boot"`
	Seeding  string      `json:"seeding"`
	Detected e2eDetected `json:"detected"`
}

type e2eDetected struct {
	Table      string `json:"partition_table"`
	OSFamily   string `json:"os_family"`
	OSVersion  string `json:"os_version"`
	CloudInit  bool   `json:"cloud_init"`
	Bootloader string `json:"bootloader"`
	Network    string `json:"network"`
}

func imageList(t *testing.T, out string) []e2eImage {
	t.Helper()
	var images []e2eImage
	if err := json.Unmarshal([]byte(out), &images); err != nil {
		t.Fatalf("image ls -o json: %v\n%s", err, out)
	}
	return images
}

// TestImagesE2EInner runs inside the sandbox: the lab on each image in
// turn, the first boot to SSH of each printed as a figure.
func TestImagesE2EInner(t *testing.T) {
	e := insideSandbox(t, "TestImagesE2E")
	var said strings.Builder // every lvslab output, --debug traces included
	var figures []string
	for _, img := range e2eImages {
		nat, dr := e.imageLab(img.name, "tedu-nat"), e.imageLab(img.name, "tedu-dr")
		e.phase("up tedu-nat on "+img.name, func() {
			out := e.capture(&said, "--debug", "up", nat, "--timeout", "20m")
			m := regexp.MustCompile(`every node answered SSH within (\S+),`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("up on %s printed no SSH time:\n%s", img.name, out)
			}
			figures = append(figures, fmt.Sprintf("FIGURE first boot to SSH, 4 VMs of %-15s %s", img.name+":", m[1]))
		})
		e.phase("verify tedu-nat on "+img.name, func() {
			if got := e.verify("tedu", 0).Services[0].Counts; got["web1"] != 6 || got["web2"] != 6 {
				t.Errorf("%s: rr over 12 requests: want 6/6, got %v", img.name, got)
			}
		})
		e.phase("switch to tedu-dr on "+img.name, func() { e.capture(&said, "--debug", "up", dr) })
		e.phase("verify tedu-dr on "+img.name, func() {
			if c := e.verify("tedu", 0).Services[0].Counts; c["web1"] == 0 || c["web2"] == 0 || c["web1"]+c["web2"] != 12 {
				t.Errorf("%s: DR should serve from both web nodes, got %v", img.name, c)
			}
		})
		e.phase("status describes the guests on "+img.name, func() { e.guests(img.name, img.seeded) })
		e.phase("the password is nowhere on "+img.name, func() { e.passwordNowhere(said.String()) })
		e.phase("down leaves nothing of "+img.name, func() {
			e.must("down", "tedu")
			nothingLeft(t, "tedu")
		})
	}
	fmt.Println()
	for _, f := range figures {
		fmt.Println(f)
	}
}

// imageLab writes lab (an embedded lab file) with image: name, and for the
// base image the login it needs, and returns its path.
func (e *e2e) imageLab(name, lab string) string {
	e.t.Helper()
	src := e.must("labs", "--show", lab)
	if !strings.Contains(src, "\nimage: debian-12\n") {
		e.t.Fatalf("%s has no image line", lab)
	}
	img := "\nimage: " + name + "\n"
	if name == "imported-base" {
		img += "login:\n  user: root\n  password: " + imagesPassword + "\n"
	}
	path := filepath.Join(e.t.TempDir(), lab+"-"+name+".yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(src, "\nimage: debian-12\n", img, 1)), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func tailLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines of --debug left out)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// guests checks what status says of each node: Debian 12, networkd, and
// how the image seeds.
func (e *e2e) guests(image, seeded string) {
	e.t.Helper()
	out, _ := e.run("status", "tedu", "--output", "json")
	var st []struct {
		Nodes []struct{ Node, OS, Network, Seeded string } `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 1 || len(st[0].Nodes) != 4 {
		e.t.Fatalf("status tedu --output json: %v\n%s", err, out)
	}
	for _, n := range st[0].Nodes {
		if !strings.HasPrefix(n.OS, "Debian GNU/Linux 12") || n.Network != "systemd-networkd" || n.Seeded != seeded {
			e.t.Errorf("%s: status of %s: OS %q, network %q, seeded %q; want Debian 12, systemd-networkd, %s", image, n.Node, n.OS, n.Network, n.Seeded, seeded)
		}
	}
	e.must("status", "tedu")
}

// passwordNowhere: the base image's password is in no libvirt definition
// (tags included), no console log, no file of the lab's state folder and
// no output of lvslab (--debug traces included). The logs are where status
// says, the state folder where ssh-config's key is.
func (e *e2e) passwordNowhere(said string) {
	t := e.t
	t.Helper()
	if strings.Contains(said, imagesPassword) {
		t.Error("lvslab's output (--debug included) holds the password")
	}
	for _, d := range strings.Fields(virsh(t, "list", "--all", "--name")) {
		if strings.HasPrefix(d, "tedu-") && strings.Contains(virsh(t, "dumpxml", d), imagesPassword) {
			t.Errorf("the definition of %s holds the password", d)
		}
	}
	out, _ := e.run("status", "tedu", "--output", "json")
	var st []struct {
		Nodes []struct {
			ConsoleLog string `json:"console_log"`
		} `json:"nodes"`
	}
	var files []string
	if json.Unmarshal([]byte(out), &st) == nil && len(st) == 1 {
		for _, n := range st[0].Nodes {
			files = append(files, n.ConsoleLog)
		}
	}
	if m := regexp.MustCompile(`(?m)^\s*IdentityFile (\S+)$`).FindStringSubmatch(e.must("ssh-config", "tedu")); m != nil {
		state, _ := filepath.Glob(filepath.Join(filepath.Dir(m[1]), "*"))
		files = append(files, state...)
	}
	if len(files) < 5 {
		t.Errorf("found only %v to look into", files)
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), imagesPassword) {
			t.Errorf("%s holds the password", f)
		}
	}
}
