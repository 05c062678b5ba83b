package door_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/lvslab/lvslab/provision/class/door"
	"github.com/lvslab/lvslab/provision/paths"
)

// How "lvslab class serve --ssh-listen :2222" runs the door: auth checks
// the class's hashed passphrases and registered keys, shells reaches each
// student's copy through lvslab's access path (the same Terminal/Shell the
// web terminals use).
func Example() {
	var (
		auth   door.Auth   // the class record's credentials
		shells door.Shells // the class's copies
	)
	if auth == nil || shells == nil {
		return // (this example only shows the wiring)
	}
	d, err := door.New(door.Config{
		HostKeyPath: paths.Local().DoorKey("tedu"),
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}, auth, shells)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", ":2222")
	if err != nil {
		panic(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := d.Serve(ctx, ln); err != nil { // returns nil after SIGTERM
		panic(err)
	}
}
