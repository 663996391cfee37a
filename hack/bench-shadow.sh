#!/usr/bin/env bash
# bench-shadow.sh measures the shadow-table strategy on a 1,000,000-row
# table against the database's own ALTER TABLE, on PostgreSQL and MariaDB,
# with the Go benchmarks of internal/shadow (BenchmarkShadowVsAlter and
# BenchmarkShadowUnderWriter), and prints two tables:
#
#   no writer     per run: the plain ALTER TABLE's time, the shadow-table
#                 change's time, their ratio (measured one after the other
#                 in the same iteration, on the same freshly loaded data),
#                 the shadow change's longest lock
#   with writer   per run, while the application writes 200 statements a
#                 second (inserts, updates of random rows): rows inserted
#                 and rows found in the changed table, the writer's worst
#                 stall under the shadow change and under a plain ALTER
#                 TABLE, the shadow change's longest lock and its cut-over
#                 attempts, and the statements the server rolled back
#                 (InnoDB deadlocks with the copy) that the writer retried
#
#   hack/db-up.sh && source bin/db/env     # the test servers
#   hack/bench-shadow.sh                   # 3 runs of each
#   BENCH_COUNT=1 hack/bench-shadow.sh
#
# BENCH_COUNT  runs of each benchmark (default 3); each run loads the table
#              four times, about a minute per engine on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."

count=${BENCH_COUNT:-3}
for v in KUBE_SHIFT_TEST_POSTGRES_URL KUBE_SHIFT_TEST_MYSQL_URL; do
  if [ -z "${!v:-}" ]; then
    echo "bench-shadow: $v is not set: hack/db-up.sh && source bin/db/env" >&2
    exit 2
  fi
done

out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test ./internal/shadow -run '^$' -bench 'Shadow(VsAlter|UnderWriter)' \
  -benchtime=1x -count="$count" -timeout 120m | tee "$out" >&2

# metric NAME: the value before unit NAME on a benchmark line.
awk '
function metric(name,   i) { for (i = 4; i < NF; i++) if ($(i+1) == name) return $i; return "-" }
/^BenchmarkShadowVsAlter\// {
  split($1, p, "[/-]"); e = p[2]
  alter[++na] = sprintf("%-9s %10.0f %10.0f %7.2f %12.1f", e, metric("alter-ms"), metric("shadow-ms"), metric("ratio"), metric("max-lock-ms"))
}
/^BenchmarkShadowUnderWriter\// {
  split($1, p, "[/-]"); e = p[2]
  writer[++nw] = sprintf("%-9s %8d %8d %14.1f %14.1f %12.1f %9d %8d", e, metric("rows-written"), metric("rows-kept"),
    metric("writer-max-stall-ms"), metric("alter-writer-max-stall-ms"), metric("max-lock-ms"), metric("cut-over-attempts"), metric("writer-retries"))
}
END {
  print "no writer"
  printf "%-9s %10s %10s %7s %12s\n", "engine", "alter ms", "shadow ms", "ratio", "max lock ms"
  for (i = 1; i <= na; i++) print alter[i]
  print ""
  print "with a writer at 200 statements/s"
  printf "%-9s %8s %8s %14s %14s %12s %9s %8s\n", "engine", "written", "kept", "stall ms", "ALTER stall", "max lock ms", "attempts", "retries"
  for (i = 1; i <= nw; i++) print writer[i]
}' "$out"
