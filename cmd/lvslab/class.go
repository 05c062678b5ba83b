package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"libvirt.org/go/libvirt"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/provision"
	"github.com/lvslab/lvslab/provision/check"
	"github.com/lvslab/lvslab/provision/class"
	"github.com/lvslab/lvslab/provision/prefixed"
	"github.com/lvslab/lvslab/provision/verify"
	"github.com/lvslab/lvslab/topology"
)

const classFileExample = `   name: lvs                # copies are lvs-<student>
   lab: tedu-nat            # an embedded lab, or a lab file (relative to this file)
   students: [alice, bob]   # or "count: 30" for s01..s30
   hosts:
     - uri: qemu+ssh://root@hv1/system
       max_copies: 12       # optional
       memory: 49152        # optional: MiB the class may take there
     - uri: qemu+ssh://root@hv2/system
   batch: 4                 # optional: copies brought up at a time (--parallel)
   vm_overhead: 256         # optional: MiB per VM beyond its guest memory`

func classCommand() *cli.Command {
	return &cli.Command{
		Name:      "class",
		Usage:     "a copy of a lab for every student of a class, over several libvirt hosts, and one report",
		ArgsUsage: "CLASSFILE",
		Description: `A class file names the lab, the students and the libvirt hosts:

` + classFileExample + `

"class up" places one copy per student (lab name <class>-<student>, every
address of the lab file, as "up --as"): each new copy goes to the host with
the most memory left, by the free memory the host's libvirt reports less
what each copy needs (its nodes' memory plus vm_overhead per VM), never
over a host's max_copies or memory; when the class does not fit, it says
which host lacks what before anything is created. Where each copy lives is
recorded in $LVSLAB_HOME/classes/<class>.json and in the copies' libvirt
tags (written as each VM is defined, so even a failed or interrupted up
leaves VMs the class finds); a second "class up" keeps every copy where it
is, and refuses VMs whose tags name another class or student. Copies come up a
batch at a time; a failed copy does not stop the others, and the summary
says which failed and why.

"class status", "check" and "verify" run status, check and verify on every
copy and print one table, student by check (-o json, --junit FILE, --html
FILE: a page a teacher opens in a browser, a row per student, each check a
green or red cell with its message). "class down" removes every copy of the
class on every host (found by the record and by the hosts' tags). "class
ssh-config" prints one ssh_config for every copy ("ssh lvs-alice-web1").

Exit codes: 0 every copy passed, 1 one failed, 2 a copy could not be read
(and none failed), or the class file is wrong.`,
		Subcommands: []*cli.Command{
			classSub("up", "place and bring up a copy per student, a batch at a time", classUp,
				&cli.StringFlag{Name: "accel", Value: provision.AccelAuto, Usage: "`MODE` of the VMs: kvm, tcg or auto"},
				&cli.DurationFlag{Name: "timeout", Usage: "how long to wait for SSH on each copy's nodes", DefaultText: "5m under TCG, 2m under KVM"},
				&cli.BoolFlag{Name: "bare", Usage: "copies as a classroom hands them out (see \"lvslab up --bare\")"},
				&cli.BoolFlag{Name: "vms-only", Usage: "bring the VMs up and stop at SSH"},
				&cli.StringFlag{Name: "mgmt-pool", Usage: "`CIDR` the copies' management /24s are taken from", DefaultText: provision.DefaultMgmtPool}),
			classSub("status", "each copy's VMs: running and answering SSH", classStatus),
			classSub("check", "check every copy: its nodes' facts, then verify's proof", classCheck, readFlags()...),
			classSub("verify", "verify every copy from its client", classVerify, readFlags()...),
			classSub("down", "remove every copy of the class on every host", classDown),
			classSSHConfigCommand(),
		},
	}
}

