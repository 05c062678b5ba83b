// Package report is the one home of what lvslab's commands report: a
// check's verdict (Check, Status), the exit codes as named values and the
// one rule that picks one (Code), and the writers every report shares
// (indented JSON, JUnit XML). verify, check, the drill and the class
// reports are built from these; the package imports none of them.
package report

import (
	"encoding/json"
	"io"
	"reflect"
)

// Status is a check's outcome.
type Status string

// Outcomes of a check.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Check is one verdict, shown as a line of text and a JUnit testcase.
type Check struct {
	Service string `json:"service,omitempty"`
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Detail  string `json:"detail"`
}

// Exit codes of every lvslab command.
const (
	ExitPass   = 0 // success: every check passed
	ExitFail   = 1 // the lab or a verdict is wrong
	ExitCannot = 2 // lvslab could not run (or read what it was to judge)
	// ExitSandbox is "lvslab sandbox" failing to make the sandbox itself,
	// as env(1) and chroot(1) do: the command's own codes stay its own.
	ExitSandbox = 125
)

// Code is the one rule every report's exit code follows: ExitFail when
// something is wrong, else ExitCannot when something could not be run or
// read, else ExitPass.
func Code(failed, cannot bool) int {
	switch {
	case failed:
		return ExitFail
	case cannot:
		return ExitCannot
	}
	return ExitPass
}

// Output formats of the commands that report.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// WriteJSON writes v indented, the form every -o json takes; an empty
// list or map anywhere in it is [] or {}, never null (see NoNulls).
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(NoNulls(v))
}

// NoNulls is v with every nil slice and map it holds, through exported
// fields, pointers and elements, made empty: JSON's [] and {} for "none",
// which a reader can iterate. What v points to is changed in place; v
// itself, when it is no pointer, is copied first.
func NoNulls(v any) any {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return v
	}
	if rv.Kind() != reflect.Pointer {
		p := reflect.New(rv.Type())
		p.Elem().Set(rv)
		fill(p.Elem(), 0)
		return p.Elem().Interface()
	}
	fill(rv, 0)
	return v
}

// fill makes v's nil slices and maps empty, depth levels down.
func fill(v reflect.Value, depth int) {
	if depth > 32 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			fill(v.Elem(), depth+1)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			if t.Field(i).IsExported() && t.Field(i).Tag.Get("json") != "-" {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		if v.IsNil() && v.CanSet() && v.Type().Elem().Kind() != reflect.Uint8 {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		for i := range v.Len() {
			fill(v.Index(i), depth+1)
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), depth+1)
		}
	case reflect.Map:
		if v.IsNil() && v.CanSet() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		// A map's values cannot be set in place; pointers among them can.
		for it := v.MapRange(); it.Next(); {
			if it.Value().Kind() == reflect.Pointer {
				fill(it.Value(), depth+1)
			}
		}
	}
}

// Verdict is the last line's word for an exit code: PASS, FAIL, or
// INCOMPLETE when something could not be run or read.
func Verdict(code int) string {
	return map[int]string{ExitPass: "PASS", ExitFail: "FAIL", ExitCannot: "INCOMPLETE"}[code]
}
