package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/access"
	"github.com/lvslab/lvslab/provision/check"
	"github.com/lvslab/lvslab/provision/class"
	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/lab"
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
				accelFlag("`MODE` of the VMs: kvm, tcg or auto"),
				&cli.DurationFlag{Name: "timeout", Usage: "how long to wait for SSH on each copy's nodes", DefaultText: "5m under TCG, 2m under KVM"},
				&cli.BoolFlag{Name: "bare", Usage: "copies as a classroom hands them out (see \"lvslab up --bare\")"},
				&cli.BoolFlag{Name: "vms-only", Usage: "bring the VMs up and stop at SSH"},
				&cli.StringFlag{Name: "mgmt-pool", Usage: "`CIDR` the copies' management /24s are taken from", DefaultText: host.DefaultMgmtPool}),
			classSub("status", "each copy's VMs: running and answering SSH", classStatus),
			classSub("check", "check every copy: its nodes' facts, then verify's proof", classCheck, readFlags()...),
			classSub("verify", "verify every copy from its client", classVerify, readFlags()...),
			classSub("down", "remove every copy of the class on every host", classDown),
			classSSHConfigCommand(),
			classValidateCommand(),
			classCredentialsCommand(),
			classServeCommand(),
		},
	}
}

// classSub is a class subcommand: its own flags, then the ones every class
// command shares.
func classSub(name, usage string, action func(*classRun) (*class.Report, error), flags ...cli.Flag) *cli.Command {
	return command{name: name, args: "CLASSFILE", usage: usage, formats: textJSON,
		flags: append(flags, studentFlag(),
			&cli.IntFlag{Name: "parallel", Aliases: []string{"p"}, Usage: "copies worked on at a time (default: the class file's batch, else 4)"},
			&cli.StringFlag{Name: "junit", Usage: "also write a JUnit XML `FILE`: a testsuite per student"},
			&cli.StringFlag{Name: "html", Usage: "also write a static HTML `FILE`: a row per student, a green or red cell per check"},
		),
		action: func(c *cli.Context) error {
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
	}.cli()
}

// studentFlag is --student, a student of the class file.
func studentFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "student", Usage: "only this `STUDENT`'s copy (repeatable)"}
}

// readFlags are verify's options that check and verify take for each copy.
func readFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range verifyFlags("verify") {
		if n := f.Names()[0]; n == "requests" || n == "prober" || n == "loop-timeout" || n == "timeout" {
			out = append(out, f)
		}
	}
	return out
}

// classRun is one class command: its flags and output format, and the
// class session (provision/class) that does the work.
type classRun struct {
	c      *cli.Context
	format string
	*class.Session
}

func openClass(c *cli.Context, command string) (*classRun, func(), error) {
	format := outputText
	if lookupFlag(c.Command.Flags, "output") != nil {
		format = outputOf(c)
	}
	if c.NArg() != 1 {
		return nil, nil, cannot("lvslab class " + command + ": give one CLASSFILE")
	}
	out := c.App.ErrWriter
	if format == outputText {
		out = c.App.Writer
	}
	ctx, stop := commandContext(c)
	s, err := class.Open(ctx, c.Args().First(), class.SessionOptions{Paths: folders(c), Students: c.StringSlice("student"), Parallel: c.Int("parallel"), Progress: progressTo(c, out)})
	if err != nil {
		stop()
		return nil, nil, cannot(err)
	}
	return &classRun{c: c, format: format, Session: s}, func() { s.Close(); stop() }, nil
}

