#!/usr/bin/env bash
# bench-scale.sh measures how the manager copes with many migrations at once:
# BENCH_MIGRATIONS DatabaseMigrations spread over BENCH_DATABASES SQLite
# files, created with one kubectl apply of a generated multi-document YAML.
# It prints, per run:
#
#   admit_s     kubectl apply of them all, through the admission webhooks
#   planned_s   from the moment the manager may reconcile until every one is
#               planned (phase AwaitingApproval): the backlog alone
#   total_s     from kubectl apply until every one is planned, as a user
#               waits (admission and planning overlap)
#   peak_mib    the manager's peak resident memory (VmHWM of its process)
#
#   hack/bench-scale.sh                           # 500 migrations over 50 databases
#   BENCH_CONCURRENCY="4 1" hack/bench-scale.sh   # one pair of runs per value, and their ratio
#
# Each value N in BENCH_CONCURRENCY gives two runs on a fresh local control
# plane (hack/local-up.sh, stopped after with hack/local-down.sh), the
# manager started as local-up starts it, with --max-concurrent-reconciles=N
# and MANAGER_ARGS:
#   - total: the manager reconciles while kubectl apply creates the objects;
#   - backlog: the manager runs with --leader-elect while a Lease the script
#     holds keeps it from reconciling (its webhooks serve regardless), the
#     objects are created, then the script deletes the Lease; the manager
#     takes it within its retry period (2 s) and works off the backlog.
# It refuses to run while a local control plane is up: that one may be
# another run's (make local-down stops it).
#
# BENCH_MIGRATIONS   migrations to create (default 500)
# BENCH_DATABASES    SQLite files they target (default 50)
# BENCH_CONCURRENCY  values of --max-concurrent-reconciles (default 4, the manager's default)
# BENCH_TIMEOUT      seconds to wait for all to be planned (default 900)
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

migrations=${BENCH_MIGRATIONS:-500}
databases=${BENCH_DATABASES:-50}
timeout=${BENCH_TIMEOUT:-900}
state=bin/local
kubeconfig=$PWD/$state/kubeconfig
lease=kube-shift.database.mohitnagaraj.in
lease_ns=bench-lease

say() { echo "bench-scale: $*" >&2; }
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }
# now: seconds since the epoch, with milliseconds.
now() { date +%s.%3N; }
# since T: seconds from T to now, one decimal.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if [ "$migrations" -lt 1 ] || [ "$databases" -lt 1 ]; then
  say "BENCH_MIGRATIONS and BENCH_DATABASES must be at least 1"
  exit 2
fi
if [ -e "$state/localcluster.pid" ] && kill -0 "$(cat "$state/localcluster.pid")" 2>/dev/null; then
  say "a local control plane is already up (bin/local); stop it first with make local-down"
  exit 1
fi

# vm PID FIELD: a memory figure of /proc/PID/status in MiB (VmHWM, VmRSS).
vm() { awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# manifests NAMESPACE DIR: the namespace and the migrations, as one
# multi-document YAML; migration i targets DIR/db-(i mod databases).sqlite.
manifests() {
  local ns=$1 dir=$2 i
  printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$ns"
  for ((i = 0; i < migrations; i++)); do
    cat <<EOF
---
apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: m-$i, namespace: $ns}
spec:
  database: {type: sqlite, database: "$dir/db-$((i % databases)).sqlite"}
  migration:
    scripts:
    - name: create
      type: schema
      source: inline
      sql: "CREATE TABLE t_$i (id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at TEXT); CREATE INDEX t_${i}_name ON t_$i (name);"
EOF
  done
}

# phases NAMESPACE: "COUNT PHASE" lines for the migrations in NAMESPACE.
phases() {
  k get databasemigrations -n "$1" -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' |
    awk '{ n[$0 == "" ? "(none)" : $0]++ } END { for (p in n) print n[p], p }' | sort -k2
}

# wait_planned NAMESPACE PID: until every migration is AwaitingApproval;
# fails on a Failed or Blocked one, a dead manager, or the timeout.
wait_planned() {
  local ns=$1 pid=$2 deadline=$((SECONDS + timeout)) out planned failed
  while :; do
    out=$(phases "$ns")
    planned=$(awk '$2 == "AwaitingApproval" { print $1 }' <<<"$out")
    [ "${planned:-0}" -eq "$migrations" ] && return 0
    failed=$(awk '$2 == "Failed" || $2 == "Blocked" { s += $1 } END { print s + 0 }' <<<"$out")
    if [ "$failed" -gt 0 ]; then
      say "$failed migration(s) failed or were blocked:"
      echo "$out" >&2
      k get databasemigrations -n "$ns" \
        -o jsonpath='{range .items[?(@.status.phase=="Failed")]}{.metadata.name}: {.status.message}{"\n"}{end}' | head -5 >&2
      return 1
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      say "the manager exited; last lines of $state/manager.log:"
      tail -n 20 "$state/manager.log" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "not all planned after ${timeout}s:"
      echo "$out" >&2
      return 1
    fi
    sleep 0.5
  done
}

