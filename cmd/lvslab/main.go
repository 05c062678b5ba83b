// Command lvslab builds a Linux Virtual Server (LVS/IPVS) lab from one YAML
// file: VMs through libvirt, every node configured over SSH, and the
// scheduler's promise checked from the client.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	app := newApp()
	if err := app.Run(interspersed(app, os.Args)); err != nil {
		// cli.Exit errors carry their own code and were printed already.
		if coder, ok := err.(cli.ExitCoder); ok {
			if msg := err.Error(); msg != "" {
				fmt.Fprintln(os.Stderr, msg)
			}
			os.Exit(coder.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "lvslab:", err)
		os.Exit(2)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "lvslab",
		Usage:   "build, configure and prove a Linux Virtual Server (LVS/IPVS) lab from one YAML file",
		Version: version,
		Description: `lvslab turns a lab file (networks, client, director and web nodes, IPVS
services) into running VMs, configures every node over SSH (addresses, gateways,
web pages, VIP aliases, ARP sysctls, ipvsadm) and checks from the client that
the scheduler distributes requests as it promises.

A LAB argument is a path to a lab file or the name of an embedded lab
("lvslab labs" lists them); with none, the default lab tedu-nat is used.

Typical session:
   lvslab labs                      # the embedded exercises
   lvslab validate my-lab.yaml      # check a lab file, every problem at once
   lvslab plan tedu-dr --os rhel    # the commands a student would type
   lvslab graph tedu-nat            # the topology, with the reply path
   lvslab image build               # the guest image (once)
   lvslab up tedu-nat               # VMs up and configured
   lvslab verify tedu-nat           # prove the rr distribution
   lvslab up tedu-dr                # switch the same VMs to DR in place
   lvslab down tedu                 # remove everything of the lab

Exit codes: 0 success, 1 the lab or a verdict is wrong, 2 lvslab could not run.`,
		Commands:             commands(),
		EnableBashCompletion: true,
	}
}