// classSub is a class subcommand: its own flags, then the ones every class
// command shares.
func classSub(name, usage string, action func(*classRun) (*class.Report, error), flags ...cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "CLASSFILE",
		Flags: append(append(flags,
			&cli.StringSliceFlag{Name: "student", Usage: "only this `STUDENT`'s copy (repeatable)"},
			&cli.IntFlag{Name: "parallel", Aliases: []string{"p"}, Usage: "copies worked on at a time (default: the class file's batch, else 4)"},
			&cli.StringFlag{Name: "junit", Usage: "also write a JUnit XML `FILE`: a testsuite per student"},
			&cli.StringFlag{Name: "html", Usage: "also write a static HTML `FILE`: a row per student, a green or red cell per check"},
		), outputFlags(outputText, outputJSON)...),
		Action: func(c *cli.Context) error {
			r, done, err := openClass(c, name)
			if err != nil {
				return err
			}
			defer done()
			rep, err := action(r)
			if err != nil {
				return err
			}
			return r.finish(rep)
		},
	}
}

// readFlags are verify's options that check and verify take for each copy.
func readFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range verifyFlags() {
		if n := f.Names()[0]; n == "requests" || n == "prober" || n == "timeout" {
			out = append(out, f)
		}
	}
	return out
}

// classRun is one class command: the class, its record, a libvirt
// connection per host and the copies it works on.
type classRun struct {
	c      *cli.Context
	ctx    context.Context
	cls    *class.Class
	rec    *class.Record
	home   string
	format string
	// students are the ones the command works on (--student, else all).
	students []string
	conns    map[string]*libvirt.Connect
	connErrs map[string]error
	out      io.Writer
	outMu    sync.Mutex // the copies' progress lines, one at a time
}

func openClass(c *cli.Context, command string) (*classRun, func(), error) {
	format := outputText
	if lookupFlag(c.Command.Flags, "output") != nil {
		var err error
		if format, err = output(c, outputText, outputJSON); err != nil {
			return nil, nil, err
		}
	}
	if c.NArg() != 1 {
		return nil, nil, cannot("lvslab class " + command + ": give one CLASSFILE")
	}
	cls, err := class.LoadFile(c.Args().First())
	if err != nil {
		return nil, nil, cannot(err)
	}
	home := provision.Home()
	rec, err := class.ReadRecord(home, cls.Name)
	if err != nil {
		return nil, nil, cannot(err)
	}
	r := &classRun{c: c, cls: cls, rec: rec, home: home, format: format, out: progress(c, c.App.ErrWriter)}
	if format == outputText {
		r.out = progress(c, c.App.Writer)
	}
	r.students = cls.Students
	if only := c.StringSlice("student"); len(only) > 0 {
		for _, s := range only {
			if !slices.Contains(cls.Students, s) {
				return nil, nil, cannot(fmt.Sprintf("--student %s: not a student of class %s (%s)", s, cls.Name, strings.Join(cls.Students, ", ")))
			}
		}
		r.students = only
	}
	ctx, stop := commandContext(c)
	r.ctx = ctx
	r.connect()
	done := func() {
		for _, conn := range r.conns {
			conn.Close()
		}
		stop()
	}
	if err := r.discover(); err != nil {
		done()
		return nil, nil, err
	}
	return r, done, nil
}

// discover adds to the record the copies the hosts' tags mark as the
// class's but the record lacks (its file was lost): every command finds
// them, and down removes them too.
func (r *classRun) discover() error {
	placed := r.rec.Placement()
	for _, h := range r.cls.Hosts {
		conn := r.conns[h.URI]
		if conn == nil {
			continue
		}
		copies, err := provision.ClassCopies(conn, r.cls.Name)
		if err != nil {
			return cannot(fmt.Errorf("host %s: %w", h.URI, err))
		}
		for lab, s := range copies {
			if _, ok := placed[s]; !ok && lab == r.cls.Copy(s) {
				r.rec.Set(s, h.URI, lab)
				placed[s] = h.URI
			}
		}
	}
	return nil
}

// connect opens every host's connection at once; a host that does not
// answer fails its copies only.
func (r *classRun) connect() {
	r.conns, r.connErrs = map[string]*libvirt.Connect{}, map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range r.cls.Hosts {
		wg.Go(func() {
			conn, err := provision.Connect(h.URI)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.connErrs[h.URI] = err
				return
			}
			r.conns[h.URI] = conn
		})
	}
	wg.Wait()
}

