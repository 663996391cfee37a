#!/usr/bin/env bash
# test.sh runs every Go test against real servers: it builds the envtest
# binaries (cached), starts throwaway PostgreSQL and MariaDB, runs each fuzz
# target for a short bounded time, then the chart smoke (the Helm chart
# deployed in the local control plane's deployed mode and used as a user
# would: hack/smoke.sh; SMOKE=0 skips it), then the whole suite (whose e2e
# suite deploys config/default the same way). Extra arguments go to the
# whole suite's go test. The last lines it prints are go test's own
# summary.
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

# The benchmark harness is a module of its own (its plotting library
# stays out of the operator's go.mod), outside ./...: its tests run here.
go test -C hack/bench -count=1 ./...

if [ "${SMOKE:-1}" = 1 ]; then
  # The Helm chart, deployed in the deployed mode, smoked as its users use
  # it; before the Go tests, so that their summary is what this prints
  # last. The deployed mode binds fixed ports: one control plane at a
  # time, so whatever is left goes first, and the smoke stops its own.
  hack/local-down.sh >/dev/null 2>&1 || true
  hack/smoke.sh
fi

go test ./... -count=1 -timeout 40m "$@"
