package main

// The multi-host end-to-end test (make e2e-hosts, root, 8 real VMs): in
// "lvslab sandbox --hypervisors 2" the teacher namespace, which has no
// libvirtd, brings one copy of tedu-nat up on each simulated hypervisor over
// qemu+ssh: the image is uploaded to each host's pool, every node is reached
// through its host (the jump), verify and status work remotely, a second up
// uploads nothing, ssh-config lets plain ssh in through ProxyJump, and down
// leaves nothing of the labs on either host.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/sandbox"
)

const hostsInnerEnv = "LVSLAB_E2E_HOSTS_INNER"

func TestHostsE2E(t *testing.T) {
	bin := gatedBinary(t, "LVSLAB_E2E", "multi-host end-to-end test", "make e2e-hosts")
	if os.Getenv(hostsInnerEnv) == "1" {
		t.Skip("already inside the sandbox")
	}
	if out, err := exec.Command(bin, "image", "build").CombinedOutput(); err != nil {
		t.Fatalf("lvslab image build: %v\n%s", err, out)
	}
	took, err := runInSandbox(t, bin, hostsInnerEnv, "TestHostsE2EInner", "60m", "--hypervisors", "2")
	if err != nil {
		t.Fatalf("multi-host run failed after %s: %v", took.Round(1e9), err)
	}
	fmt.Printf("PHASE %-34s %6.1fs\n", "whole multi-host run (sandbox)", took.Seconds())
}

func TestHostsE2EInner(t *testing.T) {
	e, uris := onTwoHosts(t, hostsInnerEnv, "TestHostsE2E")
	copies := []struct{ name, uri string }{{"a", uris[0]}, {"b", uris[1]}}
	defer func() {
		for i := len(e.phases) - 1; i >= 0; i-- {
			defer fmt.Println("PHASE", e.phases[i])
		}
		fmt.Println("phase times:")
	}()
	// The teacher has no libvirtd of its own: only the hosts answer.
	if out, err := exec.Command("virsh", "-c", "qemu:///system", "version").CombinedOutput(); err == nil {
		t.Fatalf("the teacher namespace has a libvirtd:\n%s", out)
	}
	for _, c := range copies {
		e.phase("up tedu-nat --as "+c.name+" (upload)", func() {
			out := e.must("up", "tedu-nat", "--connect", c.uri, "--as", c.name)
			if !strings.Contains(out, "uploaded 3 files") {
				t.Errorf("up of %s on a fresh host did not upload the image:\n%s", c.name, out)
			}
		})
	}
	for _, c := range copies {
		e.phase("verify "+c.name, func() { e.must("verify", c.name, "--connect", c.uri) })
		e.phase("status "+c.name, func() {
			out := e.must("status", c.name, "--connect", c.uri)
			host := strings.SplitN(c.uri, "/", 4)[2]
			if !strings.Contains(out, "on "+host) || strings.Count(out, "up (") != 4 {
				t.Errorf("status %s does not name host %s or not every node answers SSH:\n%s", c.name, host, out)
			}
		})
	}
	e.phase("second up of a (no upload)", func() {
		out := e.must("up", "tedu-nat", "--connect", uris[0], "--as", "a")
		if strings.Contains(out, "uploading image") || !strings.Contains(out, "nothing to upload") {
			t.Errorf("the second up uploaded the image again:\n%s", out)
		}
	})
	e.phase("ssh-config + ssh web1 hostname", func() {
		for _, c := range copies {
			conf := filepath.Join(t.TempDir(), c.name+".conf")
			if err := os.WriteFile(conf, []byte(e.must("ssh-config", c.name, "--connect", c.uri)), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("ssh", "-F", conf, "-o", "BatchMode=yes", "web1", "hostname").CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "web1" {
				t.Errorf("ssh -F %s web1 hostname: %v\n%s", conf, err, out)
			}
		}
	})
	for _, c := range copies {
		e.phase("down "+c.name, func() { e.must("down", c.name, "--connect", c.uri) })
	}
	// Nothing of the labs is left on either host: no domain, no network,
	// no volume but the image's.
	for _, c := range copies {
		onHost := func(args ...string) string { return strings.TrimSpace(virshOn(t, c.uri, args...)) }
		if d := onHost("list", "--all", "--name"); d != "" {
			t.Errorf("host of %s keeps domains: %s", c.name, d)
		}
		if n := onHost("net-list", "--all", "--name"); n != "" {
			t.Errorf("host of %s keeps networks: %s", c.name, n)
		}
		for _, v := range strings.Fields(onHost("vol-list", "lvslab")) {
			if strings.HasPrefix(v, "/") || v == "Name" || v == "Path" || strings.HasPrefix(v, "---") {
				continue
			}
			if !strings.HasPrefix(v, "image-") {
				t.Errorf("host of %s keeps volume %s", c.name, v)
			}
		}
	}
}

// onTwoHosts is the start of an inner test run by outer in "lvslab sandbox
// --hypervisors 2": its e2e runner and the two hosts' URIs.
func onTwoHosts(t *testing.T, env, outer string) (*e2e, []string) {
	t.Helper()
	if os.Getenv(env) != "1" {
		t.Skipf("runs inside lvslab sandbox --hypervisors 2 (%s)", outer)
	}
	uris := strings.Fields(os.Getenv(sandbox.EnvHypervisors))
	if len(uris) != 2 {
		t.Fatalf("$%s = %q: want two hypervisors", sandbox.EnvHypervisors, os.Getenv(sandbox.EnvHypervisors))
	}
	return &e2e{t: t, bin: os.Getenv("LVSLAB_BIN")}, uris
}
