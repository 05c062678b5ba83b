package topology

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// The rules of the names a lab file gives: the lab's, its nodes', NICs',
// bridges', login's and services', and its image's.
var (
	labNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	// A node name is its hostname: a DNS label, so no '-' at the end.
	nodeNameRe = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,29}[a-z0-9])?$`)
	nicNameRe  = regexp.MustCompile(`^[a-z][a-z0-9]{0,12}[0-9]$`)
	bridgeRe   = regexp.MustCompile(`^[a-zA-Z0-9_.][a-zA-Z0-9_.-]{0,14}$`) // no '-' first: read as an option
	// loginRe is a portable POSIX login name (useradd's own rule, shorter).
	loginRe = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	// A service's name is shown in reports and given to verify --service.
	serviceNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
	// An image name is the name of its folder.
	imageNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
)

// IsLabName says whether name is usable as a lab's name: a lower-case
// letter, then up to 19 lower-case letters, digits or '-' (it prefixes every
// libvirt object and bridge of the lab).
func IsLabName(name string) bool { return labNameRe.MatchString(name) }

// ImageIsPath tells whether a lab's image: value is a path to the user's
// own disk (a slash or a disk file suffix) rather than a built image's name.
func ImageIsPath(image string) bool {
	return strings.ContainsRune(image, '/') ||
		strings.HasSuffix(image, ".qcow2") || strings.HasSuffix(image, ".img") ||
		strings.HasSuffix(image, ".raw")
}

// CheckImage refuses an image: value that up could not use: a name that is
// no plain folder name, or a path with control characters.
func CheckImage(image string) error {
	if ImageIsPath(image) {
		if strings.ContainsFunc(image, unicode.IsControl) {
			return fmt.Errorf("image path %q holds control characters: give the path of a qcow2 or raw disk file", image)
		}
		return nil
	}
	return CheckImageName(image)
}

// CheckImageName refuses an image name that would not make a plain folder
// name (images live in a folder of that name).
func CheckImageName(name string) error {
	if !imageNameRe.MatchString(name) {
		return fmt.Errorf("invalid image name %q: use lower-case letters, digits, '.', '_' and '-' (for example %q)", name, DefaultImage)
	}
	return nil
}