// finish writes the report (text or JSON, --junit, --html) and returns the
// exit code.
func (r *classRun) finish(rep *class.Report) error {
	title := fmt.Sprintf("lvslab class %s %s", rep.Command, r.cls.Name)
	if path := r.c.String("junit"); path != "" {
		if err := class.WriteJUnit(path, rep, title); err != nil {
			return cannot("writing " + path + ": " + err.Error())
		}
	}
	if path := r.c.String("html"); path != "" {
		if err := class.WriteHTMLFile(path, rep, time.Now()); err != nil {
			return cannot("writing " + path + ": " + err.Error())
		}
	}
	write := class.WriteText
	if r.format == outputJSON {
		write = func(w io.Writer, rep *class.Report) error { return writeJSON(w, rep) }
	}
	if err := write(r.c.App.Writer, rep); err != nil {
		return cannot(err)
	}
	if code := rep.ExitCode(); code != 0 {
		return exit("", code)
	}
	return nil
}

// copyLab is student's copy of the class's lab: the lab file under the
// copy's name (loaded anew: every copy its own).
func (r *classRun) copyLab(student string) (*topology.Lab, error) {
	lab, err := labs.Load(r.cls.LabRef)
	if err != nil {
		return nil, err
	}
	lab.Name = r.cls.Copy(student)
	return lab, nil
}

// conn is host's connection, or why there is none.
func (r *classRun) conn(host string) (*libvirt.Connect, error) {
	if err := r.connErrs[host]; err != nil {
		return nil, err
	}
	if conn := r.conns[host]; conn != nil {
		return conn, nil
	}
	return nil, fmt.Errorf("host %s is not in class file %s", host, r.cls.File)
}

// limit is how many copies are worked on at a time: --parallel, else the
// class file's batch. Reading a copy costs its host's CPU as booting does.
func (r *classRun) limit() int {
	if p := r.c.Int("parallel"); p > 0 {
		return p
	}
	return r.cls.Batch
}

