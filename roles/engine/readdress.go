package engine

import "context"

// Readdresser is what an Executor also implements when it can survive a
// change of the address that carries its session (provision/sshx.Client
// does): the command runs detached from the session, then the executor
// reconnects on the node's new address.
type Readdresser interface {
	// RunDetached starts cmd so that it outlives the session and returns
	// once it is started.
	RunDetached(ctx context.Context, cmd string) error
	// Reconnect moves the executor to newAddr (host:port), retrying until
	// the node answers there or ctx ends.
	Reconnect(ctx context.Context, newAddr string) error
}

// addresser is optionally implemented by a Readdresser to tell the host:port
// it talks to now, so that Reconnect keeps the same port.
type addresser interface {
	Addr() string
}

// SSHPort is the port used to reconnect when the executor does not tell
// its current one.
var SSHPort = "22"
