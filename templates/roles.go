package templates

import "embed"

// Roles holds the text templates of the guest files that package roles
// writes while configuring a node (systemd-networkd files, sysctl.d, the
// IPVS boot unit, web server ports, ...).
//
//go:embed roles
var Roles embed.FS
