package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/topology"
)

const graphHelp = `Draws what the exercises' lost diagrams showed: each network with the
addresses plugged into it, labelled CIP (client), VIP (virtual IP), DIP
(director's address facing the real servers) and RIP (real servers), where
the VIP lives (director alias, lo:0 or tunl0 of real servers), and the
reply path: through the director in NAT, straight to the client in DR/TUN.

Examples:
   lvslab graph                       # the default lab, as text
   lvslab graph tedu-dr -o dot | dot -Tpng > tedu-dr.png
   lvslab graph my-lab.yaml -o mermaid

-o ascii is text, dot is Graphviz; --format is the old name of -o.`

func graphCommand() *cli.Command {
	return command{name: "graph", args: labArgUsage, help: graphHelp,
		usage:   "draw the lab's topology: networks, nodes, VIP/DIP/RIP, request and reply paths",
		formats: []string{topology.GraphASCII, topology.GraphDot, topology.GraphMermaid},
		flags:   []cli.Flag{labFlag()},
		action: func(c *cli.Context) error {
			lab, err := loadLab(c)
			if err != nil {
				return err
			}
			out, err := topology.Graph(lab, outputOf(c))
			if err != nil {
				return cannot(err)
			}
			fmt.Fprint(c.App.Writer, out)
			return nil
		},
	}.cli()
}
