#!/usr/bin/env bash
# demo.sh: kube-shift end to end on the embedded default (a local control
# plane, the manager with its webhooks, and a SQLite database), narrated.
# It builds what it needs, runs the story, and cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."

bold="" reset=""
if [ -t 1 ]; then bold=$(tput bold 2>/dev/null || true) reset=$(tput sgr0 2>/dev/null || true); fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$reset"; }
show() { printf '%s$ %s%s\n' "$bold" "$*" "$reset"; "$@"; }

ns=demo
developer=dev-dana
reviewer=dba-rita
workdir=$(mktemp -d)
db=$workdir/shop.db

started=false
cleanup() {
  if $started; then
    say "Cleaning up: stopping the local control plane and the manager"
    hack/local-down.sh >/dev/null 2>&1 || true
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT

say "Building kubectl-shift and starting a local control plane with the kube-shift manager"
echo "(the first run builds kube-apiserver and etcd from Go modules: a few minutes; cached after)"
CGO_ENABLED=0 go build -trimpath -o bin/kubectl-shift ./cmd/kubectl-shift
go build -o bin/sqliteschema ./hack/sqliteschema
export PATH=$PWD/bin:$PATH
hack/local-up.sh >/dev/null
started=true
export KUBECONFIG=$PWD/bin/local/kubeconfig

kubectl create namespace "$ns" >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: developers, namespace: $ns}
rules:
- apiGroups: [database.mohitnagaraj.in]
  resources: [databasemigrations]
  verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: developers, namespace: $ns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: developers}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: $developer}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reviewers, namespace: $ns}
rules:
- apiGroups: [database.mohitnagaraj.in]
  resources: [databasemigrations]
  verbs: [get, list, watch, patch, approve]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reviewers, namespace: $ns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reviewers}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: $reviewer}]
YAML
echo "namespace $ns: $developer writes migrations, $reviewer approves them; the database is $db"

say "1. $developer applies a migration that drops a table: the webhook refuses it at once"
cat >"$workdir/destructive.yaml" <<YAML
apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: cleanup, namespace: $ns}
spec:
  database: {type: sqlite, database: "$db"}
  migration:
    scripts:
    - name: drop-legacy
      type: schema
      source: inline
      sql: DROP TABLE customers;
YAML
show kubectl apply -f "$workdir/destructive.yaml" --as "$developer" || true

say "2. $developer applies a safe migration: kube-shift plans it and waits for review"
cat >"$workdir/shop.yaml" <<YAML
apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: shop, namespace: $ns}
spec:
  database: {type: sqlite, database: "$db"}
  migration:
    scripts:
    - name: customers
      type: schema
      source: inline
      sql: |
        CREATE TABLE customers (
          id INTEGER PRIMARY KEY,
          email TEXT NOT NULL
        );
        CREATE UNIQUE INDEX customers_email ON customers (email);
    - name: orders
      type: schema
      source: inline
      dependsOn: [customers]
      sql: |
        CREATE TABLE orders (
          id INTEGER PRIMARY KEY,
          customer_id INTEGER NOT NULL REFERENCES customers (id),
          total_cents INTEGER NOT NULL CHECK (total_cents >= 0)
        );
YAML
show kubectl apply -f "$workdir/shop.yaml" --as "$developer"
kubectl wait dbm/shop -n "$ns" --for=jsonpath='{.status.phase}'=AwaitingApproval --timeout=120s >/dev/null
show kubectl get dbm -n "$ns"
show kubectl shift status shop -n "$ns"

say "3. $developer cannot approve their own plan"
show kubectl shift approve shop -n "$ns" --yes --as "$developer" || true

say "4. $reviewer approves exactly the plan shown (its hash)"
show kubectl shift approve shop -n "$ns" --yes --as "$reviewer"
kubectl wait dbm/shop -n "$ns" --for=condition=Ready --timeout=120s >/dev/null
show kubectl get dbm -n "$ns"
show kubectl get dbm shop -n "$ns" -o jsonpath='{.status.lastApplied}{"\n"}'

say "5. The schema kube-shift applied to $db"
show bin/sqliteschema "$db"

say "6. Deleting the migration releases it; the schema stays"
show kubectl delete dbm shop -n "$ns"
show bin/sqliteschema "$db"

say "Done: a destructive change refused, a safe one planned, reviewed, applied once, and recorded"