// eachCopy runs f on every selected student's recorded copy, a batch at a
// time, with a line of progress as each starts and ends; a student with no
// copy recorded is an error row.
func (r *classRun) eachCopy(command string, f func(ctx context.Context, conn *libvirt.Connect, lab *topology.Lab, out io.Writer) ([]verify.Check, error)) *class.Report {
	placed := r.rec.Placement()
	rows := class.Each(r.ctx, len(r.students), r.limit(), func(ctx context.Context, i int) class.Row {
		s := r.students[i]
		row := class.Row{Student: s, Copy: r.cls.Copy(s), Host: placed[s], Checks: []verify.Check{}}
		if row.Host == "" {
			row.Error = fmt.Sprintf("no copy recorded (\"lvslab class up %s\" makes it)", r.cls.File)
			return row
		}
		if err := ctx.Err(); err != nil {
			row.Error = "not started: " + err.Error()
			return row
		}
		out := prefixed.New(r.out, &r.outMu, fmt.Sprintf("[%s] ", s))
		defer out.Flush()
		start := time.Now()
		fmt.Fprintf(out, "%s %s on %s\n", command, row.Copy, row.Host)
		checks, err := func() ([]verify.Check, error) {
			conn, err := r.conn(row.Host)
			if err != nil {
				return nil, err
			}
			lab, err := r.copyLab(s)
			if err != nil {
				return nil, err
			}
			return f(ctx, conn, lab, out)
		}()
		row.Checks = append(row.Checks, checks...)
		if err != nil {
			row.Error = err.Error()
		}
		verdict := "done"
		if !row.Pass() {
			verdict = "FAILED: " + firstLine(row.Why())
		}
		fmt.Fprintf(out, "%s %s in %s\n", command, verdict, time.Since(start).Round(100*time.Millisecond))
		return row
	})
	return &class.Report{Class: r.cls.Name, Command: command, Rows: rows}
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// classUp places the class's new copies, records where, then brings every
// copy up a batch at a time.
func classUp(r *classRun) (*class.Report, error) {
	kept := r.rec.Placement()
	var figures []class.HostFigures
	for _, h := range r.cls.Hosts {
		f := class.HostFigures{URI: h.URI}
		conn, err := r.conn(h.URI)
		if err == nil {
			f.FreeMiB, err = provision.FreeMemory(conn)
		}
		if err != nil {
			f.Err = firstLine(err.Error())
		}
		figures = append(figures, f)
	}
	placed, err := class.Place(r.cls, figures, kept)
	if err != nil {
		return nil, failed(err)
	}
	for _, s := range r.cls.Students {
		r.rec.Set(s, placed[s], r.cls.Copy(s))
	}
	r.rec.File, r.rec.Lab = r.cls.File, r.cls.LabRef
	// Recorded before anything is made: a crash halfway still leaves every
	// class command its copies.
	if err := r.rec.Write(r.home); err != nil {
		return nil, cannot(fmt.Errorf("class record: %w", err))
	}
	for _, f := range figures {
		var on []string
		for _, s := range r.students {
			if placed[s] == f.URI {
				on = append(on, s)
			}
		}
		fmt.Fprintf(r.out, "host %s (%d MiB free): %s\n", f.URI, f.FreeMiB, dash(strings.Join(on, " ")))
	}
	fmt.Fprintf(r.out, "class %s: %d copies of %s, %d MiB each, %d at a time\n", r.cls.Name, len(r.students), r.cls.LabRef, r.cls.CopyMemory(), r.limit())
	opts := provision.Options{
		Accel: r.c.String("accel"), Timeout: r.c.Duration("timeout"), VMsOnly: r.c.Bool("vms-only"),
		Bare: r.c.Bool("bare"), MgmtPool: r.c.String("mgmt-pool"),
	}
	return r.eachCopy("up", func(ctx context.Context, conn *libvirt.Connect, lab *topology.Lab, out io.Writer) ([]verify.Check, error) {
		o := opts
		o.Out = out
		// up writes the class and student into every domain's tag as it
		// defines it: whatever becomes of the run, the VMs it leaves are
		// the class's.
		o.Class, o.Student = r.cls.Name, strings.TrimPrefix(lab.Name, r.cls.Name+"-")
		res, err := provision.Up(ctx, conn, lab, o)
		if err != nil {
			return nil, provision.Explain(conn, err)
		}
		return []verify.Check{{Name: "up", Status: verify.Pass, Detail: fmt.Sprintf("every node answered SSH within %s, %s in all",
			res.SSHReady.Round(100*time.Millisecond), res.Elapsed.Round(100*time.Millisecond))}}, nil
	}), nil
}

// classSSHConfigCommand prints "lvslab ssh-config" of every copy in one
// file: a Host per node named COPY-NODE, each jumping through its host.
func classSSHConfigCommand() *cli.Command {
	return &cli.Command{
		Name:      "ssh-config",
		Usage:     "print one ssh_config for every copy's nodes (Host COPY-NODE, through its hypervisor)",
		ArgsUsage: "CLASSFILE",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "student", Usage: "only this `STUDENT`'s copy (repeatable)"},
		},
		Action: func(c *cli.Context) error {
			r, done, err := openClass(c, "ssh-config")
			if err != nil {
				return err
			}
			defer done()
			placed := r.rec.Placement()
			var b bytes.Buffer
			var missing []string
			for _, s := range r.students {
				if placed[s] == "" {
					missing = append(missing, s+": no copy recorded")
					continue
				}
				conn, err := r.conn(placed[s])
				if err != nil {
					missing = append(missing, s+": "+firstLine(err.Error()))
					continue
				}
				acc, err := provision.OpenAccess(conn, r.cls.Copy(s), provision.AccessOptions{})
				if err == nil {
					b.WriteString("\n")
					err = acc.WriteSSHConfig(&b, provision.SSHConfigOptions{})
					acc.Close()
				}
				if err != nil {
					missing = append(missing, s+": "+err.Error())
				}
			}
			fmt.Fprintf(c.App.Writer, "# lvslab class %s: \"Include\" this file in ~/.ssh/config, or use ssh -F FILE\n", r.cls.Name)
			c.App.Writer.Write(b.Bytes())
			if len(missing) > 0 {
				return failed("lvslab class ssh-config: no copy for " + strings.Join(missing, "; "))
			}
			return nil
		},
	}
}

