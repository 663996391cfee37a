#!/usr/bin/env bash
# go-install-tool.sh TARGET PACKAGE VERSION
# Builds PACKAGE@VERSION from the Go module proxy into TARGET (a versioned
# name under bin/), so a version bump in the Makefile rebuilds the tool.
set -euo pipefail
target=$1 package=$2 version=$3
[ -x "$target" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "building $package@$version" >&2
GOBIN=$tmp CGO_ENABLED=0 go install "$package@$version"
mkdir -p "$(dirname "$target")"
mv "$tmp/$(basename "${package%/v[0-9]*}")" "$target" 2>/dev/null || mv "$tmp"/* "$target"
