package main

import "github.com/urfave/cli/v2"

// commands lists every command in the order "lvslab --help" shows them.
func commands() []*cli.Command {
	return withFieldWords([]*cli.Command{
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
	})
}

// fieldWords are the words users of containerlab, netlab and Kathará type
// for lvslab's commands: each leads to its command as an alias.
var fieldWords = map[string][]string{
	"up":     {"deploy"},
	"down":   {"destroy"},
	"status": {"inspect"},
	"ssh":    {"connect"},
}

// withFieldWords gives cmds their field words as aliases.
func withFieldWords(cmds []*cli.Command) []*cli.Command {
	for _, c := range cmds {
		c.Aliases = append(c.Aliases, fieldWords[c.Name]...)
	}
	return cmds
}
