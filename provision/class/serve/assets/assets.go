// Package assets holds the class server's pages and front-end, embedded so
// that the binary needs no network: html/template pages, the pages' own
// script and style (web/), and xterm.js with its fit addon from the npm
// registry, pinned in vendor/package.json and package-lock.json ("make
// assets" refreshes them from the lock).
package assets

import (
	"embed"
	"io/fs"
)

//go:embed *.html
var Pages embed.FS

//go:embed web vendor/xterm.js vendor/xterm.css vendor/addon-fit.js
var static embed.FS

// Static is served under /assets/: web/... and vendor/...
var Static fs.FS = static
