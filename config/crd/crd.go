// Package crd carries the generated CustomResourceDefinitions (bases/, made
// by `make manifests`) into the binaries that check manifests against them
// offline, so kubectl-shift lint applies the schema of its own version
// wherever it is installed.
package crd

import "embed"

// Bases holds bases/*.yaml, one CustomResourceDefinition per file.
//
//go:embed bases/*.yaml
var Bases embed.FS
