#!/usr/bin/env bash
# smoke.sh shows an install working as its users meet it, on the local
# control plane's deployed mode (hack/deploy-local.sh):
#
#   make deploy-local CHART=1 && hack/smoke.sh   # the running install, left running
#   hack/smoke.sh                                # none running: deploys the Helm
#                                                # chart for the smoke, stops it after
#
#  1. every webhook of the install's webhook configurations is reached
#     through its Service (no url), with the caBundle cainjector injected:
#     the CA of the serving certificate's Secret;
#  2. the manager's kubeconfig authenticates as the Deployment's
#     ServiceAccount (kubectl auth whoami);
#  3. a destructive DatabaseMigration is denied at admission;
#  4. a safe SQLite migration, created by a user holding the install's
#     editor role from a script in a tracked ConfigMap (stamped with its
#     writer, its label kept), is planned, approved with kubectl shift
#     approve by a user holding its approver role, and applied: the table
#     is in the file.
#
# Names (namespace, Deployment, ServiceAccount, webhook configurations,
# roles) are read from the objects the install applied (bin/local/deployed,
# bin/local/install.yaml), never assumed. Each check prints one "smoke:"
# line; the first failure stops the smoke with a non-zero exit.
#
# SMOKE_RELEASE    release name when the smoke deploys the chart (default smoke,
#                  so every name differs from config/default's)
# SMOKE_NAMESPACE  its namespace (default kube-shift-smoke)
# SMOKE_TIMEOUT    seconds to wait for each phase (default 120)
set -euo pipefail
cd "$(dirname "$0")/.."

state=bin/local
kubeconfig=$PWD/$state/kubeconfig
timeout=${SMOKE_TIMEOUT:-120}

say() { echo "smoke: $*"; }
die() {
  echo "smoke: FAILED: $*" >&2
  exit 1
}

started=false
appns=
workdir=
cleanup() {
  if [ -n "$appns" ] && ! $started; then
    k delete namespace "$appns" --wait=false >/dev/null 2>&1 || true
  fi
  if $started; then
    hack/local-down.sh >/dev/null 2>&1 || echo "smoke: hack/local-down.sh failed" >&2
  fi
  if [ -n "$workdir" ]; then rm -rf "$workdir"; fi
}
trap cleanup EXIT

if [ ! -f "$state/deployed" ]; then
  if [ -f "$state/ready" ]; then
    die "a local control plane runs, not in the deployed mode: make local-down first"
  fi
  echo "smoke: no deployed install: deploying the chart (release ${SMOKE_RELEASE:-smoke}, namespace ${SMOKE_NAMESPACE:-kube-shift-smoke})" >&2
  started=true
  LOCAL_DEPLOYED=1 DEPLOY_SOURCE=chart DEPLOY_RELEASE=${SMOKE_RELEASE:-smoke} DEPLOY_NAMESPACE=${SMOKE_NAMESPACE:-kube-shift-smoke} \
    hack/local-up.sh >&2
fi

assets=$(hack/envtest-assets.sh)
k() { "$assets/kubectl" --kubeconfig "$kubeconfig" "$@"; }
deployed() { sed -n "s/^$1=//p" "$state/deployed"; }
source=$(deployed SOURCE)
ns=$(deployed NAMESPACE)
deployment=$(deployed DEPLOYMENT)
sa=$(deployed SERVICEACCOUNT)
manifest=$(deployed MANIFEST)
[ -n "$ns" ] && [ -n "$deployment" ] && [ -n "$sa" ] && [ -f "$manifest" ] ||
  die "$state/deployed does not describe a deployed install (make local-down, then deploy again)"
say "the $source install: Deployment $ns/$deployment, ServiceAccount $sa"

# installed KIND SUFFIX: the names of the install's objects of KIND (as
# kubectl -o name prints it) ending in SUFFIX.
installed() {
  k get -f "$manifest" -o name | sed -n "s|^$1/\(.*$2\)$|\1|p"
}

