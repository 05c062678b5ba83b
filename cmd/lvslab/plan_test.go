package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// issue 22: -o script never writes several nodes' scripts into one stream.
func TestPlanScriptOneNodeAStream(t *testing.T) {
	code, out, stderr := lvslab(t, "plan", "tedu-nat", "-o", "script")
	if code != 2 || out != "" || !strings.Contains(stderr, "--node NODE") || !strings.Contains(stderr, "--dir DIR") {
		t.Errorf("plan -o script without --node: exit %d, %q, %q", code, stderr, out)
	}
	dir := filepath.Join(t.TempDir(), "scripts")
	code, out, stderr = lvslab(t, "plan", "tedu-nat", "-o", "script", "--dir", dir)
	if code != 0 {
		t.Fatalf("plan -o script --dir: exit %d, %s", code, stderr)
	}
	for _, n := range []string{"client1", "lvs1", "web1", "web2"} {
		b, err := os.ReadFile(filepath.Join(dir, n+".sh"))
		if err != nil || strings.Count(string(b), "#!/bin/sh") != 1 || !strings.Contains(string(b), "node "+n+" ") {
			t.Errorf("%s.sh: %v\n%.200s", n, err, b)
		}
		if !strings.Contains(out, n+".sh") {
			t.Errorf("plan --dir does not say it wrote %s.sh: %q", n, out)
		}
	}
	if code, _, stderr := lvslab(t, "plan", "tedu-nat", "--dir", dir); code != 2 || !strings.Contains(stderr, "-o script") {
		t.Errorf("--dir without -o script: exit %d, %q", code, stderr)
	}
}

// The text is the student's handout; --from makes the stage.
func TestPlanHandoutAndStage(t *testing.T) {
	code, out, stderr := lvslab(t, "plan", "tedu-nat", "--os", "rhel")
	if code != 0 || !strings.Contains(out, "'net.ipv4.ip_forward = 1'") || !strings.Contains(out, "yum install -y httpd") {
		t.Fatalf("plan --os rhel: exit %d, %s\n%.500s", code, stderr, out)
	}
	if strings.Contains(out, "LVSLAB_EOF") || !strings.Contains(out, "==== Expected results") {
		t.Errorf("the handout is not the student's:\n%s", out)
	}
	code, out, stderr = lvslab(t, "plan", "tedu-dr", "--from", "tedu-nat", "--node", "lvs1")
	if code != 0 || !strings.Contains(out, "ipvsadm -D -t 192.168.4.5:80") || strings.Contains(out, "## web1") {
		t.Errorf("plan tedu-dr --from tedu-nat --node lvs1: exit %d, %s\n%s", code, stderr, out)
	}
	code, _, stderr = lvslab(t, "plan", "tedu-dr", "--from", "dr-nginx")
	if code != 1 || !strings.Contains(stderr, "cannot follow") {
		t.Errorf("a stage over other nodes: exit %d, %q", code, stderr)
	}
	code, _, stderr = lvslab(t, "plan", "tedu-dr", "--from", "tedu-nat", "-o", "script", "--node", "lvs1")
	if code != 2 || !strings.Contains(stderr, "--from") {
		t.Errorf("--from with -o script: exit %d, %q", code, stderr)
	}
	code, out, _ = lvslab(t, "plan", "tedu-nat", "-o", "html")
	if code != 0 || !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.Contains(out, "<h2>Topology</h2>") {
		t.Errorf("plan -o html: exit %d\n%.300s", code, out)
	}
	code, out, _ = lvslab(t, "plan", "tedu-nat", "-o", "markdown", "--network", "networkmanager")
	if code != 0 || !strings.Contains(out, "nmcli connection modify eth0") {
		t.Errorf("plan -o markdown --network networkmanager: exit %d\n%.300s", code, out)
	}
}

func TestPlanNetworkIsChecked(t *testing.T) {
	if code, _, stderr := lvslab(t, "plan", "tedu-nat", "--network", "ifupdown"); code != 2 || !strings.Contains(stderr, "use networkd or networkmanager") {
		t.Errorf("--network ifupdown: exit %d, %q", code, stderr)
	}
	if code, _, stderr := lvslab(t, "plan", "tedu-nat", "--os", "rhel", "--network", "networkd"); code != 2 || !strings.Contains(stderr, "NetworkManager") {
		t.Errorf("--network networkd --os rhel: exit %d, %q", code, stderr)
	}
}
