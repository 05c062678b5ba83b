package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/lvslab/lvslab/roles/catalog"
	"github.com/lvslab/lvslab/roles/guest"
)

// Guest is what a running guest is, as status shows it.
type Guest struct {
	// OS is os-release's PRETTY_NAME (else its ID and VERSION_ID).
	OS string `json:"os"`
	// Family is catalog.Debian or catalog.RHEL, "" for another.
	Family string `json:"family,omitempty"`
	// Network is what manages its NICs (catalog.Owner*).
	Network string `json:"network"`
}

const secOwner = "owner"

// Describe reads a guest's OS and network owner in one command.
func Describe(ctx context.Context, exec guest.Executor) (Guest, error) {
	p := guest.NewProbe()
	p.Section(secOS, readOSRelease)
	p.Section(secOwner, catalog.OwnerProbe)
	out, err := exec.Run(ctx, p.Script())
	if err != nil {
		return Guest{}, fmt.Errorf("read the guest's OS and network owner: %w", err)
	}
	a, err := p.Parse(out)
	if err != nil {
		return Guest{}, fmt.Errorf("the guest's answer: %w", err)
	}
	rel := a.Text(secOS)
	g := Guest{Network: catalog.ParseOwner(a.Text(secOwner))}
	g.Family, _ = catalog.OSFamily(rel)
	v := map[string]string{}
	for _, line := range strings.Split(rel, "\n") {
		if k, val, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			v[k] = strings.Trim(val, `"'`)
		}
	}
	g.OS = v["PRETTY_NAME"]
	if g.OS == "" {
		g.OS = strings.TrimSpace(v["ID"] + " " + v["VERSION_ID"])
	}
	return g, nil
}
