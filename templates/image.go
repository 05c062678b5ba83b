package templates

import "embed"

// Image holds the guest-side files baked into lab images by provision/image:
// the first-boot seed unit and the script it runs.
//
//go:embed image
var Image embed.FS
