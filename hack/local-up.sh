#!/usr/bin/env bash
# local-up.sh starts a local control plane (etcd + kube-apiserver, no nodes)
# in the background and waits until it serves:
#
#   hack/local-up.sh               # or: make local-up
#   export KUBECONFIG=$PWD/bin/local/kubeconfig
#   hack/local-down.sh             # or: make local-down
#
# It builds bin/localcluster (hack/localcluster) and the envtest binaries
# (hack/envtest-assets.sh, cached), installs the CRDs in config/crd/bases,
# and keeps its state in bin/local/: kubeconfig, ready, localcluster.pid,
# localcluster.log, kube-apiserver.log, etcd.log, etcd/, certs/.
# Running it again while the control plane is up only says so; a bin/local
# left by a control plane that is no longer running is cleared first.
#
# LOCAL_UP_TIMEOUT  seconds to wait for the control plane (default 60)
# LOCAL_MANAGER     1 (default) also runs the manager with its webhook server
#                   as a local process; 0 starts the control plane only
# LOCAL_DEPLOYED    1: the deployed mode (hack/deploy-local.sh): cert-manager,
#                   config/default applied unchanged (or, with
#                   DEPLOY_SOURCE=chart, the Helm chart as helm template
#                   renders it), the manager as its Deployment's pod would
#                   run; the API server is started with
#                   --enable-aggregator-routing and neither the CRDs nor the
#                   webhooks are installed by the control plane itself
set -euo pipefail
cd "$(dirname "$0")/.."

state=bin/local
pidfile=$state/localcluster.pid
ready=$state/ready
log=$state/localcluster.log
kubeconfig=$PWD/$state/kubeconfig
timeout=${LOCAL_UP_TIMEOUT:-60}

say() { echo "local-up: $*" >&2; }

# running: the pid in $pidfile is a live localcluster process (not a zombie).
running() {
  local pid out
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] || return 1
  out=$(ps -o stat=,args= -p "$pid" 2>/dev/null) || return 1
  [[ $out != Z* && $out == *localcluster* ]]
}

# running_pid FILE NAME: the pid in FILE is alive and its command names NAME.
running_pid() {
  local pid args
  [ -f "$1" ] || return 1
  pid=$(cat "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
  [[ $args == *"$2"* ]]
}

# free_port: a TCP port on loopback nobody listens on now.
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

usage() {
  echo "local control plane: $(cat "$ready" 2>/dev/null || echo '?')"
  echo "  export KUBECONFIG=$kubeconfig"
  echo "  kubectl get ns"
  echo "stop it with: make local-down (hack/local-down.sh)"
}

if running && [ -f "$ready" ]; then
  say "already running (pid $(cat "$pidfile"))"
  if [ "${LOCAL_DEPLOYED:-0}" = 1 ]; then
    hack/deploy-local.sh
  fi
  usage
  exit 0
fi
if running; then
  say "already starting (pid $(cat "$pidfile")); waiting for it"
else
  if [ -d "$state" ]; then
    # Left over from a control plane that died or was killed: its etcd and
    # kube-apiserver may still hold the data directory and ports.
    say "clearing stale $state"
    hack/local-down.sh
  fi
  say "building bin/localcluster"
  CGO_ENABLED=0 go build -trimpath -o bin/localcluster ./hack/localcluster
  assets=$(hack/envtest-assets.sh)
  mkdir -p "$state"
  rm -f "$ready"
  say "starting the control plane (log: $log)"
  if [ "${LOCAL_DEPLOYED:-0}" = 1 ]; then
    cluster_args=(-aggregator-routing -crds "" -webhooks "")
  else
    cluster_args=(-crds config/crd/bases)
  fi
  nohup bin/localcluster -dir "$PWD/$state" -assets "$assets" "${cluster_args[@]}" \
    >"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
fi

deadline=$((SECONDS + timeout))
until [ -f "$ready" ]; do
  if ! running; then
    say "the control plane exited; last lines of $log:"
    tail -n 30 "$log" >&2 || true
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    say "not ready after ${timeout}s; last lines of $log:"
    tail -n 30 "$log" >&2 || true
    hack/local-down.sh >&2 || true
    exit 1
  fi
  sleep 0.5
done

assets=${assets:-$(hack/envtest-assets.sh)}
if ! "$assets/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null; then
  say "the API server does not report ready (kubectl get --raw /readyz failed)"
  exit 1
fi

# The manager: a local process serving the webhooks the control plane
# registered (bin/local/webhook.env), with its log in $state/manager.log and
# its pid in $state/manager.pid. SQLite files must be under SQLITE_ROOT
# (default: the temporary directory), relative paths resolving there.
# local-down stops it before the control plane.
if [ "${LOCAL_DEPLOYED:-0}" = 1 ]; then
  hack/deploy-local.sh
elif [ "${LOCAL_MANAGER:-1}" = 1 ]; then
  if running_pid "$state/manager.pid" manager; then
    say "manager already running (pid $(cat "$state/manager.pid"))"
  else
    say "building bin/manager"
    CGO_ENABLED=0 go build -trimpath -o bin/manager ./cmd
    # shellcheck disable=SC1091
    source "$state/webhook.env"
    # The dev-database servers hack/db-up.sh started, if any: PostgreSQL and
    # MySQL migrations plan there (SQLite replays in memory, confined).
    if [ -f bin/db/env ]; then
      # shellcheck disable=SC1091
      source bin/db/env
    fi
    probe_port=$(free_port)
    mkdir -p "$state/data"
    echo "$probe_port" >"$state/manager.probe-port"
    say "starting the manager (log: $state/manager.log)"
    (cd "$state/data" || exit 1
      KUBECONFIG=$kubeconfig nohup "$OLDPWD/bin/manager" \
      --webhook-host "$WEBHOOK_HOST" --webhook-port "$WEBHOOK_PORT" --webhook-cert-dir "$WEBHOOK_CERT_DIR" \
      --health-probe-bind-address "127.0.0.1:$probe_port" --metrics-bind-address 0 \
      --sqlite-root "${SQLITE_ROOT:-${TMPDIR:-/tmp}}" \
      ${MANAGER_ARGS:-} >"../manager.log" 2>&1 </dev/null &
      echo $! >"../manager.pid")
    deadline=$((SECONDS + timeout))
    until curl -fsS "http://127.0.0.1:$probe_port/readyz" >/dev/null 2>&1; do
      if ! running_pid "$state/manager.pid" manager; then
        say "the manager exited; last lines of $state/manager.log:"
        tail -n 30 "$state/manager.log" >&2 || true
        exit 1
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        say "the manager is not ready after ${timeout}s; last lines of $state/manager.log:"
        tail -n 30 "$state/manager.log" >&2 || true
        exit 1
      fi
      sleep 0.5
    done
    say "manager ready: webhooks at https://$WEBHOOK_HOST:$WEBHOOK_PORT"
  fi
fi

usage
