#!/usr/bin/env bash
# verify-generated.sh regenerates deepcopy code, CRDs (and the chart's copy
# of them), RBAC and webhook manifests and the API reference and fails when
# they differ from what is in the tree, so a type
# edited without `make generate manifests` cannot pass `make test`; and it
# fails when go.mod or go.sum is not what `go mod tidy` would write. It puts
# the tree back as it found it either way.
set -euo pipefail
cd "$(dirname "$0")/.."

generated=(api config/crd/bases charts/kube-shift/crds config/rbac/role.yaml config/webhook/manifests.yaml docs/api-reference.md)
snapshot=$(mktemp -d)
trap 'rm -rf "$snapshot"' EXIT
for path in "${generated[@]}"; do
  if [ -e "$path" ]; then
    mkdir -p "$snapshot/$(dirname "$path")"
    cp -a "$path" "$snapshot/$path"
  fi
done

make -s generate manifests >/dev/null

stale=$(for path in "${generated[@]}"; do
  if [ -e "$path" ] || [ -e "$snapshot/$path" ]; then
    diff -ru "$snapshot/$path" "$path" 2>&1 || true
  fi
done)

for path in "${generated[@]}"; do
  rm -rf "$path"
  if [ -e "$snapshot/$path" ]; then cp -a "$snapshot/$path" "$path"; fi
done

if [ -n "$stale" ]; then
  echo "$stale" | head -60 >&2
  echo "generated files are stale: run 'make generate manifests' and commit the result" >&2
  exit 1
fi
echo "generated files are up to date"

# go.mod lists what the code imports, direct requirements as direct.
if ! tidy=$(go mod tidy -diff 2>&1); then
  echo "$tidy" | head -60 >&2
  echo "go.mod or go.sum is not tidy: run 'go mod tidy' and commit the result" >&2
  exit 1
fi
echo "go.mod and go.sum are tidy"
