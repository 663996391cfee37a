#!/usr/bin/env bash
# certmanager-assets.sh builds cert-manager's controller and CA injector
# (hack/certmanager, a module of its own pinned to a cert-manager release)
# and prints the directory holding them, as an absolute path, on stdout;
# everything else goes to stderr:
#
#   CERT_MANAGER=$(hack/certmanager-assets.sh)
#   "$CERT_MANAGER/controller" -kubeconfig ...
#
# The result is cached in bin/cert-manager/<version>-<sources>-<goos>-<goarch>/,
# <sources> a digest of hack/certmanager, so a version bump or an edit of
# the commands builds again and anything else only prints the path. The
# directory also holds crds/, the CRDs of that cert-manager release.
set -euo pipefail
cd "$(dirname "$0")/.."

src=hack/certmanager
version=$(awk '$1 == "require" && $2 == "github.com/cert-manager/cert-manager" {print $3} $1 == "github.com/cert-manager/cert-manager" {print $2}' "$src/go.mod" | head -n1)
[ -n "$version" ] || { echo "certmanager-assets: no cert-manager version in $src/go.mod" >&2; exit 1; }
digest=$(cd "$src" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)
assets="$PWD/bin/cert-manager/${version}-${digest}-$(go env GOOS)-$(go env GOARCH)"

have_all() { [ -x "$assets/controller" ] && [ -x "$assets/cainjector" ] && [ -d "$assets/crds" ]; }
if have_all; then
  echo "$assets"
  exit 0
fi

mkdir -p "$assets"
exec 9>"$assets/.lock"
if ! flock -n 9; then
  echo "certmanager-assets: another build of $assets is running; waiting for it" >&2
  flock 9
fi
if ! have_all; then
  echo "certmanager-assets: building cert-manager $version controller and cainjector into $assets" >&2
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$assets/controller" ./controller &&
    CGO_ENABLED=0 go build -trimpath -o "$assets/cainjector" ./cainjector)
  moddir=$(cd "$src" && go list -m -f '{{.Dir}}' github.com/cert-manager/cert-manager)
  rm -rf "$assets/crds.tmp"
  mkdir -p "$assets/crds.tmp"
  cp "$moddir"/deploy/crds/*.yaml "$assets/crds.tmp/"
  chmod -R u+w "$assets/crds.tmp"
  mv "$assets/crds.tmp" "$assets/crds"
fi
echo "$assets"
