package main

import (
	"reflect"
	"testing"
)

func TestInterspersedFlags(t *testing.T) {
	app := newApp()
	cases := []struct{ in, want []string }{
		{[]string{"lvslab", "graph", "tedu-dr", "--format", "dot"}, []string{"lvslab", "graph", "--format", "dot", "tedu-dr"}},
		{[]string{"lvslab", "graph", "tedu-dr", "-f=dot"}, []string{"lvslab", "graph", "-f=dot", "tedu-dr"}},
		{[]string{"lvslab", "plan", "x.yaml", "--os", "rhel", "-f", "script"}, []string{"lvslab", "plan", "--os", "rhel", "-f", "script", "x.yaml"}},
		{[]string{"lvslab", "validate"}, []string{"lvslab", "validate"}},
		{[]string{"lvslab", "sandbox", "sh", "-c", "x"}, []string{"lvslab", "sandbox", "sh", "-c", "x"}},
		{[]string{"lvslab", "sandbox", "sh", "--name", "x"}, []string{"lvslab", "sandbox", "sh", "--name", "x"}},
		{[]string{"lvslab", "sandbox", "--name", "n", "--", "sh", "-c", "x"}, []string{"lvslab", "sandbox", "--name", "n", "--", "sh", "-c", "x"}},
		{[]string{"lvslab", "__sandbox-inner", "sh", "-c", "x"}, []string{"lvslab", "__sandbox-inner", "sh", "-c", "x"}},
		{[]string{"lvslab", "nosuch", "a", "--b"}, []string{"lvslab", "nosuch", "a", "--b"}},
	}
	for _, c := range cases {
		if got := interspersed(app, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("interspersed(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
