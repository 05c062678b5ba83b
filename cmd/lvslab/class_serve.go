package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/lvslab/lvslab/provision/check"
	"github.com/lvslab/lvslab/provision/class"
	"github.com/lvslab/lvslab/provision/class/door"
	"github.com/lvslab/lvslab/provision/class/serve"
	"github.com/lvslab/lvslab/provision/paths"
	"github.com/lvslab/lvslab/provision/sshx"
)

const classCredentialsHelp = `Gives a passphrase to the teacher (login "teacher") and to every student who
has none yet, and prints them once: only their argon2id hashes are kept, in
$LVSLAB_HOME/classes/<class>.credentials.json (mode 0600), so a lost slip is
replaced with --rotate NAME, or every one with --rotate-all. -o html is a
page of slips to print and cut; -o csv for a mail merge; -o json. A running class
serve reads the file again when it changes.

Example:
   lvslab class credentials lvs.yaml -o html --url https://classhost:8443 > slips.html`

// classCredentialsCommand issues the class's logins and prints them once.
func classCredentialsCommand() *cli.Command {
	return command{name: "credentials", args: "CLASSFILE", help: classCredentialsHelp, formats: []string{"csv", "html", "json"},
		usage: "give the teacher and each student a passphrase for class serve, printed once as slips",
		flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Usage: "the class server's `URL`, printed on each slip"},
			&cli.StringSliceFlag{Name: "rotate", Usage: "a new passphrase for this `NAME` (a student or teacher; repeatable)"},
			&cli.BoolFlag{Name: "rotate-all", Usage: "new passphrases for everyone"},
		},
		action: func(c *cli.Context) error {
			format := outputOf(c)
			if c.NArg() != 1 {
				return cannot("lvslab class credentials: give one CLASSFILE")
			}
			cls, err := class.LoadFile(c.Args().First())
			if err != nil {
				return cannot(err)
			}
			creds, err := serve.LoadCredentials(folders(c), cls.Name)
			if err != nil {
				return cannot(err)
			}
			slips, err := creds.Issue(cls.Students, c.Bool("rotate-all"))
			if err != nil {
				return cannot(err)
			}
			for _, name := range c.StringSlice("rotate") {
				if name != "teacher" && !slices.Contains(cls.Students, name) {
					return cannot(fmt.Sprintf("--rotate %s: not the teacher nor a student of class %s", name, cls.Name))
				}
				slip, err := creds.Rotate(name)
				if err != nil {
					return cannot(err)
				}
				slips = append(slips, slip)
			}
			if len(slips) == 0 {
				fmt.Fprintln(c.App.ErrWriter, "everyone has a passphrase already: --rotate NAME gives one a new one")
				if format == "json" {
					return writeJSON(c.App.Writer, []serve.Slip{}) // JSON for every outcome
				}
				return nil
			}
			switch format {
			case "html":
				return serve.WriteSlipsHTML(c.App.Writer, cls.Name, c.String("url"), slips)
			case "json":
				return writeJSON(c.App.Writer, slips)
			}
			return serve.WriteSlipsCSV(c.App.Writer, c.String("url"), slips)
		},
	}.cli()
}

const classServeHelp = `Serves the class until SIGINT or SIGTERM (then it closes every terminal and
returns). Logins are those of "lvslab class credentials" (run it first).

Web (--listen, HTTPS with a self-signed certificate kept with the class, or
--tls-cert/--tls-key; --plain-http only on a closed classroom LAN):
   a student sees their nodes, a terminal per node (SSH as root on that node of
   their copy, through lvslab's own access), its serial console (the way back
   when they cut off the network), their handout and "check my work" with each
   FAIL's why and fix, and the history of their checks;
   the teacher sees the class grid live, opens any student's terminal, resets a
   copy (bare, or configured), brings a missing one up, revokes sessions.

SSH door (--ssh-listen): a student logs in with their name and passphrase (or a
key registered on their page) and gets a menu of their nodes, or uses the door
as a jump host: ssh -J alice@classhost:2222 root@web1. Only their own copy's
nodes, by name; never a shell on this host. "lvslab class ssh-config FILE
--student alice --door classhost:2222" prints alice's ssh_config.

Example:
   lvslab class credentials lvs.yaml -o html > slips.html
   lvslab class serve lvs.yaml --listen :8443 --ssh-listen :2222 --host classhost`

