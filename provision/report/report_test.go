package report

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"
)

func TestCodeIsOneRule(t *testing.T) {
	for _, c := range []struct {
		failed, cannot bool
		want           int
	}{{false, false, ExitPass}, {true, false, ExitFail}, {false, true, ExitCannot}, {true, true, ExitFail}} {
		if got := Code(c.failed, c.cannot); got != c.want {
			t.Errorf("Code(%v, %v) = %d, want %d", c.failed, c.cannot, got, c.want)
		}
	}
	if Verdict(ExitPass) != "PASS" || Verdict(ExitFail) != "FAIL" || Verdict(ExitCannot) != "INCOMPLETE" {
		t.Error("verdict words")
	}
}

func TestJUnitSuitesAndRunError(t *testing.T) {
	data, err := JUnit("lvslab check tedu", []Suite{{Lab: "tedu", Name: "web1", Seconds: 1.5, Checks: []Check{
		{Name: "a", Status: Pass, Detail: "fine"},
		{Name: "b", Status: Fail, Detail: "broken"},
		{Name: "c", Status: Skip, Detail: "not asked"},
	}}}, errors.New("cannot reach client"))
	if err != nil {
		t.Fatal(err)
	}
	var doc JUnitSuites
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, data)
	}
	if doc.Tests != 4 || doc.Failures != 1 || doc.Skipped != 1 || doc.Errors != 1 || len(doc.Suites) != 2 {
		t.Fatalf("totals: %+v", doc)
	}
	s := doc.Suites[0]
	if s.Name != "tedu/web1" || s.Time != "1.500" || s.Cases[0].ClassName != "lvslab.tedu.web1" || s.Cases[0].SystemOut != "fine" ||
		s.Cases[1].Failure == nil || s.Cases[1].Failure.Type != "verdict" || s.Cases[2].Skipped == nil {
		t.Errorf("suite: %+v", s)
	}
	if !strings.Contains(string(data), `<error message="cannot reach client" type="cannot-run">`) {
		t.Errorf("no error testcase:\n%s", data)
	}
}

// issue 25: an empty list is [] in every -o json, never null; the value
// given is not a pointer, or holds lists in pointers, elements and maps.
func TestWriteJSONHasNoNullLists(t *testing.T) {
	type inner struct {
		Names []string           `json:"names"`
		Count map[string]int     `json:"count"`
		Deep  *struct{ L []int } `json:"deep"`
	}
	type outer struct {
		Checks  []Check           `json:"checks"`
		Inner   inner             `json:"inner"`
		Ptrs    []*inner          `json:"ptrs"`
		ByName  map[string]*inner `json:"by_name"`
		Skipped []string          `json:"-"`
		private []string
	}
	v := outer{Inner: inner{Deep: &struct{ L []int }{}}, Ptrs: []*inner{{Deep: &struct{ L []int }{}}}, ByName: map[string]*inner{"a": {Deep: &struct{ L []int }{}}}}
	var b strings.Builder
	if err := WriteJSON(&b, v); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "null") {
		t.Errorf("null in:\n%s", b.String())
	}
	for _, want := range []string{`"checks": []`, `"names": []`, `"count": {}`, `"L": []`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %s in:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := WriteJSON(&b, []Check(nil)); err != nil || strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("a nil list: %q %v", b.String(), err)
	}
}
