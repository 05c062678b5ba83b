package class

import (
	"html/template"
	"io"
	"os"
	"time"

	"github.com/lvslab/lvslab/provision/report"
)

// Cell colours of the HTML page: green for a pass, red for a fail, grey for
// skipped or absent (a copy that could not be read has a red row).
const (
	ColourPass = "#1e8e3e"
	ColourFail = "#d93025"
	ColourSkip = "#9aa0a6"
)

// htmlPage is a static page with nothing to fetch: a teacher opens the file
// or mails it. Each cell says PASS or FAIL; a failed cell shows its message,
// every cell has it as its tooltip.
var htmlPage = template.Must(template.New("class").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>lvslab class {{.R.Class}}: {{.R.Command}}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #202124; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #dadce0; padding: 4px 6px; vertical-align: top; }
th { background: #f1f3f4; text-align: left; }
thead th.check { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; max-height: 22em; }
td.pass, td.fail, td.skip, td.error { color: #fff; font-weight: bold; }
td.pass { background-color: {{.Pass}}; }
td.fail { background-color: {{.Fail}}; }
td.skip, td.none, td.error { background-color: {{.Skip}}; }
td .msg { display: block; font-weight: normal; font-size: 11px; max-width: 24em; }
tr.error th { color: {{.Fail}}; }
p.verdict { font-weight: bold; }
</style>
</head>
<body>
<h1>Class {{.R.Class}}: lvslab class {{.R.Command}}</h1>
<p class="verdict" id="verdict">{{.Passed}} of {{len .R.Rows}} students passed{{if .Failed}} (not: {{.Failed}}){{end}}.</p>
<table id="report">
<thead><tr><th>Student</th><th>Host</th><th>Result</th>{{range .Cols}}<th class="check" title="{{.}}">{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr class="student{{if .Row.Error}} error{{end}}" data-student="{{.Row.Student}}">
<th>{{.Row.Student}}<br><small>{{.Row.Copy}}</small></th><td title="{{.Row.Host}}">{{.Host}}</td><td class="{{.Result}}" title="{{.Row.Error}}">{{.Word}}</td>
{{if .Row.Error}}{{if $.Cols}}<td class="{{.Result}}" colspan="{{$.NCols}}" data-check="{{$.R.Command}}" title="{{.Row.Error}}">{{.Word}}<span class="msg">{{.Row.Error}}</span></td>{{end}}
{{else}}{{range .Cells}}{{if .Found}}<td class="{{.C.Status}}" data-check="{{.C.Name}}" title="{{.C.Name}}: {{.C.Detail}}">{{if eq .C.Status "pass"}}PASS{{else if eq .C.Status "fail"}}FAIL<span class="msg">{{.C.Detail}}</span>{{else}}skip{{end}}</td>{{else}}<td class="none" data-check="{{.Name}}" title="{{.Name}}: not checked">-</td>{{end}}
{{end}}{{end}}</tr>
{{end}}</tbody>
</table>
<p><small>Made by lvslab at {{.When}}.</small></p>
</body>
</html>
`))

type htmlCell struct {
	Name  string
	C     report.Check
	Found bool
}

type htmlRow struct {
	Row          Row
	Host         string
	Result, Word string // the row's verdict, and as shown
	Cells        []htmlCell
}

// WriteHTML writes the report as a self-contained HTML page.
func WriteHTML(w io.Writer, r *Report, now time.Time) error {
	cols := r.Columns()
	data := struct {
		R                *Report
		Pass, Fail, Skip template.CSS
		Cols             []string
		NCols            int // the check columns an error spans
		Rows             []htmlRow
		Passed           int
		Failed           string
		When             string
	}{R: r, Pass: ColourPass, Fail: ColourFail, Skip: ColourSkip, Cols: cols, NCols: len(cols), When: now.Format(time.RFC1123)}
	var failed []string
	for _, row := range r.Rows {
		hr := htmlRow{Row: row, Host: hostLabel(row.Host), Result: row.Result(), Word: resultWord(row.Result())}
		if row.Host == "" {
			hr.Host = "never made"
		}
		for _, name := range cols {
			c, ok := row.Cell(name)
			hr.Cells = append(hr.Cells, htmlCell{Name: name, C: c, Found: ok})
		}
		data.Rows = append(data.Rows, hr)
		if row.Pass() {
			data.Passed++
		} else {
			failed = append(failed, row.Student)
		}
	}
	data.Failed = summarize(failed)
	return htmlPage.Execute(w, data)
}

// WriteHTMLFile writes the page to a file.
func WriteHTMLFile(path string, r *Report, now time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteHTML(f, r, now); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