// classStatus is status of every copy: a cell per node, green when its VM
// runs and lvslab logs in.
func classStatus(r *classRun) (*class.Report, error) {
	return r.eachCopy("status", func(ctx context.Context, conn *libvirt.Connect, lab *topology.Lab, _ io.Writer) ([]verify.Check, error) {
		st, err := provision.Status(ctx, conn, lab.Name, provision.StatusOptions{Lab: lab})
		if err != nil {
			return nil, err
		}
		var out []verify.Check
		for _, n := range st.Nodes {
			c := verify.Check{Name: n.Node, Status: verify.Pass, Detail: fmt.Sprintf("%s, SSH up (%s)", n.State, n.SSH)}
			if why := nodeDown(n); why != "" {
				c.Status, c.Detail = verify.Fail, why
				if n.SSHError != "" {
					c.Detail += ": " + n.SSHError
				}
			}
			out = append(out, c)
		}
		return out, nil
	}), nil
}

// onCopy opens a copy's Access for f, the way check and verify reach one
// lab.
func onCopy(f func(ctx context.Context, lab *topology.Lab, acc *provision.Access) ([]verify.Check, error)) func(context.Context, *libvirt.Connect, *topology.Lab, io.Writer) ([]verify.Check, error) {
	return func(ctx context.Context, conn *libvirt.Connect, lab *topology.Lab, _ io.Writer) ([]verify.Check, error) {
		acc, err := provision.OpenAccess(conn, lab.Name, provision.AccessOptions{File: lab})
		if err != nil {
			return nil, err
		}
		defer acc.Close()
		return f(ctx, lab, acc)
	}
}

func classCheck(r *classRun) (*class.Report, error) {
	opts, _, err := verifyOptions(r.c)
	if err != nil {
		return nil, err
	}
	return r.eachCopy("check", onCopy(func(ctx context.Context, lab *topology.Lab, acc *provision.Access) ([]verify.Check, error) {
		rep, err := check.Run(ctx, lab, executors(ctx, acc), check.Options{LabRef: r.cls.LabRef, Verify: opts})
		if err != nil {
			return nil, err
		}
		return class.CheckChecks(rep), nil
	})), nil
}

func classVerify(r *classRun) (*class.Report, error) {
	opts, _, err := verifyOptions(r.c)
	if err != nil {
		return nil, err
	}
	return r.eachCopy("verify", onCopy(func(ctx context.Context, lab *topology.Lab, acc *provision.Access) ([]verify.Check, error) {
		rep, err := verify.Run(ctx, lab, dialer(ctx, acc), opts)
		if err != nil {
			return nil, err
		}
		return class.VerifyChecks(rep), nil
	})), nil
}

// classDown removes every copy of the class: those recorded and those the
// hosts' tags mark as the class's (students since dropped from the file
// too); the record forgets each copy removed.
func classDown(r *classRun) (*class.Report, error) {
	if len(r.c.StringSlice("student")) == 0 {
		r.students = nil
		for _, c := range r.rec.Copies {
			r.students = append(r.students, c.Student)
		}
	}
	rep := r.eachCopy("down", func(ctx context.Context, conn *libvirt.Connect, lab *topology.Lab, out io.Writer) ([]verify.Check, error) {
		d, err := provision.Down(context.WithoutCancel(ctx), conn, provision.Selector{Lab: lab.Name}, provision.DownOptions{Out: out})
		if err != nil {
			return nil, provision.Explain(conn, err)
		}
		return []verify.Check{{Name: "down", Status: verify.Pass, Detail: fmt.Sprintf("%d objects removed", len(d.Removed))}}, nil
	})
	for _, row := range rep.Rows {
		if row.Error == "" {
			r.rec.Remove(row.Student)
		}
	}
	if err := r.rec.Write(r.home); err != nil {
		return nil, cannot(fmt.Errorf("class record: %w", err))
	}
	return rep, nil
}
