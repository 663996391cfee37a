#!/usr/bin/env bash
# test.sh runs every Go test against real servers: it builds the envtest
# binaries (cached), starts throwaway PostgreSQL and MariaDB, runs each fuzz
# target for a short bounded time, then the whole suite. The last lines it
# prints are go test's own summary. Extra arguments go to that last go test.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh)
export KUBEBUILDER_ASSETS

hack/db-up.sh >/dev/null
# shellcheck disable=SC1091
source bin/db/env
if [ "${CI:-}" = "true" ]; then
  trap 'hack/db-down.sh >/dev/null 2>&1 || true' EXIT
fi

# Fuzz targets: a short run each, so a parser that panics on odd input fails
# CI (make fuzz runs them longer).
FUZZTIME=${FUZZTIME:-10s} hack/fuzz.sh

go test ./... -count=1 -timeout 40m "$@"
