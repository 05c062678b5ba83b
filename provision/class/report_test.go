package class

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvslab/lvslab/provision/check"
	"github.com/lvslab/lvslab/provision/report"
	"github.com/lvslab/lvslab/provision/verify"
)

// sampleReport: alice passes, bob fails a fact, carol's copy was never
// made, dave's could not be read.
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
		{Student: "carol", Copy: "lvs-carol", Error: "no copy recorded", ErrorFails: true, Checks: []report.Check{}},
		{Student: "dave", Copy: "lvs-dave", Host: "a:///", Error: "cannot connect", Checks: []report.Check{}},
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
	r.Rows = []Row{r.Rows[0], r.Rows[3]}
	if r.ExitCode() != report.ExitCannot {
		t.Fatal(r.ExitCode())
	}
	r.Rows[1].ErrorFails = true // a copy that did not come up (or never was made) failed
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
		"carol   -     FAIL   -    -  -\n",
		"dave    a:/// ERROR  -    -  -\n",
		"  1 web1: address eth1\n",
		"bob (lvs-bob on b:///):\n  FAIL web1: address eth1: none (want 192.168.2.100/24): the director cannot reach it; fix: lvslab plan\n  FAIL end-to-end: could not run: client1: connection refused\n",
		"carol (lvs-carol, never made): no copy recorded\n",
		"dave (lvs-dave on a:///): cannot connect\n",
		"class lvs check: FAIL, 1 of 4 students passed (not: bob, carol, dave)\n",
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
	if back.Class != "lvs" || len(back.Rows) != 4 || back.Rows[1].Checks[0].Status != report.Fail || back.Rows[2].Error != "no copy recorded" {
		t.Fatalf("%+v", back)
	}
	// Each row's verdict is said, as the text and JUnit say it.
	var results []struct{ Result string }
	var doc struct{ Students json.RawMessage }
	json.Unmarshal(b.Bytes(), &doc)
	json.Unmarshal(doc.Students, &results)
	if len(results) != 4 || results[0].Result != "pass" || results[1].Result != "fail" || results[2].Result != "fail" || results[3].Result != "error" {
		t.Errorf("results %+v in %s", results, b.String())
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
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 6 || doc.Failures != 3 || doc.Errors != 1 || len(doc.Suites) != 4 || doc.Suites[1].Name != "lvs/bob" {
		t.Fatalf("%s", data)
	}
	// A copy never made fails, as in the text and JSON; one that could
	// not be read is an error.
	if c := doc.Suites[2].Cases[0]; c.Name != "check" || c.Failure == nil || c.Failure.Message != "no copy recorded" {
		t.Fatalf("%s", data)
	}
	if c := doc.Suites[3].Cases[0]; c.Name != "check" || c.Error == nil || c.Failure != nil || c.Error.Message != "cannot connect" {
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

// issue 25: every column of the page has a header (the result too, and
// with no check column at all), and no row shows an empty host.
func TestReportHTMLHeaderForEveryColumn(t *testing.T) {
	onlyErrors := &Report{Class: "lvs", Command: "status", Rows: []Row{
		{Student: "alice", Copy: "lvs-alice", Error: "no copy recorded", ErrorFails: true, Checks: []report.Check{}},
		{Student: "bob", Copy: "lvs-bob", Host: "a:///", Error: "cannot connect", Checks: []report.Check{}},
	}}
	cell := regexp.MustCompile(`<t[hd]\b[^>]*>`)
	span := regexp.MustCompile(`colspan="(\d+)"`)
	width := func(row string) int {
		n := 0
		for _, c := range cell.FindAllString(row, -1) {
			if m := span.FindStringSubmatch(c); m != nil {
				k, _ := strconv.Atoi(m[1])
				n += k
			} else {
				n++
			}
		}
		return n
	}
	for name, r := range map[string]*Report{"sample": sampleReport(), "only errors": onlyErrors} {
		var b bytes.Buffer
		if err := WriteHTML(&b, r, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		head := page[strings.Index(page, "<thead>"):strings.Index(page, "</thead>")]
		cols := width(head)
		body := page[strings.Index(page, "<tbody>"):strings.Index(page, "</tbody>")]
		rows := strings.Split(body, "<tr")[1:]
		if len(rows) != len(r.Rows) || !strings.Contains(head, "<th>Result</th>") {
			t.Fatalf("%s: %d rows, header %s", name, len(rows), head)
		}
		for i, row := range rows {
			if w := width(row); w != cols {
				t.Errorf("%s: %s's row has %d cells under %d headers:\n%s", name, r.Rows[i].Student, w, cols, row)
			}
		}
		if strings.Contains(page, `"></td>`) {
			t.Errorf("%s: an empty cell (host?):\n%s", name, page)
		}
		if !strings.Contains(page, ">never made</td>") {
			t.Errorf("%s: the copy never made has no word for its host", name)
		}
	}
}
