#!/usr/bin/env bash
# db-down.sh stops the throwaway servers started by hack/db-up.sh (fast
# shutdown) and deletes their data:
#
#   hack/db-down.sh              # both
#   hack/db-down.sh postgres     # only PostgreSQL
#   hack/db-down.sh mariadb      # only MariaDB
#
# Nothing running is fine. bin/db/env keeps the lines of a server left up and
# is removed when none is; the test CA (bin/db/tls) goes with the last server.
#
# DB_DOWN_TIMEOUT  seconds to wait for a server to exit before SIGKILL (default 60)
# DB_STATE         the servers of hack/db-up.sh's DB_STATE instead of bin/db
set -euo pipefail
cd "$(dirname "$0")/.."

state=${DB_STATE:-bin/db}
[ -d "$state" ] && state=$(cd "$state" && pwd)
envfile=$state/env
timeout=${DB_DOWN_TIMEOUT:-60}

say() { echo "db-down: $*" >&2; }

stop_pg=false stop_maria=false
case "${1:-all}" in
  all) stop_pg=true stop_maria=true ;;
  postgres | postgresql | pg) stop_pg=true ;;
  mariadb | mysql) stop_maria=true ;;
  *) say "unknown argument '$1' (want: postgres, mariadb or nothing for both)"; exit 1 ;;
esac

[ -d "$state" ] || exit 0
exec 9>"$state/.lock"
flock -w 900 9 || { say "timed out waiting for another db-up/db-down"; exit 1; }

# alive PID NAME...: PID is a running (not zombie) process named NAME.
alive() {
  local pid=$1 st comm n
  shift
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  st=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
  [[ $st != Z* ]] || return 1
  comm=$(ps -o comm= -p "$pid" 2>/dev/null) || return 1
  for n in "$@"; do [ "$comm" = "$n" ] && return 0; done
  return 1
}

# stop NAME PID SIGNAL PROCNAME...: sends SIGNAL and waits for the exit.
stop() {
  local name=$1 pid=$2 sig=$3 deadline=$((SECONDS + timeout))
  shift 3
  alive "$pid" "$@" || return 0
  say "$name: stopping pid $pid"
  kill -s "$sig" "$pid" 2>/dev/null || true
  while alive "$pid" "$@"; do
    if [ $SECONDS -ge $deadline ]; then
      say "$name: still running after ${timeout}s, killing it"
      kill -s KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.2
  done
}

# wipe NAME: deletes bin/db/NAME and, when it is a symlink, what it points to.
wipe() {
  local link=$state/$1 dir
  if [ -L "$link" ]; then
    dir=$(readlink "$link")
    case "$dir" in
      /tmp/kube-shift-db-"$1".*) rm -rf "$dir" ;;
      *) say "$1: not deleting unexpected symlink target $dir" ;;
    esac
    rm -f "$link"
  elif [ -e "$link" ]; then
    rm -rf "$link"
  fi
}

if $stop_pg; then
  # SIGINT is PostgreSQL's fast shutdown: roll back sessions, then exit.
  for name in pg pg-dev; do
    stop "$name" "$(head -n1 "$state/$name/data/postmaster.pid" 2>/dev/null || true)" INT postgres
    wipe "$name"
  done
  [ ! -f "$envfile" ] || sed -i '/KUBE_SHIFT_TEST_POSTGRES_URL=/d; /KUBE_SHIFT_TEST_POSTGRES_CA=/d; /KUBE_SHIFT_DEV_DATABASE_POSTGRES=/d' "$envfile"
fi
if $stop_maria; then
  for name in mariadb mariadb-dev; do
    stop "$name" "$(cat "$state/$name/run/mysqld.pid" 2>/dev/null || true)" TERM mariadbd mysqld
    wipe "$name"
  done
  [ ! -f "$envfile" ] || sed -i '/KUBE_SHIFT_TEST_MYSQL_URL=/d; /KUBE_SHIFT_TEST_MYSQL_CA=/d; /KUBE_SHIFT_DEV_DATABASE_MYSQL=/d' "$envfile"
fi
if [ -f "$envfile" ] && ! grep -q . "$envfile"; then
  rm -f "$envfile"
fi
left=false
for name in pg pg-dev mariadb mariadb-dev; do
  if [ -e "$state/$name" ] || [ -L "$state/$name" ]; then left=true; fi
done
$left || rm -rf "$state/tls"
say "done"
