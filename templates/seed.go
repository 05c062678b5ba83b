package templates

import "embed"

// Seed holds the text/templates of the NoCloud seed volume ("cidata") that
// provision writes for every node: meta-data, user-data and network-config for
// images that run cloud-init, and lvslab-init.sh for lvslab's own images,
// whose lvslab-seed service runs it at every boot.
//
//go:embed seed
var Seed embed.FS
