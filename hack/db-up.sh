#!/usr/bin/env bash
# db-up.sh starts throwaway database servers for the tests, each listening on
# 127.0.0.1 on a free TCP port, and writes their URLs to bin/db/env:
#
#   hack/db-up.sh              # PostgreSQL 15 and MariaDB
#   hack/db-up.sh postgres     # only PostgreSQL
#   hack/db-up.sh mariadb      # only MariaDB
#   source bin/db/env          # exports the variables below
#   hack/db-down.sh            # stops them and deletes their data
#
#   KUBE_SHIFT_TEST_POSTGRES_URL=postgres://postgres:<pw>@127.0.0.1:<port>/kube_shift_test?sslmode=disable
#   KUBE_SHIFT_TEST_MYSQL_URL=mysql://root:<pw>@127.0.0.1:<port>/kube_shift_test
#   KUBE_SHIFT_DEV_DATABASE_POSTGRES=postgres://postgres:<pw>@127.0.0.1:<port>/postgres?sslmode=disable
#   KUBE_SHIFT_DEV_DATABASE_MYSQL=mysql://root:<pw>@127.0.0.1:<port>/
#   KUBE_SHIFT_TEST_POSTGRES_CA=<repo>/bin/db/tls/ca.crt
#   KUBE_SHIFT_TEST_MYSQL_CA=<repo>/bin/db/tls/ca.crt
#
# Every server also speaks TLS, with a server certificate for 127.0.0.1 (and
# no host name) signed by a CA of its own: hack/dbcerts writes both into
# bin/db/tls (Go only, no openssl). The *_CA variables name that CA's
# certificate; a server started before it had TLS (reused as it runs) gets
# no such line. Plain connections still work: the URLs above say
# sslmode=disable (PostgreSQL) or nothing (MariaDB, whose default is no TLS),
# and a test asks for verify-ca or verify-full itself.
#
# Each engine gets two servers: the one the tests migrate (the target) and a
# dev server of the same version, where planning replays scripts in scratch
# databases. The operator never replays on a target's server; the manager
# reads the KUBE_SHIFT_DEV_DATABASE_* variables (or --dev-database).
#
# Each server has a superuser with a random password (postgres / root, both
# usable over TCP) and an empty database kube_shift_test. The export lines are
# printed on stdout, progress on stderr. A server that is already running is
# reused. Data lives in bin/db/pg and bin/db/mariadb; when the repository path
# is not reachable by the postgres / mysql users (e.g. under /root) or is too
# long for a unix socket path, that entry is a symlink to a directory in /tmp.
#
# Missing servers are installed with apt-get (PostgreSQL 15, MariaDB), which
# needs root. As root the servers run as the postgres / mysql users.
# Durability is switched off (fsync and friends): the data is disposable.
#
# DB_UP_TIMEOUT  seconds to wait for each server to accept connections (default 90)
# DB_STATE       where the servers live instead of bin/db: a separate set of
#                servers, such as the fault tests' own, which kill them
# DB_UP_DEV      0: start no dev servers (the target servers only)
# DB_DURABLE     1: a commit survives the server's process being killed
#                (synchronous_commit on; InnoDB writes its log at each commit),
#                for the tests that kill it; still not a crash of the machine
set -euo pipefail
cd "$(dirname "$0")/.."

state=$(mkdir -p "${DB_STATE:-bin/db}" && cd "${DB_STATE:-bin/db}" && pwd)
envfile=$state/env
tlsdir=$state/tls
timeout=${DB_UP_TIMEOUT:-90}
dbname=kube_shift_test

say() { echo "db-up: $*" >&2; }
die() { say "$*"; exit 1; }

want_pg=false want_maria=false
case "${1:-all}" in
  all) want_pg=true want_maria=true ;;
  postgres | postgresql | pg) want_pg=true ;;
  mariadb | mysql) want_maria=true ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *) die "unknown argument '$1' (want: postgres, mariadb or nothing for both)" ;;
