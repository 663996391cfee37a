#!/usr/bin/env bash
# local-down.sh stops what hack/local-up.sh started and removes bin/local
# (kubeconfig, etcd data, certificates, logs):
#
#   hack/local-down.sh             # or: make local-down
#
# Every bin/local/NAME.pid is stopped, NAME.pid other than localcluster.pid
# first (the manager, once local-up starts one), then the control plane: TERM,
# wait, then KILL. A pid is only signalled while its command line still
# contains NAME, so a recycled pid is left alone. Last, any etcd or
# kube-apiserver still using bin/local (left behind when localcluster was
# killed: they run in their own process groups) is stopped too.
set -euo pipefail
cd "$(dirname "$0")/.."

state=bin/local
grace=${LOCAL_DOWN_GRACE:-60}

say() { echo "local-down: $*" >&2; }

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $stat != Z* ]]
}

# wait_gone SECONDS PID...: true once none of the PIDs is alive.
wait_gone() {
  local deadline=$((SECONDS + $1)) p left
  shift
  while :; do
    left=""
    for p in "$@"; do
      if alive "$p"; then left="$left $p"; fi
    done
    [ -z "$left" ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

# stop_pidfile FILE: stop the process named by FILE (TERM, then KILL).
stop_pidfile() {
  local file=$1 name pid args
  name=$(basename "$file" .pid)
  pid=$(cat "$file" 2>/dev/null || true)
  if [ -z "$pid" ] || ! alive "$pid"; then
    return 0
  fi
  args=$(ps -o args= -p "$pid" 2>/dev/null || true)
  if [[ $args != *"$name"* ]]; then
    say "pid $pid in $file is not $name any more; leaving it alone"
    return 0
  fi
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$grace" "$pid"; then
    say "$name did not stop within ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone 5 "$pid" || true
  fi
}

if [ -d "$state" ]; then
  for f in "$state"/*.pid; do
    [ -e "$f" ] || continue
    [ "$(basename "$f")" = localcluster.pid ] && continue
    stop_pidfile "$f"
  done
  if [ -e "$state/localcluster.pid" ]; then
    stop_pidfile "$state/localcluster.pid"
  fi
  # Orphans: an API server or etcd whose command line names this state
  # directory. The API server goes first: stopped together with etcd it
  # waits for etcd until it is killed.
  abs=$PWD/$state
  for flag in "--cert-dir=$abs/certs" "--data-dir=$abs/etcd"; do
    orphans=$(pgrep -f -- "$flag( |\$)" || true)
    [ -n "$orphans" ] || continue
    # shellcheck disable=SC2086
    say "stopping leftover control plane processes:" $orphans
    # shellcheck disable=SC2086
    kill -TERM $orphans 2>/dev/null || true
    # shellcheck disable=SC2086
    if ! wait_gone 20 $orphans; then
      # shellcheck disable=SC2086
      kill -KILL $orphans 2>/dev/null || true
    fi
  done
  rm -rf "$state"
  say "removed $state"
else
  say "nothing to stop ($state does not exist)"
fi