# free_port: a loopback port nothing answers on now.
free_port() {
  local port
  while :; do
    port=$((30000 + RANDOM % 20000))
    if ! (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# start_manager ARGS...: runs bin/manager as hack/local-up.sh does, with its
# pid in bin/local/manager.pid (so local-down stops it); prints the pid.
start_manager() {
  local probe pid deadline
  # shellcheck disable=SC1091
  source "$state/webhook.env"
  probe=$(free_port)
  mkdir -p "$state/data"
  (cd "$state/data"
    KUBECONFIG=$kubeconfig nohup "$OLDPWD/bin/manager" \
    --webhook-host "$WEBHOOK_HOST" --webhook-port "$WEBHOOK_PORT" --webhook-cert-dir "$WEBHOOK_CERT_DIR" \
    --health-probe-bind-address "127.0.0.1:$probe" --metrics-bind-address 0 "$@" \
    >>../manager.log 2>&1 </dev/null &
    echo $! >../manager.pid)
  pid=$(cat "$state/manager.pid")
  deadline=$((SECONDS + 60))
  until curl -fsS "http://127.0.0.1:$probe/readyz" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      say "the manager did not become ready; last lines of $state/manager.log:"
      tail -n 20 "$state/manager.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "$pid"
}

# run MODE ARGS...: one measurement on a fresh control plane; prints
# "ADMIT_S PLANNED_S TOTAL_S PEAK_MIB" (- where MODE does not measure it).
run() {
  local mode=$1 pid ns=bench dir start admitted admit released planned total
  shift
  hack/local-up.sh >"$dir_log/local-up.log" 2>&1 </dev/null || {
    say "hack/local-up.sh failed:"
    tail -n 20 "$dir_log/local-up.log" >&2
    return 1
  }
  if [ "$mode" = backlog ]; then
    k create namespace "$lease_ns" >/dev/null
    k apply -f - >/dev/null <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: $lease, namespace: $lease_ns}
spec:
  holderIdentity: bench-scale
  leaseDurationSeconds: 3600
  acquireTime: "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)"
  renewTime: "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)"
EOF
    set -- "$@" --leader-elect --leader-election-namespace "$lease_ns"
  fi
  pid=$(start_manager "$@")
  say "[$mode] manager pid $pid ($*): VmRSS $(vm "$pid" VmRSS) MiB before the load"

  dir=$(mktemp -d)
  manifests "$ns" "$dir" >"$dir/manifests.yaml"
  start=$(now)
  k apply -f "$dir/manifests.yaml" >/dev/null
  admit=$(since "$start")
  say "[$mode] kubectl apply of $migrations migrations over $databases databases: $admit s"

  if [ "$mode" = backlog ]; then
    if phases "$ns" | grep -qv '(none)'; then
      say "[$mode] the manager reconciled while the script held its Lease:"
      phases "$ns" >&2
      return 1
    fi
    released=$(now)
    k delete lease "$lease" -n "$lease_ns" >/dev/null
    wait_planned "$ns" "$pid"
    planned=$(since "$released")
    total=-
    say "[$mode] all planned ${planned} s after the Lease was released"
  else
    wait_planned "$ns" "$pid"
    total=$(since "$start")
    planned=-
    say "[$mode] all planned ${total} s after kubectl apply began"
  fi
  say "[$mode] manager peak RSS (VmHWM) $(vm "$pid" VmHWM) MiB"
  echo "$admit $planned $total $(vm "$pid" VmHWM)"
  hack/local-down.sh >/dev/null 2>&1
  rm -rf "$dir"
}

dir_log=$(mktemp -d)
trap 'hack/local-down.sh >/dev/null 2>&1 || true; rm -rf "$dir_log"' EXIT
say "building bin/manager"
CGO_ENABLED=0 go build -trimpath -o bin/manager ./cmd

declare -a rows
for c in ${BENCH_CONCURRENCY:-4}; do
  for mode in total backlog; do
    # shellcheck disable=SC2086
    result=$(LOCAL_MANAGER=0 run "$mode" --max-concurrent-reconciles="$c" ${MANAGER_ARGS:-})
    rows+=("$c $mode $result")
  done
done

echo
echo "$migrations migrations over $databases SQLite databases (seconds; MiB):"
printf '%-12s %-8s %8s %10s %8s %9s\n' concurrency mode admit_s planned_s total_s peak_mib
for r in "${rows[@]}"; do
  # shellcheck disable=SC2086
  printf '%-12s %-8s %8s %10s %8s %9s\n' $r
done
if [ "${#rows[@]}" -gt 2 ]; then
  base=$(awk '$2 == "backlog" { print $4; exit }' < <(printf '%s\n' "${rows[@]}"))
  base_c=$(awk '$2 == "backlog" { print $1; exit }' < <(printf '%s\n' "${rows[@]}"))
  printf '%s\n' "${rows[@]}" | awk -v b="$base" -v bc="$base_c" '$2 == "backlog" && $1 != bc {
    printf "backlog planning with --max-concurrent-reconciles=%s takes %.2fx the time of %s\n", $1, $4 / b, bc }'
fi
