package sandbox

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// child starts a process of the test's own (a sleep) and reaps it when it
// ends, as init reaps the sandbox's daemons: a zombie would still show its
// /proc/PID/stat.
func child(t *testing.T) (p Proc, done <-chan struct{}) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() { cmd.Wait(); close(ended) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-ended })
	p, err := procOf("sleep", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return p, ended
}

// ended tells whether done is closed within d.
func ended(done <-chan struct{}, d time.Duration) bool {
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// hermetic points the namespace folder at an empty one and clears the
// sandbox variable, so that no test touches a real namespace.
func hermetic(t *testing.T) string {
	t.Helper()
	t.Setenv(EnvName, "")
	saved := netnsDir
	netnsDir = t.TempDir()
	t.Cleanup(func() { netnsDir = saved })
	return t.TempDir()
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	if st, err := Load(dir); st != nil || err != nil {
		t.Fatalf("Load of an empty folder = %v, %v; want nothing", st, err)
	}
	want := &State{Name: "lvslab-sb", NetNS: "net:[4026532311]", BootID: "b-1", MaskKVM: true,
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Daemons: []Proc{{"virtlogd", 10, 100}, {"libvirtd", 12, 120}}}
	if err := want.save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil || got == nil || got.Name != want.Name || got.NetNS != want.NetNS || got.BootID != want.BootID ||
		!got.MaskKVM || !got.Started.Equal(want.Started) || !slices.Equal(got.Daemons, want.Daemons) {
		t.Errorf("Load = %+v, %v; want %+v", got, err, want)
	}
	if fi, err := os.Stat(statePath(dir)); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("the record's mode: %v, %v", fi, err)
	}
	os.WriteFile(statePath(dir), []byte("{not json"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), statePath(dir)) {
		t.Errorf("a damaged record: %v", err)
	}
	if err := removeState(dir); err != nil {
		t.Fatal(err)
	}
	if err := removeState(dir); err != nil {
		t.Errorf("removing a record already gone: %v", err)
	}
}

func TestProcStartParsesStat(t *testing.T) {
	saved := procDir
	procDir = t.TempDir()
	defer func() { procDir = saved }()
	os.MkdirAll(filepath.Join(procDir, "42"), 0o755)
	// A command name with a space and a parenthesis; start time is field 22.
	fields := []string{"42", "(we) ird)", "S"}
	for i := 4; i <= 52; i++ {
		fields = append(fields, strconv.Itoa(i*1000))
	}
	os.WriteFile(filepath.Join(procDir, "42", "stat"), []byte(strings.Join(fields, " ")+"\n"), 0o644)
	if got, err := procStart(42); err != nil || got != 22000 {
		t.Errorf("procStart = %d, %v; want 22000", got, err)
	}
	if _, err := procStart(43); err == nil {
		t.Error("a pid without /proc entry has a start time")
	}
	if _, err := procStart(0); err == nil {
		t.Error("pid 0 has a start time")
	}
}

// A recorded process is the sandbox's only while its pid still has the
// recorded start time, in the same boot.
func TestAliveOnlyTheProcessItStarted(t *testing.T) {
	p, done := child(t)
	st := &State{Name: "x", BootID: bootID(), Daemons: []Proc{p}}
	if !st.Alive(p) || !st.Running() {
		t.Fatal("a running recorded process is not alive")
	}
	reused := p
	reused.Start++ // the same pid, another process
	if st.Alive(reused) {
		t.Error("a pid given to another process counts as the sandbox's")
	}
	if other := (&State{BootID: "another boot", Daemons: []Proc{p}}); other.Alive(p) || other.Running() {
		t.Error("a process recorded in another boot counts as alive")
	}
	syscall.Kill(p.PID, syscall.SIGKILL)
	if !ended(done, 5*time.Second) {
		t.Fatal("the child did not end")
	}
	if st.Alive(p) || st.Running() {
		t.Error("a dead process is alive")
	}
}

// clear stops the recorded daemons that are still the sandbox's, by pid,
// and no other process, even one that has a recorded pid now.
func TestClearStopsOnlyProcessesItStarted(t *testing.T) {
	dir := hermetic(t)
	mine, mineDone := child(t)
	other, otherDone := child(t)
	stranger := other
	stranger.Start-- // its pid was the sandbox's daemon once; the process is another
	st := &State{Name: "lvslab-sb-t", BootID: bootID(), Daemons: []Proc{mine, stranger}}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := st.clear(dir, &log); err != nil {
		t.Fatal(err)
	}
	if !ended(mineDone, 5*time.Second) {
		t.Error("the sandbox's own daemon was not stopped")
	}
	if ended(otherDone, 200*time.Millisecond) {
		t.Error("a process the sandbox did not start was stopped")
	}
	if got, _ := Load(dir); got != nil {
		t.Errorf("the record is left: %+v", got)
	}
}

