package progress

import (
	"fmt"
	"strings"
)

// The events of "lvslab down".

// Removed: down removed one object of a lab (What: domain, volume,
// network, file, folder).
type Removed struct {
	Lab  string `json:"lab"`
	What string `json:"kind"`
	Name string `json:"name"`
}

// ImagesKept: down of a lab on a remote host left the image volumes in its
// pool, for the next up.
type ImagesKept struct {
	Pool string `json:"pool"`
	Host string `json:"host"`
	URI  string `json:"uri"`
}

// LogsKept: console logs on a remote host that libvirt cannot remove.
type LogsKept struct {
	Host string   `json:"host"`
	Logs []string `json:"logs"`
}

func (e Removed) text() string { return fmt.Sprintf("removed %s %s\n", e.What, e.Name) }

func (e ImagesKept) text() string {
	return fmt.Sprintf("kept the image volumes (image-*) in pool %s on %s for the next up: \"lvslab image ls --connect '%s'\" lists them, \"lvslab image rm --connect '%s' NAME\" removes one\n",
		e.Pool, e.Host, e.URI, e.URI)
}

func (e LogsKept) text() string {
	return fmt.Sprintf("kept console logs on %s (no storage pool holds them, and libvirt's API removes no other file; the next up of the node overwrites each): %s\n",
		e.Host, strings.Join(e.Logs, " "))
}
