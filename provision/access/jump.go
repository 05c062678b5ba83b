package access

import (
	"fmt"
	"sync"

	"github.com/lvslab/lvslab/provision/host"
	"github.com/lvslab/lvslab/provision/sshx"
)

// jumpConfig is how the jump logs in: the URI's keyfile, the user's agent
// and ~/.ssh/id_*, the URI's known_hosts (else ~/.ssh/known_hosts).
func jumpConfig(r *host.Remote) sshx.JumpConfig {
	cfg := sshx.JumpConfig{User: r.User, Addr: r.SSHAddr(), Agent: true, DefaultKeys: true, NoVerify: r.NoVerify,
		Origin: "the libvirt URI " + r.URI}
	if r.KeyFile != "" {
		cfg.KeyFiles = []string{r.KeyFile}
	}
	if r.KnownHosts != "" {
		cfg.KnownHostsFiles = []string{r.KnownHosts}
	}
	return cfg
}

// jumps holds one jump connection per hypervisor (and login), shared by
// every Access of the process: a class's copies on one host share it.
var (
	jumpsMu sync.Mutex
	jumps   = map[string]*sshx.Jump{}
)

// JumpFor is the shared jump connection to r's hypervisor.
func JumpFor(r *host.Remote) *sshx.Jump {
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%v", r.Label(), r.KeyFile, r.KnownHosts, r.NoVerify)
	jumpsMu.Lock()
	defer jumpsMu.Unlock()
	if j, ok := jumps[key]; ok {
		return j
	}
	j := sshx.NewJump(jumpConfig(r))
	jumps[key] = j
	return j
}
