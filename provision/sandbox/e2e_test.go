package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary play "lvslab __sandbox-inner".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == InnerCommand {
		code, err := RunInner(context.Background(), os.Args[2:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			os.Exit(125)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestSandboxE2E runs virsh inside a real sandbox and checks that its
// libvirt is private, KVM masking applies, the exit code comes back and the
// namespace is gone afterwards.
func TestSandboxE2E(t *testing.T) {
	if os.Getenv("LVSLAB_E2E") != "1" {
		t.Skip("set LVSLAB_E2E=1 to run (needs root and libvirt-daemon-system)")
	}
	var out bytes.Buffer
	name := fmt.Sprintf("lvslab-sb-test-%d", os.Getpid())
	script := `echo "sandbox=$LVSLAB_SANDBOX"
virsh -q -c qemu:///system net-list --all | grep -c . || true
ip -o link | wc -l
test -e /dev/kvm && ! test -c /dev/kvm && echo kvm=masked
exit 3`
	code, err := Run(context.Background(), Options{
		Name: name, MaskKVM: MaskAlways,
		Self:   []string{os.Args[0], InnerCommand},
		Stdout: &out, Stderr: &out,
	}, []string{"sh", "-c", script})
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	t.Log(got)
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	for _, want := range []string{"sandbox=" + name, "\n0\n", "\n1\n", "kvm=masked"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q (no network defined, only lo, /dev/kvm masked)", want)
		}
	}
	if _, err := os.Stat("/run/netns/" + name); !os.IsNotExist(err) {
		t.Errorf("namespace %s still exists", name)
	}
}
