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
# LOCAL_MANAGER     reserved: 1 will also start the manager (not wired yet)
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

usage() {
  echo "local control plane: $(cat "$ready" 2>/dev/null || echo '?')"
  echo "  export KUBECONFIG=$kubeconfig"
  echo "  kubectl get ns"
  echo "stop it with: make local-down (hack/local-down.sh)"
}

if running && [ -f "$ready" ]; then
  say "already running (pid $(cat "$pidfile"))"
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
  nohup bin/localcluster -dir "$PWD/$state" -assets "$assets" -crds config/crd/bases \
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

# Manager hook: with LOCAL_MANAGER=1 a later step starts the manager here, in
# the background against $kubeconfig, with its log in $state/manager.log and
# its pid in $state/manager.pid (hack/local-down.sh stops every $state/*.pid,
# the manager before the control plane).
if [ "${LOCAL_MANAGER:-0}" = 1 ]; then
  say "LOCAL_MANAGER=1: starting the manager is not wired yet; control plane only"
fi

usage
