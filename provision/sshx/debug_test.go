package sshx

import (
	"regexp"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/provision/progress"
	"github.com/lvslab/lvslab/provision/progress/progresstest"
)

// --debug shows each SSH command and file write with its duration and
// output, and never a secret that RunSecret hides.
func TestDebugTracesCommandsAndFiles(t *testing.T) {
	_, c := connected(t)
	trace := progresstest.Debug(t)

	mustRun(t, c, "echo traced-output; echo second-line")
	if _, err := c.RunSecret(testContext(t), "echo s3cret >/dev/null", "echo <password> >/dev/null"); err != nil {
		t.Fatal(err)
	}
	c.Run(testContext(t), "exit 3")
	if err := c.WriteFile(testContext(t), t.TempDir()+"/page.html", []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := trace.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^debug: ssh web1: echo traced-output; echo second-line \([0-9.]+[mµn]?s\)\n    \| traced-output\n    \| second-line\n`),
		regexp.MustCompile(`(?m)^debug: ssh web1: echo <password> >/dev/null \(`),
		regexp.MustCompile(`(?m)^debug: ssh web1: exit 3 \([^)]*\): .*exited 3`),
		regexp.MustCompile(`(?m)^debug: sftp web1: write .*/page.html \(5 bytes, mode 644\) \(`),
	} {
		if !want.MatchString(got) {
			t.Errorf("trace lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "s3cret") {
		t.Errorf("the trace shows the secret:\n%s", got)
	}

	progress.SetDebug(nil)
	trace.Reset()
	mustRun(t, c, "echo quiet")
	if trace.Len() != 0 {
		t.Errorf("with --debug off the trace got %q", trace.String())
	}
}