// A second start is refused while the recorded sandbox runs: nothing is
// made, the running one and its record stay.
func TestStartRefusesASecondSandbox(t *testing.T) {
	dir := hermetic(t)
	daemon, done := child(t)
	running := &State{Name: "lvslab-sb", BootID: bootID(), Started: time.Now(), Daemons: []Proc{daemon}}
	if err := running.save(dir); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	_, err := Start(t.Context(), Options{Self: []string{"/nonexistent/lvslab", InnerCommand}, Log: &log}, dir)
	if err == nil || !strings.Contains(err.Error(), "sandbox lvslab-sb runs already") || !strings.Contains(err.Error(), "lvslab sandbox stop") {
		t.Fatalf("second start: %v", err)
	}
	if ended(done, 100*time.Millisecond) {
		t.Error("the running sandbox's daemon was stopped")
	}
	if got, _ := Load(dir); got == nil || got.Name != "lvslab-sb" {
		t.Errorf("the running sandbox's record is gone: %+v", got)
	}
	if _, err := Start(t.Context(), Options{Hypervisors: 2}, dir); err == nil || !strings.Contains(err.Error(), "--hypervisors N -- COMMAND") {
		t.Errorf("start with hypervisors: %v", err)
	}
	t.Setenv(EnvName, "lvslab-sb")
	if _, err := Start(t.Context(), Options{}, dir); err == nil || !strings.Contains(err.Error(), "inside sandbox lvslab-sb") {
		t.Errorf("start inside a sandbox: %v", err)
	}
}

// A record whose daemons are all gone (a reboot, a killed libvirtd) is
// cleared before a new start, and a namespace of its name that is no
// longer its own is left alone.
func TestStaleRecordCleared(t *testing.T) {
	dir := hermetic(t)
	gone, done := child(t)
	syscall.Kill(gone.PID, syscall.SIGKILL)
	<-done
	// A namespace of that name, but another one (another inode).
	os.WriteFile(filepath.Join(netnsDir, "lvslab-sb"), nil, 0o644)
	stale := &State{Name: "lvslab-sb", NetNS: "net:[1]", BootID: bootID(), Daemons: []Proc{gone}}
	if err := stale.save(dir); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := clearStale(dir, &log); err != nil {
		t.Fatal(err)
	}
	if got, _ := Load(dir); got != nil {
		t.Errorf("the stale record is left: %+v", got)
	}
	for _, want := range []string{"lvslab-sb (started", "no longer running", "is not the sandbox's any more", "left alone"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, log.String())
		}
	}
	if _, err := os.Stat(filepath.Join(netnsDir, "lvslab-sb")); err != nil {
		t.Errorf("a namespace that is not the sandbox's was removed: %v", err)
	}
	if err := clearStale(dir, &log); err != nil {
		t.Errorf("nothing recorded: %v", err)
	}
}

func TestStop(t *testing.T) {
	dir := hermetic(t)
	if st, err := Stop(t.Context(), dir, StopOptions{}); st != nil || err != nil {
		t.Errorf("stop with nothing recorded = %v, %v", st, err)
	}
	daemon, done := child(t)
	st := &State{Name: "lvslab-sb", BootID: bootID(), Daemons: []Proc{daemon}}
	st.save(dir)
	t.Setenv(EnvName, "lvslab-sb")
	if _, err := Stop(t.Context(), dir, StopOptions{}); err == nil || !strings.Contains(err.Error(), "from outside") {
		t.Errorf("stop from inside: %v", err)
	}
	t.Setenv(EnvName, "")
	got, err := Stop(t.Context(), dir, StopOptions{Log: &bytes.Buffer{}})
	if err != nil || got == nil || got.Name != "lvslab-sb" {
		t.Fatalf("stop = %+v, %v", got, err)
	}
	if !ended(done, 5*time.Second) {
		t.Error("the daemon was not stopped")
	}
	if rec, _ := Load(dir); rec != nil {
		t.Error("the record is left")
	}
}

func TestEnterArgv(t *testing.T) {
	daemon, done := child(t)
	st := &State{Name: "lvslab-sb", BootID: bootID(), Daemons: []Proc{{"virtlogd", 1 << 30, 1}, daemon}}
	got, err := st.EnterArgv([]string{"/usr/bin/lvslab", "up"}, "/home/me/labs")
	want := []string{"nsenter", "--target", strconv.Itoa(daemon.PID), "--net", "--mount", "--",
		"env", "--chdir=/home/me/labs", EnvName + "=lvslab-sb", "/usr/bin/lvslab", "up"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("EnterArgv = %q, %v\nwant %q", got, err, want)
	}
	syscall.Kill(daemon.PID, syscall.SIGKILL)
	<-done
	if _, err := st.EnterArgv([]string{"true"}, ""); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("EnterArgv of a dead sandbox: %v", err)
	}
	if err := Exec(st, nil); err == nil {
		t.Error("Exec of nothing")
	}
}

func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockDir(dir); err == nil || !strings.Contains(err.Error(), "another") {
		t.Errorf("a second lock: %v", err)
	}
	unlock()
	again, err := lockDir(dir)
	if err != nil {
		t.Errorf("lock after release: %v", err)
	}
	again()
}

func TestDescribe(t *testing.T) {
	daemon, _ := child(t)
	daemon.Name = "libvirtd"
	st := &State{Name: "lvslab-sb", BootID: bootID(), MaskKVM: true, Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local),
		Daemons: []Proc{{"virtlogd", 1 << 30, 1}, daemon}}
	var out bytes.Buffer
	st.Describe(&out)
	want := "sandbox lvslab-sb: started 2026-01-02 03:04:05, network namespace lvslab-sb, guests under QEMU TCG (/dev/kvm hidden)\n" +
		"  virtlogd  pid 1073741824 gone\n" +
		"  libvirtd  pid " + strconv.Itoa(daemon.PID) + strings.Repeat(" ", 9-len(strconv.Itoa(daemon.PID))) + "running\n"
	if out.String() != want {
		t.Errorf("Describe:\n%s\nwant:\n%s", out.String(), want)
	}
	if gone := st.Gone(); len(gone) != 1 || gone[0].Name != "virtlogd" {
		t.Errorf("Gone = %v", gone)
	}
}
