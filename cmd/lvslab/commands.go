package main

import "github.com/urfave/cli/v2"

// commands lists every command in the order "lvslab --help" shows them.
func commands() []*cli.Command {
	return []*cli.Command{
		labsCommand(),
		validateCommand(),
		planCommand(),
		graphCommand(),
		imageCommand(),
		upCommand(),
		statusCommand(),
		lsCommand(),
		verifyCommand(),
		checkCommand(),
		sshCommand(),
		sshConfigCommand(),
		execCommand(),
		consoleCommand(),
		drillCommand(),
		ipvsCommand(),
		classCommand(),
		downCommand(),
		sandboxCommand(),
		completionCommand(),
		manCommand(),
		sandboxInnerCommand(),
		sandboxHypervisorCommand(),
	}
}
