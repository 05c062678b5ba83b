package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// Cheap hashes: the tests log in hundreds of times.
	hashParams = argonParams{Time: 1, Memory: 64, Threads: 1, KeyLen: 32}
	m.Run()
}

// fake is a class of students whose copies are in memory: shells echo what
// they are sent (and answer "hostname" with the node's name), checks say
// what the test scripts.
type fake struct {
	mu       sync.Mutex
	students []string
	nodes    map[string][]Node
	nodesErr map[string]error
	// block makes every call about that student wait for its context;
	// delay makes it take that long.
	block    map[string]bool
	delay    map[string]time.Duration
	checks   map[string]CheckResult
	handouts map[string]string
	calls    []string // "Nodes alice", "Shell alice web1", "Reset alice stage" ...
	inflight map[string]int
	peak     map[string]int
	resized  []string
	opDone   chan string
}

func newFake(students ...string) *fake {
	f := &fake{students: students, nodes: map[string][]Node{}, nodesErr: map[string]error{}, block: map[string]bool{}, delay: map[string]time.Duration{},
		checks: map[string]CheckResult{}, handouts: map[string]string{}, inflight: map[string]int{}, peak: map[string]int{},
		opDone: make(chan string, 100)}
	for i, s := range students {
		f.nodes[s] = []Node{
			{Name: "client", State: "running", Addresses: []string{fmt.Sprintf("10.%d.0.10", i)}},
			{Name: "lvs1", State: "running", Addresses: []string{fmt.Sprintf("10.%d.0.5", i)}},
			{Name: "web1", State: "running", Addresses: []string{fmt.Sprintf("10.%d.0.100", i)}},
			{Name: "web2", State: "running", Addresses: []string{fmt.Sprintf("10.%d.0.200", i)}},
		}
		f.handouts[s] = "<html><body><h1>Handout of " + s + "</h1></body></html>"
	}
	return f
}

func (f *fake) enter(ctx context.Context, what, student string) error {
	f.mu.Lock()
	f.calls = append(f.calls, what+" "+student)
	f.inflight[student]++
	f.peak[student] = max(f.peak[student], f.inflight[student])
	block, delay := f.block[student], f.delay[student]
	f.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-ctx.Done():
	}
	if block {
		<-ctx.Done()
		f.leave(student)
		return ctx.Err()
	}
	return nil
}

func (f *fake) leave(student string) {
	f.mu.Lock()
	f.inflight[student]--
	f.mu.Unlock()
}

func (f *fake) called(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if len(c) >= len(prefix) && c[:len(prefix)] == prefix {
			out = append(out, c)
		}
	}
	return out
}

func (f *fake) Students() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.students...)
}

func (f *fake) Nodes(ctx context.Context, student string) ([]Node, error) {
	if err := f.enter(ctx, "Nodes", student); err != nil {
		return nil, err
	}
	defer f.leave(student)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.nodesErr[student]; err != nil {
		return nil, err
	}
	return append([]Node(nil), f.nodes[student]...), nil
}

func (f *fake) Shell(ctx context.Context, student, node string, t Terminal) (Shell, error) {
	if err := f.enter(ctx, "Shell", student+" "+node); err != nil {
		return nil, err
	}
	defer f.leave(student + " " + node)
	return newEcho(node, func(c, r int) {
		f.mu.Lock()
		f.resized = append(f.resized, fmt.Sprintf("%s %s %dx%d", student, node, c, r))
		f.mu.Unlock()
	}), nil
}

func (f *fake) Console(ctx context.Context, student, node string) (io.ReadWriteCloser, error) {
	if err := f.enter(ctx, "Console", student+" "+node); err != nil {
		return nil, err
	}
	defer f.leave(student + " " + node)
	return newEcho(node, nil), nil
}

func (f *fake) Check(ctx context.Context, student string) (CheckResult, error) {
	if err := f.enter(ctx, "Check", student); err != nil {
		return CheckResult{}, err
	}
	defer f.leave(student)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checks[student], nil
}

func (f *fake) Reset(ctx context.Context, student, stage string) error {
	if err := f.enter(ctx, "Reset", student+" "+stage); err != nil {
		return err
	}
	f.leave(student + " " + stage)
	f.opDone <- "Reset " + student + " " + stage
	return nil
}

func (f *fake) Handout(ctx context.Context, student string) (string, error) {
	if err := f.enter(ctx, "Handout", student); err != nil {
		return "", err
	}
	defer f.leave(student)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handouts[student], nil
}

func (f *fake) Up(ctx context.Context, student string) error {
	if err := f.enter(ctx, "Up", student); err != nil {
		return err
	}
	f.leave(student)
	f.opDone <- "Up " + student
	return nil
}

// echo is a shell that behaves like a terminal in cooked mode: it echoes
// each byte, ends a line on CR, answers "hostname" with the node's name and
// prompts again.
type echo struct {
	node   string
	pr     *io.PipeReader
	pw     *io.PipeWriter
	line   bytes.Buffer
	resize func(c, r int)
	mu     sync.Mutex
}

func newEcho(node string, resize func(c, r int)) *echo {
	pr, pw := io.Pipe()
	e := &echo{node: node, pr: pr, pw: pw, resize: resize}
	go pw.Write([]byte("root@" + node + ":~# "))
	return e
}

func (e *echo) Read(p []byte) (int, error) { return e.pr.Read(p) }

func (e *echo) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out bytes.Buffer
	for _, b := range p {
		switch b {
		case '\r', '\n':
			out.WriteString("\r\n")
			if cmd := e.line.String(); cmd == "hostname" {
				out.WriteString(e.node + "\r\n")
			}
			e.line.Reset()
			out.WriteString("root@" + e.node + ":~# ")
		default:
			e.line.WriteByte(b)
			out.WriteByte(b)
		}
	}
	if _, err := e.pw.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (e *echo) Close() error {
	e.pr.Close()
	return e.pw.CloseWithError(errors.New("closed"))
}

func (e *echo) Resize(c, r int) error {
	if e.resize != nil {
		e.resize(c, r)
	}
	return nil
}