# 1. Webhooks: through the Service, with the CA cainjector injected.
for kind in validatingwebhookconfiguration mutatingwebhookconfiguration; do
  configs=$(installed "$kind.admissionregistration.k8s.io" "")
  [ -n "$configs" ] || die "the install has no ${kind}"
  for config in $configs; do
    cert=$(k get "$kind" "$config" -o jsonpath='{.metadata.annotations.cert-manager\.io/inject-ca-from}')
    [ -n "$cert" ] || die "$kind $config has no cert-manager.io/inject-ca-from annotation"
    secret=$(k get certificate -n "${cert%%/*}" "${cert#*/}" -o jsonpath='{.spec.secretName}')
    ca=$(k get secret -n "${cert%%/*}" "$secret" -o jsonpath='{.data.ca\.crt}')
    [ -n "$ca" ] || die "Secret ${cert%%/*}/$secret of Certificate $cert has no ca.crt"
    n=0
    services=
    while IFS='|' read -r name service url bundle; do
      [ -n "$name" ] || continue
      [ -z "$url" ] || die "webhook $name of $config is called at a url, not through a Service"
      [ "$service" != / ] || die "webhook $name of $config names no Service"
      [ "${service%%/*}" = "$ns" ] || die "webhook $name of $config goes to Service $service, outside $ns"
      [ "$bundle" = "$ca" ] || die "webhook $name of $config: its caBundle is not the CA of Secret $secret (cainjector injected nothing, or another CA)"
      n=$((n + 1))
      services="$service"
    done < <(k get "$kind" "$config" -o jsonpath='{range .webhooks[*]}{.name}{"|"}{.clientConfig.service.namespace}{"/"}{.clientConfig.service.name}{"|"}{.clientConfig.url}{"|"}{.clientConfig.caBundle}{"\n"}{end}')
    [ "$n" -gt 0 ] || die "$kind $config has no webhooks"
    say "$config: $n webhook(s) through Service $services, caBundle injected from Certificate $cert"
  done
done

# 2. The manager authenticates as the ServiceAccount.
who=$(k --kubeconfig "$state/pod/kubeconfig" auth whoami -o jsonpath='{.status.userInfo.username}')
[ "$who" = "system:serviceaccount:$ns:$sa" ] || die "the manager's kubeconfig authenticates as $who, not system:serviceaccount:$ns:$sa"
say "the manager runs as $who"

# Two users of the install's own roles, in a namespace of their own.
editor=$(installed clusterrole.rbac.authorization.k8s.io -databasemigration-editor-role)
approver=$(installed clusterrole.rbac.authorization.k8s.io -databasemigration-approver-role)
[ -n "$editor" ] && [ -n "$approver" ] || die "the install has no databasemigration editor and approver ClusterRoles"
appns=smoke-$(date +%s)
k create namespace "$appns" >/dev/null
k create rolebinding smoke-developer -n "$appns" --clusterrole="$editor" --user=smoke-developer >/dev/null
k create rolebinding smoke-reviewer -n "$appns" --clusterrole="$approver" --user=smoke-reviewer >/dev/null
workdir=$(mktemp -d "${SQLITE_ROOT:-${TMPDIR:-/tmp}}/kube-shift-smoke.XXXXXX")
db=$workdir/shop.db

# migration NAME SQL [SOURCE]: a migration of one script, inline or from
# SOURCE.
migration() {
  local script="source: inline, sql: \"$2\""
  [ -z "${3:-}" ] || script="source: \"$3\""
  cat <<EOF
apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: $1, namespace: $appns}
spec:
  database: {type: sqlite, database: "$db"}
  migration:
    scripts:
    - {name: $1, type: schema, $script}
EOF
}

# 3. A destructive change is denied at admission, by the validating webhook:
# the API server's own answer says which (kubectl -v=8 logs it whole; the
# summary kubectl prints does not name the webhook).
# A call the API server could not make (the webhook's certificate issued
# again since the manager started: cert-manager issues it, cainjector
# injects it, podstandin rewrites the manager's files, the manager reloads
# them, each in its own time) is tried again, for a minute.
for try in $(seq 30); do
  if out=$(migration drop-widgets "DROP TABLE widgets;" | k --as=smoke-developer create -f - -v=8 2>&1); then
    die "a DROP TABLE migration was admitted"
  fi
  grep -q 'failed calling webhook' <<<"$out" || break
  say "the API server could not call the webhooks yet (try $try): $(tail -n1 <<<"$out" | cut -c1-200)"
  sleep 2
