package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/access"
)

const sshConfigHelp = `Prints an ssh_config with one Host per node of the running lab: its
management address, user root, the lab's key (IdentityFile), the lab's pinned
host keys (UserKnownHostsFile, HostKeyAlias). On a remote libvirt
(--connect qemu+ssh://user@host/system) each node jumps through that host
(ProxyJump, with the URI's port, keyfile and known_hosts). Each node is named
LAB-NODE and, unless --no-short, NODE.

Examples:
   lvslab ssh-config tedu-nat > ~/.ssh/lvslab-tedu.conf   # then "Include lvslab-tedu.conf" in ~/.ssh/config
   lvslab ssh-config b --connect qemu+ssh://root@hv1/system > b.conf && ssh -F b.conf web1 hostname`

func sshConfigCommand() *cli.Command {
	return command{name: "ssh-config", args: labArgUsage, help: sshConfigHelp,
		usage: "print an ssh_config for the lab's nodes, so that plain \"ssh web1\" logs in",
		flags: []cli.Flag{labFlag(), connectFlag(), asFlag("the lab runs"),
			&cli.BoolFlag{Name: "no-short", Usage: "name nodes only LAB-NODE (several copies of one lab in one file)"},
		},
		action: func(c *cli.Context) error {
			arg, err := oneLab(c)
			if err != nil {
				return err
			}
			_, acc, done, err := labAccess(c, arg)
			if err != nil {
				return err
			}
			defer done()
			if err := acc.WriteSSHConfig(c.App.Writer, access.SSHConfigOptions{Short: !c.Bool("no-short")}); err != nil {
				return failed(fmt.Errorf("lvslab ssh-config: %w", err))
			}
			return nil
		},
	}.cli()
}
