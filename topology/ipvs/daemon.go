package ipvs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Connection sync: the kernel's sync daemons (keepalived's lvs_sync_daemon
// starts them) send the master's connection entries to the backup, so a
// connection survives a failover.
const (
	// DaemonsCommand lists the sync daemons the kernel runs.
	DaemonsCommand = "ipvsadm -Ln --daemon"
	// StopDaemonsCommand stops both; one that does not run is no error.
	// keepalived's reload without lvs_sync_daemon leaves them running.
	StopDaemonsCommand = "ipvsadm --stop-daemon master 2>/dev/null; ipvsadm --stop-daemon backup 2>/dev/null; true"
)

// SyncDaemon is one kernel sync daemon as DaemonsCommand prints it:
// "master sync daemon (mcast=eth0, syncid=51)".
type SyncDaemon struct {
	State     string // master or backup
	Interface string
	SyncID    int
}

func (d SyncDaemon) String() string {
	return fmt.Sprintf("%s on %s, syncid %d", d.State, d.Interface, d.SyncID)
}

// ParseDaemons reads DaemonsCommand's output; lines of another shape are
// skipped.
func ParseDaemons(out string) []SyncDaemon {
	var ds []SyncDaemon
	for _, line := range strings.Split(out, "\n") {
		state, rest, ok := strings.Cut(strings.TrimSpace(line), " sync daemon (")
		if !ok || (state != "master" && state != "backup") {
			continue
		}
		d := SyncDaemon{State: state}
		for _, kv := range strings.Split(strings.TrimSuffix(rest, ")"), ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			switch k {
			case "mcast":
				d.Interface = v
			case "syncid":
				d.SyncID, _ = strconv.Atoi(v)
			}
		}
		ds = append(ds, d)
	}
	return ds
}

// SyncDaemons reads the sync daemons the node's kernel runs.
func (h *Handle) SyncDaemons(ctx context.Context) ([]SyncDaemon, error) {
	out, err := h.run(ctx, DaemonsCommand)
	if err != nil {
		return nil, fmt.Errorf("read the sync daemons: %w", err)
	}
	return ParseDaemons(out), nil
}

// StopSyncDaemons stops the node's sync daemons.
func (h *Handle) StopSyncDaemons(ctx context.Context) error {
	if _, err := h.run(ctx, StopDaemonsCommand); err != nil {
		return fmt.Errorf("stop the sync daemons: %w", err)
	}
	return nil
}
