package main

import (
	"strings"
	"testing"
)

func TestCommandWords(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"--", "ip", "-4", "addr"}, []string{"ip", "-4", "addr"}},
		{[]string{"hostname"}, []string{"hostname"}},
		{nil, nil},
	} {
		if got := commandWords(c.in); strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%q: %q", c.in, got)
		}
	}
}

// Wrong uses of ssh, exec, console and check are exit code 2 with the way
// out; a lab that is not up is said per node.
func TestAccessCommandsUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "--all"}, "no command: lvslab exec --all -- CMD"},
		{[]string{"exec", "--", "hostname"}, "--node NODE (repeatable) or --all"},
		{[]string{"exec", "--all", "--node", "web1", "--", "true"}, "exclude each other"},
		{[]string{"ssh"}, "which NODE?"},
		{[]string{"console"}, "one NODE"},
		{[]string{"exec", "--connect", "test:///default", "--node", "web9", "--", "true"}, `no node "web9" in lab tedu`},
		{[]string{"ssh", "web1", "--connect", "test:///default", "--", "true"}, "web1 of lab tedu has no VM"},
		{[]string{"check", "--connect", "test:///default", "--node", "web9"}, `no node "web9" in lab tedu`},
	} {
		code, _, stderr := lvslab(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}
