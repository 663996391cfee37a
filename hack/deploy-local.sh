#!/usr/bin/env bash
# deploy-local.sh installs kube-shift on the local control plane the way a
# user installs it on a cluster, and runs what a node would run as local
# processes (the deployed mode; hack/local-up.sh calls it when
# LOCAL_DEPLOYED=1, after starting the API server with
# --enable-aggregator-routing):
#
#   make deploy-local              # or: make local-up DEPLOYED=1
#   export KUBECONFIG=$PWD/bin/local/kubeconfig
#
#  1. cert-manager's CRDs and a ServiceMonitor CRD, from the Go modules that
#     publish them;
#  2. cert-manager's controller and CA injector (hack/certmanager, built into
#     bin/ by hack/certmanager-assets.sh), as processes with the admin
#     kubeconfig, as cert-manager's own pods would run with theirs;
#  3. the install, unchanged, by server-side apply: `kustomize build
#     config/default` (DEPLOY_SOURCE=kustomize, the default), or the Helm
#     chart as `helm template` renders it with its CRDs into the release's
#     namespace (DEPLOY_SOURCE=chart: `make deploy-local CHART=1`), which is
#     created first as `helm install --create-namespace` would; the rendered
#     objects are kept in bin/local/install.yaml, and the namespace and the
#     manager's Deployment are read from them, not assumed;
#  4. hack/podstandin, the kubelet's part for the manager's pod: a token of
#     the Deployment's ServiceAccount, the Secret cert-manager issued written
#     as a mounted volume (and again on rotation), EndpointSlices that point
#     the webhook and metrics Services at this host's address (the API server refuses loopback endpoints);
#  5. the manager with the Deployment container's args and env, as that
#     ServiceAccount. The env values naming the dev-database Services
#     (KUBE_SHIFT_DEV_DATABASE_*) are replaced by those in bin/db/env when
#     hack/db-up.sh wrote it: config/devdb's Deployments cannot run here.
#
# Nothing here writes a caBundle: cainjector does. The Deployments stay at
# zero ready replicas (no kubelet). The manager binds the container's fixed
# ports (webhook 9443, metrics 8443, probes 8081): one deployed control plane
# per machine. State: bin/local/pod/ (token, kubeconfig, volumes,
# container.args, container.env), bin/local/{cert-manager,cainjector,
# podstandin,manager}.{pid,log}, bin/local/install.yaml, and
# bin/local/deployed (SOURCE, NAMESPACE, DEPLOYMENT, SERVICEACCOUNT, MANIFEST).
#
# DEPLOY_SOURCE     kustomize (default) or chart
# DEPLOY_RELEASE    the chart's release name (default kube-shift, which gives
#                   the names config/default gives)
# DEPLOY_NAMESPACE  the chart's release namespace (default kube-shift-system)
set -euo pipefail
cd "$(dirname "$0")/.."

state=bin/local
kubeconfig=$PWD/$state/kubeconfig
timeout=${LOCAL_UP_TIMEOUT:-60}
source=${DEPLOY_SOURCE:-kustomize}
release=${DEPLOY_RELEASE:-kube-shift}
release_ns=${DEPLOY_NAMESPACE:-kube-shift-system}
manifest=$state/install.yaml
servicemonitor_module=github.com/prometheus-operator/prometheus-operator@v0.85.0
kustomize=${KUSTOMIZE:-$(ls bin/kustomize-* 2>/dev/null | head -n1)}
helm=${HELM:-$(ls bin/helm-* 2>/dev/null | head -n1)}

say() { echo "deploy-local: $*" >&2; }
assets=$(hack/envtest-assets.sh)
k() { "$assets/kubectl" --kubeconfig "$kubeconfig" "$@"; }

# start NAME CMD...: run CMD in the background with its log and pid in
# $state/NAME.{log,pid}, unless a live NAME already runs.
start() {
  local name=$1 pid
  shift
  pid=$(cat "$state/$name.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [[ $(ps -o args= -p "$pid") == *"$name"* ]]; then
    say "$name already running (pid $pid)"
    return 0
  fi
  nohup "$@" >"$state/$name.log" 2>&1 </dev/null &
  echo $! >"$state/$name.pid"
  say "started $name (pid $!, log $state/$name.log)"
}

# wait_for WHAT CMD...: retry CMD until it succeeds or $timeout passes.
wait_for() {
  local what=$1 deadline=$((SECONDS + timeout))
  shift
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "timed out waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

case "$source" in
  kustomize)
    if [ -z "$kustomize" ]; then
      make -s kustomize >/dev/null
      kustomize=$(ls bin/kustomize-* | head -n1)
    fi
    ;;
  chart)
    if [ -z "$helm" ]; then
      make -s helm >/dev/null
      helm=$(ls bin/helm-* | head -n1)
    fi
    ;;
  *)
    say "DEPLOY_SOURCE=$source: want kustomize or chart"
    exit 1
    ;;
esac
# One install per control plane: applying the other source's objects on top
# would leave two managers' worth of webhooks and RBAC.
deployed_source=$(sed -n 's/^SOURCE=//p' "$state/deployed" 2>/dev/null || true)
if [ -n "$deployed_source" ] && [ "$deployed_source" != "$source" ]; then
  say "the control plane runs the $deployed_source install; make local-down before deploying the $source one"
  exit 1
