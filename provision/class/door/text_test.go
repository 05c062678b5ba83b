package door

import (
	"strings"
	"testing"
)

func TestLineReaderOnATerminal(t *testing.T) {
	in := make(chan []byte, 8)
	var echo strings.Builder
	r := &lineReader{in: in, pty: true, echo: func(s string) { echo.WriteString(s) }}
	in <- []byte("wex\x7fb\x1b[D\x1bOA1\r")       // typo, Backspace, arrow keys
	in <- []byte("junk\x15web2\r")                // Ctrl-U
	in <- []byte("x\x03")                         // Ctrl-C
	in <- []byte(strings.Repeat("a", 100) + "\n") // bounded
	in <- []byte("\x07\x00\xffq\rmore")           // controls and bytes >= 0x7f dropped
	close(in)
	for _, want := range []string{"web1", "web2", "", strings.Repeat("a", maxLine), "q"} {
		got, ok := r.readLine()
		if !ok || got != want {
			t.Fatalf("readLine = %q, %v; want %q", got, ok, want)
		}
	}
	if p := string(r.takePending()); p != "more" {
		t.Errorf("typed ahead %q, want more", p)
	}
	if _, ok := r.readLine(); ok {
		t.Error("a line after the input ended")
	}
	if strings.ContainsAny(echo.String(), "\x1b\x07\x00") {
		t.Errorf("the echo holds control characters: %q", echo.String())
	}
	if !strings.Contains(echo.String(), "wex\b \bb1\r\n") {
		t.Errorf("echo %q", echo.String())
	}
}

func TestLineReaderWithoutTerminal(t *testing.T) {
	in := make(chan []byte, 2)
	var echo strings.Builder
	r := &lineReader{in: in, echo: func(s string) { echo.WriteString(s) }}
	in <- []byte("web1\r\n\x04")
	close(in)
	if got, ok := r.readLine(); !ok || got != "web1" {
		t.Fatalf("readLine = %q, %v", got, ok)
	}
	if _, ok := r.readLine(); ok {
		t.Error("Ctrl-D on an empty line is not the end")
	}
	if echo.Len() != 0 {
		t.Errorf("echo without a terminal: %q", echo.String())
	}
}

func TestPickNode(t *testing.T) {
	nodes := []string{"client", "lvs1", "Web1", "x\x1b[31my"}
	for answer, want := range map[string]string{
		"1": "client", "4": "x\x1b[31my", "lvs1": "lvs1", "web1": "Web1", "x[31my": "x\x1b[31my",
		"0": "", "5": "", "-1": "", "web": "", "": "",
	} {
		got, ok := pickNode(nodes, answer)
		if got != want || ok != (want != "") {
			t.Errorf("pickNode(%q) = %q, %v; want %q", answer, got, ok, want)
		}
	}
}
