#!/usr/bin/env bash
# e2e-kind.sh runs the e2e suite against a kind cluster, the way kube-shift
# is deployed for real: the manager image loaded into kind, cert-manager
# issuing the webhook certificate, config/default applied. It needs docker
# (or podman) and kind on PATH, and a PostgreSQL the cluster can reach for
# the PostgreSQL scenario (KUBE_SHIFT_TEST_POSTGRES_URL, as hack/db-up.sh
# writes it; point it at an address reachable from the kind nodes).
#
#   KIND_CLUSTER       cluster name (default kube-shift-e2e)
#   CERT_MANAGER_VERSION  cert-manager release to install (default v1.21.2)
#   KEEP_CLUSTER=1     leave the cluster up afterwards
set -euo pipefail
cd "$(dirname "$0")/.."

cluster=${KIND_CLUSTER:-kube-shift-e2e}
cert_manager=${CERT_MANAGER_VERSION:-v1.21.2}
img=kube-shift:e2e

for tool in kind docker kubectl; do
  command -v "$tool" >/dev/null || { echo "e2e-kind: $tool is required" >&2; exit 1; }
done

if ! kind get clusters | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --wait 120s
fi
kubeconfig=$(mktemp)
kind get kubeconfig --name "$cluster" >"$kubeconfig"
export KUBECONFIG=$kubeconfig
if [ "${KEEP_CLUSTER:-0}" != 1 ]; then
  trap 'kind delete cluster --name "$cluster"; rm -f "$kubeconfig"' EXIT
fi

kubectl apply -f "https://github.com/cert-manager/cert-manager/releases/download/$cert_manager/cert-manager.yaml"
kubectl -n cert-manager rollout status deploy/cert-manager-webhook --timeout=180s

make docker-build IMG="$img"
kind load docker-image "$img" --name "$cluster"
make deploy IMG="$img"
kubectl -n kube-shift-system rollout status deploy/kube-shift-controller-manager --timeout=180s

E2E_KUBECONFIG=$kubeconfig go test ./e2e/... -count=1 -v -timeout 30m
