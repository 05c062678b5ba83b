package class

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/check"
	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/verify"
)

// sampleReport: alice passes, bob fails a fact, carol's copy could not be
// read.
func sampleReport() *Report {
	alice := &check.Report{Lab: "lvs-alice", Nodes: []check.NodeReport{{Node: "web1", Facts: []check.Fact{
		{Name: "address eth1", Status: report.Pass, Got: "192.168.2.100/24"},
	}}}, Verify: &verify.Report{Services: []*verify.ServiceReport{{Name: "web", Checks: []report.Check{{Name: "rr shares", Status: report.Pass, Detail: "20/20"}}}}}}
	bob := &check.Report{Lab: "lvs-bob", Nodes: []check.NodeReport{{Node: "web1", Facts: []check.Fact{
		{Name: "address eth1", Status: report.Fail, Got: "none", Want: "192.168.2.100/24", Hint: "the director cannot reach it", Fix: "lvslab plan"},
	}}}, VerifyError: "client1: connection refused"}
	return &Report{Class: "lvs", Command: "check", Rows: []Row{
		{Student: "alice", Copy: "lvs-alice", Host: "a:///", Checks: CheckChecks(alice)},
		{Student: "bob", Copy: "lvs-bob", Host: "b:///?keyfile=/k", Checks: CheckChecks(bob)},
		{Student: "carol", Copy: "lvs-carol", Host: "a:///", Error: "no copy recorded", Checks: []report.Check{}},
	}}
}

func TestReportColumnsAndExit(t *testing.T) {
	r := sampleReport()
	if got := strings.Join(r.Columns(), "|"); got != "web1: address eth1|web: rr shares|end-to-end" {
		t.Fatal(got)
	}
	if r.ExitCode() != report.ExitFail || !r.Rows[0].Pass() || r.Rows[1].Pass() {
		t.Fatal(r.ExitCode())
	}
	r.Rows = []Row{r.Rows[0], r.Rows[2]}
	if r.ExitCode() != report.ExitCannot {
		t.Fatal(r.ExitCode())
	}
	r.Command = "up" // a copy that did not come up failed
	if r.ExitCode() != report.ExitFail {
		t.Fatal(r.ExitCode())
	}
}

func TestReportText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"STUDENT HOST  RESULT 1    2  3\n",
		"alice   a:/// pass   ok   ok -\n",
		"bob     b:/// FAIL   FAIL -  FAIL\n",
		"carol   a:/// ERROR  -    -  -\n",
		"  1 web1: address eth1\n",
		"bob (lvs-bob on b:///):\n  FAIL web1: address eth1: none (want 192.168.2.100/24): the director cannot reach it; fix: lvslab plan\n  FAIL end-to-end: could not run: client1: connection refused\n",
		"carol (lvs-carol on a:///): no copy recorded\n",
		"class lvs check: FAIL, 1 of 3 students passed (not: bob, carol)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
}

func TestReportJSON(t *testing.T) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(sampleReport()); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Class != "lvs" || len(back.Rows) != 3 || back.Rows[1].Checks[0].Status != report.Fail || back.Rows[2].Error != "no copy recorded" {
		t.Fatalf("%+v", back)
	}
}

func TestReportJUnit(t *testing.T) {
	data, err := JUnit(sampleReport(), "lvslab class check lvs")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 5 || doc.Failures != 3 || len(doc.Suites) != 3 || doc.Suites[1].Name != "lvs/bob" {
		t.Fatalf("%s", data)
	}
	if c := doc.Suites[2].Cases[0]; c.Name != "check" || c.Failure == nil || c.Failure.Message != "no copy recorded" {
		t.Fatalf("%s", data)
	}
}

// The page is self-contained: no script, no fetch; every name escaped.
func TestReportHTMLStatic(t *testing.T) {
	r := sampleReport()
	r.Rows[1].Checks[0].Detail = `<script>alert("x")</script>`
	var b bytes.Buffer
	if err := WriteHTML(&b, r, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
	for _, want := range []string{`data-student="alice"`, `class="fail"`, "&lt;script&gt;", ColourPass} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
