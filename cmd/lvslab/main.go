// Command lvslab builds a Linux Virtual Server (LVS/IPVS) lab from one YAML
// file: VMs through libvirt, every node configured over SSH, and the
// scheduler's promise checked from the client.
package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/report"
)

// version is set at build time by the Makefile from git describe
// (-ldflags "-X main.version=..."); a plain "go build" or "go install"
// falls back to the module's build information (see buildVersion).
var version = ""

func main() {
	enterRunningSandbox(os.Args)
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is main without the exit, for tests: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp()
	out := &watched{Writer: stdout}
	app.Writer, app.ErrWriter = out, stderr
	app.Metadata = map[string]any{rawArgsKey: args}
	args = interspersed(app, args)
	err := app.Run(args)
	if err == nil {
		err, _ = app.Metadata[unknownCommandKey].(error)
	}
	if err == nil {
		return report.ExitPass
	}
	// The one place an error becomes a message and an exit code: libvirt's
	// errors are told in sentences here, for every command (on the libvirt
	// the command was connected to, when the sentence looks something up).
	uri, _ := app.Metadata[connectURIKey].(string)
	told := host.ExplainAt(uri, err).Error()
	code := report.ExitCannot
	// Exit errors (exit, cannot, failed) carry their own code.
	if coder, ok := err.(cli.ExitCoder); ok {
		code = coder.ExitCode()
	} else {
		told = "lvslab: " + told
	}
	if told != "" {
		fmt.Fprintln(app.ErrWriter, told)
	}
	// -o json is JSON for every outcome: a command that failed before it
	// wrote its own says why as {"error": ...}.
	if !out.wrote && asksJSON(app, args) {
		writeJSON(stdout, errorJSON{Error: strings.TrimPrefix(cmp.Or(told, fmt.Sprintf("exit status %d", code)), "lvslab: ")})
	}
	return code
}

// connectURIKey is where a failed command leaves its --connect, for run to
// explain its error on that libvirt.
const connectURIKey = "lvslab.connect-uri"

func newApp() *cli.App {
	app := &cli.App{
		Name:    "lvslab",
		Usage:   "build, configure and prove a Linux Virtual Server (LVS/IPVS) lab from one YAML file",
		Version: buildVersion(),
		Description: `lvslab turns a lab file (networks, client, director and web nodes, IPVS
services) into running VMs, configures every node over SSH (addresses, gateways,
web pages, VIP aliases, ARP sysctls, ipvsadm) and checks from the client that
the scheduler distributes requests as it promises.

A LAB is a path to a lab file or the name of an embedded lab ("lvslab labs"
lists them), given as the argument or with --lab/-l; with none, the default
lab tedu-nat is used. Flags may come before or after it, and a short form
means one flag everywhere (-n --node, -l --lab, -r --requests, -o --output).

Typical session:
   lvslab labs                      # the embedded exercises
   lvslab validate my-lab.yaml      # check a lab file, every problem at once
   lvslab plan tedu-dr --os rhel    # the commands a student would type
   lvslab graph tedu-nat            # the topology, with the reply path
   lvslab image build               # the guest image (once)
   sudo lvslab sandbox start        # a private libvirtd, where the machine has none of its own
   lvslab up tedu-nat --dry-run     # what up would create, start and change
   lvslab up tedu-nat               # VMs up and configured
   lvslab verify tedu-nat           # prove the rr distribution
   lvslab up tedu-dr                # switch the same VMs to DR in place
   lvslab down tedu                 # remove everything of the lab

Every command that lists or reports takes -o json (labs, validate, plan,
image ls, image import, up --dry-run, ls, status, check, verify, drill,
ipvs, class): JSON for every outcome, {"error": "..."} when it could not
run. --debug traces each libvirt call and SSH command with its duration and
output on stderr; --quiet keeps only results and errors; --progress json
writes progress as one JSON event per line on stderr (tty, plain: text
redrawn in place or not; auto: tty on a terminal).
Shell completion: "lvslab completion bash|zsh|fish"; the manual: "man lvslab".

Exit codes: 0 success, 1 the lab or a verdict is wrong, 2 lvslab could not run
(an unknown command or flag too).`,
		Flags:                globalFlags(),
		Before:               applyGlobalFlags,
		Commands:             commands(),
		EnableBashCompletion: true,
		Suggest:              true,
		// Errors, with their exit codes, are printed and returned by run,
		// not by urfave/cli (which would exit in the middle of a test).
		// A failed command's --connect is kept for run's explanation.
		ExitErrHandler: func(c *cli.Context, err error) {
			if err != nil && c.App.Metadata != nil {
				c.App.Metadata[connectURIKey] = c.String("connect")
			}
		},
	}
	rejectUnknownCommands(app)
	app.OnUsageError = usageError
	onEvery(app.Commands, func(c *cli.Command) { c.OnUsageError = usageError })
	addCompletion(app.Commands)
	return app
}