done
denial=$(sed -n 's/.*"message":"\(admission webhook .*\)","reason".*/\1/p' <<<"$out" | sed 's/\\"/"/g' | head -n1)
[[ $denial == 'admission webhook "vdatabasemigration-v1alpha1.kb.io" denied the request: '*"destructive statements are refused"* ]] ||
  die "the DROP TABLE migration was refused, but not as destructive by the validating webhook: $(tail -n1 <<<"$out")"
say "denied: $denial"

# 4. A safe change, its script in a tracked ConfigMap the developer writes:
# the install's source webhooks stamp who wrote it and keep its label.
k create role smoke-scripts -n "$appns" --verb=get,create,update,patch --resource=configmaps >/dev/null
k create rolebinding smoke-scripts -n "$appns" --role=smoke-scripts --user=smoke-developer >/dev/null
k --as=smoke-developer create -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: widgets-sql
  namespace: $appns
  labels: {database.mohitnagaraj.in/tracked-source: "true"}
data:
  001.sql: "CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
EOF
writer=$(k get configmap widgets-sql -n "$appns" -o jsonpath='{.metadata.annotations.database\.mohitnagaraj\.in/created-by}')
[ "$writer" = smoke-developer ] || die "the tracked ConfigMap was stamped created-by '$writer', not smoke-developer"
if out=$(k --as=smoke-developer label configmap widgets-sql -n "$appns" database.mohitnagaraj.in/tracked-source- -v=8 2>&1); then
  die "the tracked-source label was removed"
fi
grep -q 'admission webhook \\"vtrackedsource-v1.kb.io\\" denied the request: .*cannot be removed' <<<"$out" ||
  die "the label's removal was refused, but not by the source webhook: $(tail -n1 <<<"$out")"
say "tracked source: ConfigMap widgets-sql created by $writer; its label cannot be removed"

# Planned, approved by another user, applied.
migration add-widgets "" configmap://widgets-sql/001.sql | k --as=smoke-developer apply -f - >/dev/null

# wait_phase PHASE: waits until add-widgets is in PHASE; a Failed or Blocked
# migration stops the smoke with its message.
wait_phase() {
  local deadline=$((SECONDS + timeout)) phase
  while :; do
    phase=$(k get databasemigration add-widgets -n "$appns" -o jsonpath='{.status.phase}')
    [ "$phase" = "$1" ] && return 0
    case "$phase" in
      Failed | Blocked) die "add-widgets is $phase: $(k get databasemigration add-widgets -n "$appns" -o jsonpath='{.status.message}')" ;;
    esac
    [ "$SECONDS" -lt "$deadline" ] || die "add-widgets is not $1 after ${timeout}s (phase: ${phase:-none}); see $state/manager.log"
    sleep 1
  done
}
wait_phase AwaitingApproval
creator=$(k get databasemigration add-widgets -n "$appns" -o jsonpath='{.metadata.annotations.database\.mohitnagaraj\.in/created-by}')
[ "$creator" = smoke-developer ] || die "add-widgets was stamped created-by '$creator', not smoke-developer"
say "planned: $(k get databasemigration add-widgets -n "$appns" -o jsonpath='{.status.plan.hash} {.status.plan.statements[*]}') (created by $creator)"

CGO_ENABLED=0 go build -trimpath -o bin/kubectl-shift ./cmd/kubectl-shift
bin/kubectl-shift approve add-widgets --yes -n "$appns" --kubeconfig "$kubeconfig" --as=smoke-reviewer >/dev/null
wait_phase Succeeded
approved=$(k get databasemigration add-widgets -n "$appns" -o jsonpath='{.status.lastApplied.approvedBy}')
[ "$approved" = smoke-reviewer ] || die "add-widgets was applied as approved by '$approved', not smoke-reviewer"
schema=$(go run ./hack/sqliteschema "$db")
[[ $schema == *"CREATE TABLE widgets"* ]] || die "add-widgets Succeeded but $db has no table widgets: $schema"
say "applied: approved by $approved with kubectl shift approve, revision $(k get databasemigration add-widgets -n "$appns" -o jsonpath='{.status.lastApplied.revision}'); the file has table widgets"
say "passed"