// classServeCommand runs the class's server: the web pages and the SSH
// door, until SIGINT or SIGTERM.
func classServeCommand() *cli.Command {
	return command{name: "serve", args: "CLASSFILE", help: classServeHelp,
		usage: "the class's door: each student's own copy in the browser and over SSH, the teacher's live grid",
		flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: ":8443", Usage: "`ADDR` of the web pages"},
			&cli.StringFlag{Name: "ssh-listen", Usage: "`ADDR` of the SSH door (none when empty)"},
			&cli.BoolFlag{Name: "plain-http", Usage: "serve the pages without TLS (a closed classroom LAN only)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "PEM `FILE` of the certificate (default: self-signed, kept with the class)"},
			&cli.StringFlag{Name: "tls-key", Usage: "PEM `FILE` of its key"},
			&cli.StringSliceFlag{Name: "host", Usage: "`NAME` students use for this machine (in the self-signed certificate; repeatable)"},
			&cli.StringFlag{Name: "public-url", Usage: "the `URL` browsers use, when a reverse proxy stands in front"},
		},
		action: classServe,
	}.cli()
}

func classServe(c *cli.Context) error {
	if c.NArg() != 1 {
		return cannot("lvslab class serve: give one CLASSFILE")
	}
	ctx, stop := commandContext(c)
	defer stop()
	root := folders(c)
	s, err := class.Open(ctx, c.Args().First(), class.SessionOptions{Paths: root, Progress: progressTo(c, c.App.ErrWriter)})
	if err != nil {
		return cannot(err)
	}
	defer s.Close()
	creds, err := serve.LoadCredentials(root, s.Class.Name)
	if err != nil {
		return cannot(err)
	}
	live := class.NewLive(s, class.LiveOptions{Credentials: creds, Check: check.Options{Quick: true}})
	defer live.Close()
	logf := func(format string, args ...any) { fmt.Fprintf(c.App.ErrWriter, "class serve: "+format+"\n", args...) }
	var d *door.Door
	if c.String("ssh-listen") != "" {
		if d, err = door.New(door.Config{
			HostKeyPath: root.DoorKey(s.Class.Name),
			Logger:      slog.New(slog.NewTextHandler(c.App.ErrWriter, nil)),
		}, live.Door(), live.Door()); err != nil {
			return cannot(err)
		}
	}
	cfg := serve.Config{
		Class: s.Class.Name, Paths: root, Credentials: creds,
		PlainHTTP: c.Bool("plain-http"), TLSCert: c.String("tls-cert"), TLSKey: c.String("tls-key"),
		Hosts: c.StringSlice("host"), PublicURL: c.String("public-url"),
		Stages: []string{s.Class.LabRef}, Logf: logf,
	}
	if d != nil {
		cfg.OnRevoke = d.Disconnect // a revoked student's SSH connections end too
	}
	srv, err := serve.New(cfg, live)
	if err != nil {
		return cannot(err)
	}
	return serveDoors(ctx, stop, c, srv, d, logf)
}

// serveDoors listens on the pages' address and the door's, serves both
// until ctx ends, and says where each listens.
func serveDoors(ctx context.Context, stop func(), c *cli.Context, srv *serve.Server, d *door.Door, logf func(string, ...any)) error {
	web, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return cannot(err)
	}
	scheme := "https"
	if !srv.TLS() {
		scheme = "http"
	}
	logf("pages on %s://%s", scheme, web.Addr())
	if srv.TLS() {
		logf("certificate SHA-256 %s", srv.Fingerprint())
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	if d != nil {
		ln, err := net.Listen("tcp", c.String("ssh-listen"))
		if err != nil {
			web.Close()
			return cannot(err)
		}
		logf("SSH door on %s", ln.Addr())
		wg.Go(func() { errs <- d.Serve(ctx, ln) })
	}
	wg.Go(func() { errs <- srv.Serve(ctx, web) })
	go func() { wg.Wait(); close(errs) }()
	for err := range errs {
		if err != nil {
			stop()
			return cannot(err)
		}
	}
	logf("stopped")
	return nil
}

// doorClientConfig is student's ssh_config through the class's door.
func doorClientConfig(root paths.Root, s *class.Session, student, doorAddr string) (string, error) {
	hostPart, portPart, err := net.SplitHostPort(doorAddr)
	if err != nil {
		return "", fmt.Errorf("--door %q: give HOST:PORT, as students reach the door", doorAddr)
	}
	port, err := strconv.Atoi(portPart)
	if err != nil {
		return "", fmt.Errorf("--door %q: the port is not a number", doorAddr)
	}
	key, err := sshx.EnsurePrivateKey(root.DoorKey(s.Class.Name))
	if err != nil {
		return "", err
	}
	lab, err := s.CopyLab(student)
	if err != nil {
		return "", err
	}
	var nodes []string
	for _, n := range lab.Nodes {
		nodes = append(nodes, n.Name)
	}
	cfg := door.ClientConfig{Student: student, Host: hostPart, Port: port, Nodes: nodes, HostKey: key.PublicKey()}
	return cfg.SSHConfig()
}