esac
[ $# -le 1 ] || die "at most one argument"

is_root=false
[ "$(id -u)" = 0 ] && is_root=true

mkdir -p "$state"
# One db-up/db-down at a time; the daemons must not inherit this descriptor
# (they are started with 9>&-), or the lock would be held for their lifetime.
exec 9>"$state/.lock"
flock -w 900 9 || die "timed out waiting for another db-up/db-down ($state/.lock)"

# alive PID [NAME...]: PID is a running (not zombie) process, and if names are
# given its command name is one of them.
alive() {
  local pid=$1 st comm n
  shift
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  st=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
  [[ $st != Z* ]] || return 1
  [ $# -gt 0 ] || return 0
  comm=$(ps -o comm= -p "$pid" 2>/dev/null) || return 1
  for n in "$@"; do [ "$comm" = "$n" ] && return 0; done
  return 1
}

randhex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# port_busy PORT: something accepts connections on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port [PREFERRED]: PREFERRED when nothing listens on it (a restarted
# server keeps its URL), else a port below the usual ephemeral range (32768+)
# that nothing listens on and that the other server has not recorded. A race
# with another program is still possible; the start loops retry on a new port.
free_port() {
  local port i taken
  if [[ ${1:-} =~ ^[0-9]+$ ]] && ! port_busy "$1"; then
    echo "$1"
    return 0
  fi
  taken=" $(cat "$state"/pg/port "$state"/pg-dev/port "$state"/mariadb/port "$state"/mariadb-dev/port 2>/dev/null | tr '\n' ' ') "
  for i in $(seq 200); do
    port=$((20000 + RANDOM % 12000))
    [[ $taken == *" $port "* ]] && continue
    port_busy "$port" && continue
    echo "$port"
    return 0
  done
  die "found no free TCP port"
}

apt_updated=false
apt_install() {
  $is_root || die "$* missing and not root: install it, or run as root to let db-up.sh install it"
  command -v apt-get >/dev/null || die "$* missing and no apt-get to install it"
  export DEBIAN_FRONTEND=noninteractive
  if ! $apt_updated; then
    say "apt-get update"
    apt-get -o DPkg::Lock::Timeout=900 update -qq >&2
    apt_updated=true
  fi
  say "installing $*"
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "$@" >&2
}

# svcdir NAME USER: prints the directory holding NAME's data, creating it.
# bin/db/NAME itself when USER can reach it and the path is short and plain,
# otherwise a symlink bin/db/NAME -> /tmp/kube-shift-db-NAME.XXXXXX.
svcdir() {
  local name=$1 user=$2 link=$state/$1 dir
  if [ -L "$link" ]; then
    dir=$(readlink "$link")
    [ -d "$dir" ] && { echo "$dir"; return 0; }
    rm -f "$link"
  fi
  if [ -d "$link" ]; then
    echo "$link"
    return 0
  fi
  if [ ${#link} -le 70 ] && [[ $link =~ ^[A-Za-z0-9/._+-]+$ ]] &&
    { ! $is_root || runuser -u "$user" -- test -x "$state"; }; then
    mkdir -p "$link"
    dir=$link
  else
    dir=$(mktemp -d "/tmp/kube-shift-db-$name.XXXXXX")
    chmod 755 "$dir"
    ln -s "$dir" "$link"
  fi
  if $is_root; then chown "$user:" "$dir"; fi
  chmod 700 "$dir"
  echo "$dir"
}

# asuser USER CMD...: runs CMD as USER when root, as is otherwise.
asuser() {
  local user=$1
  shift
  if $is_root; then runuser -u "$user" -- "$@"; else "$@"; fi
}

# wait_ready CHECK LAUNCHER: polls CHECK until it succeeds (0), the launcher
# process is gone (1) or the timeout passes (2).
wait_ready() {
  local check=$1 launcher=$2 deadline=$((SECONDS + timeout))
  while [ $SECONDS -lt $deadline ]; do
    "$check" && return 0
    alive "$launcher" || { "$check" && return 0; return 1; }
    sleep 0.2
  done
  return 2
}

# certs: the CA and the server certificate every server presents, written
# once (hack/dbcerts keeps existing files).
certs() {
  [ -f "$tlsdir/ca.crt" ] && [ -f "$tlsdir/server.crt" ] && [ -f "$tlsdir/server.key" ] && return 0
  say "writing a test CA and server certificate into $tlsdir"
  go run ./hack/dbcerts -dir "$tlsdir" -ip 127.0.0.1 >&2 || die "hack/dbcerts failed"
}

# server_tls DIR USER: copies the server certificate and key into DIR/tls,
# owned by USER (the servers refuse a key others may read).
server_tls() {
  certs
  mkdir -p "$1/tls"
  cp -f "$tlsdir/server.crt" "$tlsdir/server.key" "$1/tls/"
  chmod 600 "$1/tls/server.key"
  if $is_root; then chown -R "$2:" "$1/tls"; fi
}

# tls_env DIR VAR: the export line of VAR naming the CA when the server whose
# data is in DIR was started with the certificate the CA signed.
tls_env() {
  [ -f "$tlsdir/ca.crt" ] && cmp -s "$1/tls/server.crt" "$tlsdir/server.crt" || return 0
  echo "export $2='$tlsdir/ca.crt'"
}

# ---------------------------------------------------------------- PostgreSQL

pgbin=
find_pgbin() {
  local d
  for d in "${PG_BINDIR:-}" /usr/lib/postgresql/15/bin; do
    [ -n "$d" ] && [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/psql" ] &&
      [ -x "$d/pg_isready" ] && { pgbin=$d; return 0; }
  done
  return 1
}

pg_pid() { head -n1 "$pgdir/data/postmaster.pid" 2>/dev/null || true; }
pg_ready() { "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pgport" -t 2 >/dev/null 2>&1; }
pg_sql() {
  PGPASSWORD=$(cat "$pgdir/password") PGCONNECT_TIMEOUT=10 \
    "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pgport" -U postgres -d postgres "$@"
}
pg_url() { echo "postgres://postgres:$(cat "$pgdir/password")@127.0.0.1:$pgport/${1:-$dbname}?sslmode=disable"; }

pg_running() {
  [ -f "$pgdir/port" ] && [ -f "$pgdir/initialized" ] || return 1
  alive "$(pg_pid)" postgres || return 1
  pgport=$(cat "$pgdir/port")
  pg_ready
}

pg_init() {
  say "$pgname: initdb in $pgdir"
  find "$pgdir" -mindepth 1 -delete
  mkdir -p "$pgdir/run"
  randhex 16 >"$pgdir/password"
  chmod 600 "$pgdir/password"
  if $is_root; then chown -R postgres: "$pgdir"; fi
  asuser postgres "$pgbin/initdb" -D "$pgdir/data" -U postgres --pwfile="$pgdir/password" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C --no-sync >"$pgdir/initdb.log" 2>&1 ||
    { tail -n 20 "$pgdir/initdb.log" >&2; die "$pgname: initdb failed"; }
}

pg_start() {
  local attempt launcher rc
  server_tls "$pgdir" postgres
  for attempt in 1 2 3; do
    pgport=$(free_port "$(if [ $attempt = 1 ]; then cat "$pgdir/port" 2>/dev/null; fi)")
    say "$pgname: starting on 127.0.0.1:$pgport (log: $pgdir/postgres.log)"
    setsid "${asuser_pg[@]}" "$pgbin/postgres" -D "$pgdir/data" -p "$pgport" -k "$pgdir/run" \
      -c listen_addresses=127.0.0.1 -c max_connections=300 \
      -c ssl=on -c ssl_cert_file="$pgdir/tls/server.crt" -c ssl_key_file="$pgdir/tls/server.key" \
      -c fsync=off -c synchronous_commit="$pg_commit" -c full_page_writes=off \
      -c log_min_messages=warning -c log_min_error_statement=panic \
      </dev/null >>"$pgdir/postgres.log" 2>&1 9>&- &
    launcher=$!
    rc=0
    wait_ready pg_ready "$launcher" || rc=$?
    if [ $rc = 0 ]; then
      echo "$pgport" >"$pgdir/port"
      return 0
    fi
    tail -n 20 "$pgdir/postgres.log" >&2
    if [ $rc = 2 ]; then
      kill "$launcher" 2>/dev/null || true
      die "$pgname: not ready after ${timeout}s"
    fi
    say "$pgname: exited during start (attempt $attempt)"
  done
  die "$pgname: failed to start; hack/db-down.sh wipes its data"
}

pg_up() {
  local t0=$SECONDS
  find_pgbin || { apt_install postgresql-15 && find_pgbin; } ||
    die "$pgname: no PostgreSQL 15 binaries (set PG_BINDIR)"
  pgdir=$(svcdir "$pgname" postgres)
  asuser_pg=()
  if $is_root; then asuser_pg=(runuser -u postgres --); fi
  if pg_running; then
    say "$pgname: already running on 127.0.0.1:$pgport (pid $(pg_pid))"
    return 0
  fi
  if alive "$(pg_pid)" postgres; then
    # Running but not answering on the recorded port (e.g. still starting).
    pgport=$(cat "$pgdir/port" 2>/dev/null || echo 0)
    local n=0
    until pg_ready; do
      n=$((n + 1))
      [ $n -lt $((timeout * 5)) ] || die "$pgname: pid $(pg_pid) runs but does not answer; try hack/db-down.sh"
      sleep 0.2
    done
    [ -f "$pgdir/initialized" ] || die "$pgname: half set up; run hack/db-down.sh first"
    return 0
  fi
  [ -f "$pgdir/initialized" ] || pg_init
  pg_start
  if ! pg_sql -tAc "SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1; then
    pg_sql -c "CREATE DATABASE $dbname"
  fi
  touch "$pgdir/initialized"
  say "$pgname: ready on 127.0.0.1:$pgport in $((SECONDS - t0))s"
}

# ------------------------------------------------------------------- MariaDB

mariadbd=
find_mariadb() {
  local c
  mariadbd=
  for c in mariadbd mysqld; do
    if command -v "$c" >/dev/null; then mariadbd=$(command -v "$c"); break; fi
    [ -x "/usr/sbin/$c" ] && { mariadbd=/usr/sbin/$c; break; }
  done
  [ -n "$mariadbd" ] && command -v mariadb-install-db >/dev/null &&
    command -v mariadb >/dev/null && command -v mariadb-admin >/dev/null
}

my_pid() { cat "$mydir/run/mysqld.pid" 2>/dev/null || true; }
my_sock() { echo "$mydir/run/mysqld.sock"; }
my_ready() {
  mariadb-admin --no-defaults --protocol=tcp -h 127.0.0.1 -P "$myport" -uroot \
    --password="$(cat "$mydir/password")" --connect-timeout=2 ping >/dev/null 2>&1
}
my_sock_ready() {
  mariadb-admin --no-defaults --protocol=socket -S "$(my_sock)" -uroot --connect-timeout=2 \
    ping >/dev/null 2>&1
}
my_url() { echo "mysql://root:$(cat "$mydir/password")@127.0.0.1:$myport/${1-$dbname}"; }

my_running() {
  [ -f "$mydir/port" ] && [ -f "$mydir/initialized" ] || return 1
  alive "$(my_pid)" mariadbd mysqld || return 1
  myport=$(cat "$mydir/port")
  my_ready
}

my_init() {
  say "$myname: mariadb-install-db in $mydir"
  find "$mydir" -mindepth 1 -delete
  mkdir -p "$mydir/data" "$mydir/run"
  randhex 16 >"$mydir/password"
  chmod 600 "$mydir/password"
  local userarg=()
  if $is_root; then
    chown -R mysql: "$mydir"
    userarg=(--user=mysql)
  fi
  mariadb-install-db --no-defaults "${userarg[@]}" --datadir="$mydir/data" \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
    >"$mydir/install-db.log" 2>&1 ||
    { tail -n 20 "$mydir/install-db.log" >&2; die "$myname: mariadb-install-db failed"; }
}

my_start() {
  local attempt launcher rc userarg=()
  if $is_root; then userarg=(--user=mysql); fi
  server_tls "$mydir" mysql
  # Its temporary files in a directory of its own: a test run once lost
  # one in the shared temporary directory (Errcode 2) while other jobs
  # cleaned up.
  mkdir -p "$mydir/tmp"
  if $is_root; then chown mysql: "$mydir/tmp"; fi
  for attempt in 1 2 3; do
    myport=$(free_port "$(if [ $attempt = 1 ]; then cat "$mydir/port" 2>/dev/null; fi)")
    say "$myname: starting on 127.0.0.1:$myport (log: $mydir/mariadbd.log)"
    rm -f "$mydir/run/mysqld.pid"
    setsid "$mariadbd" --no-defaults "${userarg[@]}" --datadir="$mydir/data" \
      --port="$myport" --bind-address=127.0.0.1 --socket="$(my_sock)" \
      --pid-file="$mydir/run/mysqld.pid" --log-error="$mydir/mariadbd.log" \
      --tmpdir="$mydir/tmp" --skip-name-resolve --max-connections=300 \
      --ssl-cert="$mydir/tls/server.crt" --ssl-key="$mydir/tls/server.key" \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
      --innodb-flush-log-at-trx-commit="$my_commit" --innodb-doublewrite=0 \
      </dev/null >>"$mydir/mariadbd.log" 2>&1 9>&- &
    launcher=$!
    rc=0
    if [ -f "$mydir/initialized" ]; then
      wait_ready my_ready "$launcher" || rc=$?
    else
      wait_ready my_sock_ready "$launcher" || rc=$?
    fi
    if [ $rc = 0 ]; then
      echo "$myport" >"$mydir/port"
      return 0
    fi
    tail -n 20 "$mydir/mariadbd.log" >&2
    if [ $rc = 2 ]; then
      kill "$launcher" 2>/dev/null || true
      die "$myname: not ready after ${timeout}s"
    fi
    say "$myname: exited during start (attempt $attempt)"
  done
  die "$myname: failed to start; hack/db-down.sh wipes its data"
}

# my_setup: first start only. Gives root a password, lets it in over TCP and
# creates the test database, through the unix socket (root has no password yet).
my_setup() {
  local pw
  pw=$(cat "$mydir/password")
  mariadb --no-defaults --protocol=socket -S "$(my_sock)" -uroot <<SQL
DELETE FROM mysql.global_priv
  WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost', '127.0.0.1', '%'));
DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '%');
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
CREATE USER IF NOT EXISTS 'root'@'%';
ALTER USER 'root'@'localhost' IDENTIFIED BY '$pw';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$pw';
ALTER USER 'root'@'%' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS $dbname;
FLUSH PRIVILEGES;
SQL
  my_ready || die "$myname: root cannot log in over TCP after setup"
  touch "$mydir/initialized"
}

my_up() {
  local t0=$SECONDS
  find_mariadb || { apt_install mariadb-server mariadb-client && find_mariadb; } ||
    die "$myname: no mariadbd/mysqld, mariadb-install-db, mariadb, mariadb-admin"
  mydir=$(svcdir "$myname" mysql)
  if my_running; then
    say "$myname: already running on 127.0.0.1:$myport (pid $(my_pid))"
    return 0
  fi
  if alive "$(my_pid)" mariadbd mysqld; then
    myport=$(cat "$mydir/port" 2>/dev/null || echo 0)
    [ -f "$mydir/initialized" ] || die "$myname: half set up; run hack/db-down.sh first"
    local n=0
    until my_ready; do
      n=$((n + 1))
      [ $n -lt $((timeout * 5)) ] || die "$myname: pid $(my_pid) runs but does not answer; try hack/db-down.sh"
      sleep 0.2
    done
    return 0
  fi
  [ -f "$mydir/initialized" ] || my_init
  my_start
  [ -f "$mydir/initialized" ] || my_setup
  say "$myname: ready on 127.0.0.1:$myport in $((SECONDS - t0))s"
}

# ----------------------------------------------------------------------------

# pg_env NAME VAR [DB]: the export line of the PostgreSQL server NAME when it
# runs (DB: the database its URL names).
pg_env() {
  pgdir=
  [ -e "$state/$1" ] && find_pgbin || return 0
  pgdir=$(readlink -f "$state/$1")
  pg_running || return 0
  echo "export $2='$(pg_url "${3:-}")'"
  if [ -n "${4:-}" ]; then tls_env "$pgdir" "$4"; fi
}

my_env() {
  mydir=
  [ -e "$state/$1" ] && find_mariadb || return 0
  mydir=$(readlink -f "$state/$1")
  my_running || return 0
  echo "export $2='$(my_url "${3-$dbname}")'"
  if [ -n "${4:-}" ]; then tls_env "$mydir" "$4"; fi
}

dev=${DB_UP_DEV:-1}
pg_commit=off my_commit=0
if [ "${DB_DURABLE:-0}" = 1 ]; then pg_commit=on my_commit=2; fi
if $want_pg; then
  pgname=pg pg_up
  if [ "$dev" != 0 ]; then pgname=pg-dev pg_up; fi
fi
if $want_maria; then
  myname=mariadb my_up
  if [ "$dev" != 0 ]; then myname=mariadb-dev my_up; fi
fi

# The env file lists every server that is up, including one started earlier
# by a call for the other engine only.
{
  pg_env pg KUBE_SHIFT_TEST_POSTGRES_URL "" KUBE_SHIFT_TEST_POSTGRES_CA
  pg_env pg-dev KUBE_SHIFT_DEV_DATABASE_POSTGRES postgres
  my_env mariadb KUBE_SHIFT_TEST_MYSQL_URL "$dbname" KUBE_SHIFT_TEST_MYSQL_CA
  my_env mariadb-dev KUBE_SHIFT_DEV_DATABASE_MYSQL ""
} >"$envfile.tmp"
mv "$envfile.tmp" "$envfile"
cat "$envfile"
say "wrote $envfile (source it); stop with hack/db-down.sh"
