package templates

import "embed"

// Seed holds lvslab-init.sh, the text/template of the script that lvslab's
// images run from the NoCloud seed volume ("cidata") at every boot. The
// volume's cloud-init documents (meta-data, user-data, network-config) are
// marshalled as YAML by provision, not templated, so every value is quoted.
//
//go:embed seed
var Seed embed.FS
