package serve_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/lvslab/lvslab/provision/class/serve"
	"github.com/lvslab/lvslab/provision/paths"
)

// How "lvslab class credentials" and "lvslab class serve" use the package:
// root is lvslab's folders (the class's files go beside its record),
// backend the class over SSH and libvirt.
func Example() {
	var backend serve.Backend // the lead's implementation
	root, class := paths.Local(), "tedu"
	if backend == nil {
		return
	}

	// class credentials CLASSFILE -o html: new slips for whoever has none.
	creds, err := serve.LoadCredentials(root, class)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	slips, err := creds.Issue(backend.Students(), false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	serve.WriteSlipsHTML(os.Stdout, class, "https://classhost:8443", slips)

	// class serve CLASSFILE --listen :8443: until SIGINT or SIGTERM.
	s, err := serve.New(serve.Config{Class: class, Paths: root, Credentials: creds, Hosts: []string{"classhost"},
		Stages: []string{"nat", "dr"}}, backend)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	ln, err := net.Listen("tcp", ":8443")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Fprintln(os.Stderr, "certificate SHA-256", s.Fingerprint())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.Serve(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}