fi

say "building cert-manager (cached) and bin/podstandin"
certmanager=$(hack/certmanager-assets.sh)
CGO_ENABLED=0 go build -trimpath -o bin/podstandin ./hack/podstandin

say "installing cert-manager's CRDs and the ServiceMonitor CRD"
k apply --server-side -f "$certmanager/crds" >/dev/null
smdir=$(go mod download -json "$servicemonitor_module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
k apply --server-side -f "$smdir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" >/dev/null
k wait --for=condition=Established --timeout="${timeout}s" crd --all >/dev/null

k create namespace cert-manager --dry-run=client -o yaml | k apply --server-side -f - >/dev/null
start cert-manager "$certmanager/controller" -kubeconfig "$kubeconfig" -cluster-resource-namespace cert-manager
start cainjector "$certmanager/cainjector" -kubeconfig "$kubeconfig"

if [ "$source" = chart ]; then
  say "rendering the chart as release $release in namespace $release_ns (helm template --include-crds)"
  "$helm" template "$release" charts/kube-shift --namespace "$release_ns" --include-crds >"$manifest.tmp"
  k create namespace "$release_ns" --dry-run=client -o yaml | k apply --server-side -f - >/dev/null
else
  say "rendering kustomize build config/default"
  "$kustomize" build config/default >"$manifest.tmp"
fi
mv "$manifest.tmp" "$manifest"
say "applying $manifest (server-side)"
k apply --server-side -f "$manifest" >/dev/null

# The manager's Deployment, as the install names it: the one whose pod has a
# container named manager.
read -r ns deployment sa < <(k get -f "$manifest" -o jsonpath='{range .items[?(@.kind=="Deployment")]}{.metadata.namespace}{" "}{.metadata.name}{" "}{.spec.template.spec.serviceAccountName}{" "}{.spec.template.spec.containers[*].name}{"\n"}{end}' |
  awk '{ for (i = 4; i <= NF; i++) if ($i == "manager") { print $1, $2, $3; exit } }') || true
if [ -z "${deployment:-}" ]; then
  say "$manifest has no Deployment with a container named manager"
  exit 1
fi
say "the manager's Deployment: $ns/$deployment (ServiceAccount $sa)"

say "waiting for cert-manager to issue the serving certificate"
k wait --for=condition=Ready --timeout="${timeout}s" -n "$ns" certificate --all >/dev/null

mkdir -p "$state/pod" "$state/data"
start podstandin bin/podstandin -kubeconfig "$kubeconfig" -namespace "$ns" -deployment "$deployment" \
  -dir "$state/pod" -env-file bin/db/env
wait_for "podstandin (see $state/podstandin.log)" test -f "$state/pod/ready"

say "waiting for cainjector to inject the CA into the webhook configurations"
for kind in validatingwebhookconfiguration mutatingwebhookconfiguration; do
  wait_for "the caBundle of the ${kind}s" bash -c \
    "[ -n \"\$('$assets/kubectl' --kubeconfig '$kubeconfig' get $kind -o jsonpath='{.items[*].webhooks[*].clientConfig.caBundle}')\" ]"
done

# The manager: the container's args and env, as the ServiceAccount.
probe=$(sed -n 's/^--health-probe-bind-address=.*:\([0-9]*\)$/\1/p' "$state/pod/container.args")
echo "${probe:-8081}" >"$state/manager.probe-port"
pid=$(cat "$state/manager.pid" 2>/dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  say "manager already running (pid $pid)"
else
  # The container's ports are this host's: a manager of another deployed
  # control plane (another checkout, say) would hold them.
  ports=$(k get deployment "$deployment" -n "$ns" -o jsonpath='{.spec.template.spec.containers[?(@.name=="manager")].ports[*].containerPort}')
  for port in $ports "${probe:-8081}"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      say "port $port, which the manager's container binds, is in use (another deployed control plane?); see ss -ltnp"
      exit 1
    fi
  done
  say "building bin/manager"
  CGO_ENABLED=0 go build -trimpath -o bin/manager ./cmd
  mapfile -t args <"$state/pod/container.args"
  mapfile -t env <"$state/pod/container.env"
  (cd "$state/data" || exit 1
    # --sqlite-root stands in for the volume a platform team would mount
    # for SQLite files: the demo's and the tests' are temporary files.
    env -i PATH="$PATH" HOME="$HOME" "${env[@]}" nohup "$OLDPWD/bin/manager" "${args[@]}" \
      --sqlite-root "${SQLITE_ROOT:-${TMPDIR:-/tmp}}" \
      >../manager.log 2>&1 </dev/null &
    echo $! >../manager.pid)
  say "started the manager (pid $(cat "$state/manager.pid"), log $state/manager.log)"
fi
wait_for "the manager's readyz (see $state/manager.log)" curl -fsS "http://127.0.0.1:${probe:-8081}/readyz"
printf 'SOURCE=%s\nNAMESPACE=%s\nDEPLOYMENT=%s\nSERVICEACCOUNT=%s\nMANIFEST=%s\n' "$source" "$ns" "$deployment" "$sa" "$manifest" >"$state/deployed"
say "deployed: the manager runs as $("$assets/kubectl" --kubeconfig "$state/pod/kubeconfig" auth whoami -o jsonpath='{.status.userInfo.username}')"