// finish writes the report (text or JSON, --junit, --html) and returns the
// exit code.
func (r *classRun) finish(rep *class.Report) error {
	title := fmt.Sprintf("lvslab class %s %s", rep.Command, r.Class.Name)
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

// classUp places the class's new copies, records where, then brings every
// copy up a batch at a time.
func classUp(r *classRun) (*class.Report, error) {
	rep, err := r.Up(lab.Options{
		Accel: r.c.String("accel"), Timeout: r.c.Duration("timeout"), VMsOnly: r.c.Bool("vms-only"),
		Bare: r.c.Bool("bare"), MgmtPool: r.c.String("mgmt-pool"),
	})
	var fit *class.FitError
	switch {
	case errors.As(err, &fit):
		return nil, failed(err)
	case err != nil:
		return nil, cannot(err)
	}
	return rep, nil
}

// classSSHConfigCommand prints "lvslab ssh-config" of every copy in one
// file: a Host per node named COPY-NODE, each jumping through its host.
func classSSHConfigCommand() *cli.Command {
	return command{name: "ssh-config", args: "CLASSFILE",
		usage: "print one ssh_config for every copy's nodes (Host COPY-NODE, through its hypervisor)",
		flags: []cli.Flag{studentFlag(),
			&cli.StringFlag{Name: "door", Usage: "with one --student: that student's file, through the class's SSH door at `HOST:PORT` (no key of lvslab's in it)"},
		},
		action: func(c *cli.Context) error {
			r, done, err := openClass(c, "ssh-config")
			if err != nil {
				return err
			}
			defer done()
			if addr := c.String("door"); addr != "" {
				if len(r.Students) != 1 || len(c.StringSlice("student")) != 1 {
					return cannot("lvslab class ssh-config --door: give one --student")
				}
				text, err := doorClientConfig(folders(c), r.Session, r.Students[0], addr)
				if err != nil {
					return cannot(err)
				}
				fmt.Fprint(c.App.Writer, text)
				return nil
			}
			var b bytes.Buffer
			missing := r.WriteSSHConfig(&b)
			fmt.Fprintf(c.App.Writer, "# lvslab class %s: \"Include\" this file in ~/.ssh/config, or use ssh -F FILE\n", r.Class.Name)
			c.App.Writer.Write(b.Bytes())
			if len(missing) > 0 {
				return failed("lvslab class ssh-config: no copy for " + strings.Join(missing, "; "))
			}
			return nil
		},
	}.cli()
}

// classStatus is status of every copy: a cell per node, green when its VM
// runs and lvslab logs in.
func classStatus(r *classRun) (*class.Report, error) { return r.Status(), nil }

func classCheck(r *classRun) (*class.Report, error) {
	opts, _, err := verifyOptions(r.c)
	if err != nil {
		return nil, err
	}
	return r.OnCopies("check", func(ctx context.Context, lab *topology.Lab, acc *access.Access) ([]verify.Check, error) {
		rep, err := check.Run(ctx, lab, acc.Dialer(ctx), check.Options{LabRef: r.Class.LabRef, Verify: opts})
		if err != nil {
			return nil, err
		}
		return class.CheckChecks(rep), nil
	}), nil
}

func classVerify(r *classRun) (*class.Report, error) {
	opts, _, err := verifyOptions(r.c)
	if err != nil {
		return nil, err
	}
	return r.OnCopies("verify", func(ctx context.Context, lab *topology.Lab, acc *access.Access) ([]verify.Check, error) {
		rep, err := verify.Run(ctx, lab, acc.Dialer(ctx), opts)
		if err != nil {
			return nil, err
		}
		return class.VerifyChecks(rep), nil
	}), nil
}

// classDown removes every copy of the class: those recorded and those the
// hosts' tags mark as the class's (students since dropped from the file
// too); the record forgets each copy removed.
func classDown(r *classRun) (*class.Report, error) {
	rep, err := r.Down(len(r.c.StringSlice("student")) > 0)
	if err != nil {
		return nil, cannot(err)
	}
	return rep, nil
}

const classValidateHelp = `Decodes the class file strictly (an unknown or misspelled field is an
error) and checks every rule, as "lvslab validate" does for a lab: the
class's name, its lab (which must validate too), the students (by name or
count), the hosts and their bounds. Every problem is listed with
file:line:col. No host is contacted.

With -o json the verdict is data: {"file", "valid", "class", "lab" (the
lab's name: field), "lab_file", "students", "hosts", "problems": [{"file",
"line", "col", "path", "message"}, ...]}.

Exit code 0 when the class file is valid, 1 when it is not.

Examples:
   lvslab class validate lvs.yaml
   lvslab class validate lvs.yaml -o json | jq -r '.problems[] | "\(.line): \(.message)"'`

// classValidateCommand checks a class file, every problem at its place.
func classValidateCommand() *cli.Command {
	return command{name: "validate", args: "CLASSFILE", help: classValidateHelp, formats: textJSON,
		usage: "check a class file and list every problem, with file:line:col",
		action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cannot("lvslab class validate: give one CLASSFILE")
			}
			file := c.Args().First()
			cls, err := class.LoadFile(file)
			if outputOf(c) == outputText {
				if err != nil {
					return failed(err)
				}
				fmt.Fprintf(c.App.Writer, "%s: class %q is valid: lab %q (%s), %d students, %d hosts\n",
					file, cls.Name, cls.Lab.Name, cls.Lab.File, len(cls.Students), len(cls.Hosts))
				return nil
			}
			v := classVerdict{Validity: Validity{File: file, Valid: err == nil}}
			if err != nil {
				v.File, v.Problems = problemsOf(file, err)
				return cmp.Or(writeJSON(c.App.Writer, v), failed(""))
			}
			v.Class, v.Lab, v.LabFile, v.Students = cls.Name, cls.Lab.Name, cls.Lab.File, cls.Students
			for _, h := range cls.Hosts {
				v.Hosts = append(v.Hosts, h.URI)
			}
			return writeJSON(c.App.Writer, v)
		},
	}.cli()
}

// classVerdict is "lvslab class validate -o json".
type classVerdict struct {
	Validity
	Class    string   `json:"class"`
	Lab      string   `json:"lab"` // the lab's name: field
	LabFile  string   `json:"lab_file"`
	Students []string `json:"students"`
	Hosts    []string `json:"hosts"`
}
