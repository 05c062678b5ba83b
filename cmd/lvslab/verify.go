package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/verify"
)

const verifyHelp = `From the lab's client node, sends a bounded loop of HTTP requests to each
service's VIP:port, maps every reply back to the web node that served it (by
its page), and compares what it saw with what the director's scheduler
promises: rr equal shares and its repeating sequence, wrr shares in proportion
to the weights and the kernel's exact cycle (web2, web2, web1 for weights 1:2),
lc/wlc the fewest connections, sh/dh/persistence one server per client, weight
0 no traffic. It also checks the director's ipvsadm --stats counters against
the client's counts and the forwarding mode's plumbing: in DR/TUN the VIP's ARP
answer is the director's MAC and every real server holds the VIP on lo/tunl0
with arp_ignore/arp_announce set; in NAT every real server's default route is
the director's DIP.

Probers: "fast" (default) runs one curl process for all requests, each on
its own TCP connection (Connection: close), so each is a new scheduling
decision without a process start-up per request, which costs ~0.16 s in a
TCG guest; "curl" is the exercises' own loop, one curl per request. Both keep
curl's own error text for failed requests. Both send from source ports
61000-65535 that neither the director's connection table nor a client socket
holds: in DR and TUN the director keeps a closed connection for 2 minutes
(FIN_WAIT), and a new connection from the same client port would go to that
entry's server without a scheduling decision or a count.

Exit codes: 0 every check passed, 1 a verdict failed, 2 verify could not run.

Examples:
   lvslab verify tedu-nat
   lvslab verify tedu-dr -r 60 --prober curl
   lvslab verify tedu-dr --output json --junit verify.xml`

func verifyCommand() *cli.Command {
	return command{name: "verify", args: labArgUsage, help: verifyHelp, formats: textJSON,
		usage: "prove from the client that the scheduler distributes requests as it promises",
		flags: verifyFlags("verify"),
		action: onReading(func(c *cli.Context, r *reading) error {
			lab := r.lab
			rep, err := verify.Run(r.ctx, lab, r.dial(), r.opts)
			title := "lvslab verify " + lab.Name
			if path := c.String("junit"); path != "" {
				if jerr := verify.WriteJUnit(path, rep, err, title); jerr != nil {
					return cannot("lvslab verify: writing " + path + ": " + jerr.Error())
				}
			}
			if err != nil {
				return exit(fmt.Errorf("lvslab verify: %w", err), verify.ExitCode(nil, err))
			}
			if werr := verify.Write(c.App.Writer, rep, r.format); werr != nil {
				return cannot(fmt.Errorf("lvslab verify: %w", werr))
			}
			if code := verify.ExitCode(rep, nil); code != 0 {
				return exit("", code)
			}
			return nil
		}),
	}.cli()
}

// verifyFlags are shared by verify, check, every drill step and ipvs
// save-restore (what names what --as does there).
func verifyFlags(what string) []cli.Flag {
	return []cli.Flag{
		labFlag(),
		connectFlag(),
		asFlag(what),
		&cli.IntFlag{Name: "requests", Aliases: []string{"r"}, Value: verify.DefaultRequests,
			Usage: fmt.Sprintf("requests per service (%d..%d); the default is a multiple of the usual weight sums", verify.MinRequests, verify.MaxRequests)},
		choice(&cli.StringFlag{Name: "prober", Value: verify.ProberFast, Usage: "`PROBER`: fast (one curl, a new connection per request) or curl (one curl per request, as in the exercises)"}, verify.Probers...),
		&cli.DurationFlag{Name: "loop-timeout", Usage: "bound of each service's request loop (default: from --requests and --prober)"},
		&cli.DurationFlag{Name: "timeout", Hidden: true, Usage: "old name of --loop-timeout"},
		&cli.StringFlag{Name: "client", Usage: "the client `NODE` to send requests from (default: the lab's first client)"},
		&cli.StringSliceFlag{Name: "service", Usage: "verify only this service `NAME` (repeatable)"},
		&cli.StringFlag{Name: "junit", Usage: "also write a JUnit XML `FILE`, a testcase per check"},
	}
}

func verifyOptions(c *cli.Context) (verify.Options, string, error) {
	format := outputOf(c)
	n := c.Int("requests")
	if n < verify.MinRequests || n > verify.MaxRequests {
		return verify.Options{}, "", cannot(fmt.Sprintf("--requests %d: use %d..%d", n, verify.MinRequests, verify.MaxRequests))
	}
	p := c.String("prober")
	if p != verify.ProberFast && p != verify.ProberCurl {
		return verify.Options{}, "", cannot(fmt.Sprintf("--prober %q: use %s", p, strings.Join(verify.Probers, " or ")))
	}
	return verify.Options{
		Requests: n,
		Prober:   p,
		Timeout:  loopTimeout(c),
		Client:   c.String("client"),
		Services: c.StringSlice("service"),
	}, format, nil
}

// loopTimeout is --loop-timeout, or its old name --timeout.
func loopTimeout(c *cli.Context) time.Duration {
	if c.IsSet("timeout") && !c.IsSet("loop-timeout") {
		return c.Duration("timeout")
	}
	return c.Duration("loop-timeout")
}
