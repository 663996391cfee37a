#!/usr/bin/env bash
# envtest-assets.sh builds the envtest control plane binaries (kube-apiserver,
# etcd, plus a kubectl) from Go modules and prints the directory holding them,
# as an absolute path, on stdout. Everything else goes to stderr, so:
#
#   KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh)
#
# The result is cached in bin/k8s/<k8s>-<etcd>-<goos>-<goarch>/; when both
# binaries are already there the script only prints that path.
#
# Versions (with or without a leading "v"):
#   K8S_VERSION   Kubernetes release for kube-apiserver (default 1.37.2)
#   ETCD_VERSION  etcd release (default 3.6.16)
#
# kube-apiserver: k8s.io/kubernetes cannot be built with `go install` because
# its go.mod points every k8s.io/* staging module at ./staging/src/... . We
# build it from a throwaway module that requires k8s.io/kubernetes and
# replaces each of those staging modules with its published v0.x release.
# The replace list is read from kubernetes' own go.mod, so a version bump
# needs no edit here.
#
# etcd: the go.etcd.io/etcd/server/v3 module root is the etcd main package,
# but its go.mod has replace directives too, so it is built the same way from
# a second throwaway module (kept apart from the kubernetes one, which would
# otherwise raise etcd to the version kubernetes itself requires).
set -euo pipefail
cd "$(dirname "$0")/.."

k8s_version=${K8S_VERSION:-1.37.2}
k8s_version=${k8s_version#v}
etcd_version=${ETCD_VERSION:-3.6.16}
etcd_version=${etcd_version#v}
goos=$(go env GOOS)
goarch=$(go env GOARCH)

assets="$PWD/bin/k8s/${k8s_version}-${etcd_version}-${goos}-${goarch}"

have_all() {
  [ -x "$assets/kube-apiserver" ] && [ -x "$assets/etcd" ] && [ -e "$assets/kubectl" ]
}

if have_all; then
  echo "$assets"
  exit 0
fi

log() { echo "envtest-assets: $*" >&2; }

mkdir -p "$assets"

# One build at a time per assets directory: test runs started in parallel
# wait for the first one instead of building the same thing twice.
exec 9>"$assets/.lock"
if ! flock -n 9; then
  log "another build of $assets is running; waiting for it"
  flock 9
fi
if have_all; then
  echo "$assets"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/envtest-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

export CGO_ENABLED=0

# go_lines FILE: the "go" and "godebug" lines of a go.mod, so the throwaway
# module builds with the same language version and GODEBUG defaults.
go_lines() {
  grep -E '^(go|godebug) ' "$1" || true
}

start=$SECONDS

# --- kube-apiserver (and kubectl when the system has none) ------------------
need_apiserver=false need_kubectl=false
[ -x "$assets/kube-apiserver" ] || need_apiserver=true
if ! command -v kubectl >/dev/null 2>&1 && [ ! -x "$assets/kubectl" ]; then
  need_kubectl=true
fi
if $need_apiserver || $need_kubectl; then
  k8s_mod="k8s.io/kubernetes"
  log "downloading $k8s_mod@v$k8s_version"
  k8s_gomod=$(go mod download -json "$k8s_mod@v$k8s_version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  if [ -z "$k8s_gomod" ] || [ ! -f "$k8s_gomod" ]; then
    log "could not find go.mod of $k8s_mod@v$k8s_version"
    exit 1
  fi
  # Staging modules are published as v0.<minor>.<patch> for v1.<minor>.<patch>.
  staging_version="v0.${k8s_version#*.}"

  mkdir -p "$work/k8s"
  {
    echo "module envtest.local/kube-apiserver"
    echo
    go_lines "$k8s_gomod"
    echo
    echo "require $k8s_mod v$k8s_version"
    echo
    echo "replace ("
    # Lines like "	k8s.io/api => ./staging/src/k8s.io/api" (inside the
    # replace block) or "replace k8s.io/api => ./staging/..." (single line).
    sed -n 's#^[[:space:]]*\(replace[[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]\{1,\}\)[[:space:]]\{1,\}=>[[:space:]]\{1,\}\./staging/.*$#\2#p' "$k8s_gomod" |
      while read -r m; do
        echo "	$m => $m $staging_version"
      done
    echo ")"
  } >"$work/k8s/go.mod"
  n=$(grep -c " => .* $staging_version\$" "$work/k8s/go.mod" || true)
  if [ "$n" -eq 0 ]; then
    log "found no staging replace lines in $k8s_gomod"
    exit 1
  fi
  log "pinned $n staging modules to $staging_version"

  # Without these the binaries report v0.0.0-master as their version (the
  # release build stamps them the same way).
  k8s_minor=${k8s_version#*.}
  k8s_minor=${k8s_minor%%.*}
  x=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X $pkg.gitVersion=v$k8s_version -X $pkg.gitMajor=${k8s_version%%.*}"
    x+=" -X $pkg.gitMinor=$k8s_minor -X $pkg.gitTreeState=clean"
  done
  k8s_flags=(-trimpath "-ldflags=-s -w$x")

  if $need_apiserver; then
    log "building kube-apiserver v$k8s_version (takes a few minutes)"
    (cd "$work/k8s" && go build -mod=mod "${k8s_flags[@]}" -o "$work/kube-apiserver" "$k8s_mod/cmd/kube-apiserver")
    mv -f "$work/kube-apiserver" "$assets/kube-apiserver"
  fi
  if $need_kubectl; then
    log "no kubectl on PATH: building kubectl v$k8s_version"
    (cd "$work/k8s" && go build -mod=mod "${k8s_flags[@]}" -o "$work/kubectl" "$k8s_mod/cmd/kubectl")
    rm -f "$assets/kubectl"
    mv -f "$work/kubectl" "$assets/kubectl"
  fi
fi

# kubectl: the system one when there is one.
if [ ! -e "$assets/kubectl" ]; then
  ln -sfn "$(command -v kubectl)" "$assets/kubectl"
fi

# --- etcd --------------------------------------------------------------------
if [ ! -x "$assets/etcd" ]; then
  etcd_mod="go.etcd.io/etcd/server/v3"
  log "downloading $etcd_mod@v$etcd_version"
  etcd_json=$(go mod download -json "$etcd_mod@v$etcd_version")
  etcd_gomod=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p' <<<"$etcd_json")
  etcd_dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$etcd_json")
  # The module root is the etcd main package (a two-line wrapper around
  # go.etcd.io/etcd/server/v3/etcdmain.Main).
  if ! grep -q '^package main' "$etcd_dir/main.go" 2>/dev/null; then
    log "no main package at the root of $etcd_mod@v$etcd_version"
    exit 1
  fi
  mkdir -p "$work/etcd"
  {
    echo "module envtest.local/etcd"
    echo
    go_lines "$etcd_gomod"
    echo
    echo "require $etcd_mod v$etcd_version"
  } >"$work/etcd/go.mod"
  log "building etcd v$etcd_version"
  (cd "$work/etcd" && go build -mod=mod -trimpath "-ldflags=-s -w" -o "$work/etcd-bin" "$etcd_mod")
  mv -f "$work/etcd-bin" "$assets/etcd"
fi

log "built in $((SECONDS - start))s: $assets"
"$assets/kube-apiserver" --version >&2 || true
"$assets/etcd" --version 2>&1 | head -n1 >&2 || true
echo "$assets"
