#!/usr/bin/env bash
# Builds the pinned Kubernetes server/node binaries, kubectl and etcd from
# their Go modules (through the Go module proxy) into
# ${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}/platform/bin.
#
# A warm run (stamp matches, binaries present) exits at once. FORCE=1 rebuilds.
# Environment:
#   GO            go command to use (default: go on PATH, else /usr/local/go/bin/go)
#   BUILD_JOBS    go build -p value (default: number of cores)
set -euo pipefail

# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

K8S_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
# crisweep (source in crisweep/) stops and removes pod sandboxes over CRI for down.sh.
ALL_BINARIES=("${K8S_COMMANDS[@]}" crisweep etcd)

if [[ -n "${GO:-}" ]]; then
  :
elif command -v go >/dev/null 2>&1; then
  GO="$(command -v go)"
elif [[ -x /usr/local/go/bin/go ]]; then
  GO=/usr/local/go/bin/go
else
  die "no Go toolchain found (set GO=/path/to/go); Go 1.24 or newer is needed"
fi

go_version="$("$GO" env GOVERSION)" || die "cannot run $GO"
case "$go_version" in
  go1.2[4-9]* | go1.[3-9][0-9]*) ;;
  *) die "$GO is $go_version; Kubernetes $K8S_VERSION needs Go 1.24 or newer" ;;
esac

recipe="$(cat "${BASH_SOURCE[0]}" "$PLATFORM_DIR/crisweep/main.go" | sha256sum | cut -c1-16)"
stamp_text="k8s=$K8S_VERSION etcd=$ETCD_VERSION go=$go_version recipe=$recipe"

all_present() {
  local b
  for b in "${ALL_BINARIES[@]}"; do
    [[ -x "$BIN_DIR/$b" ]] || return 1
  done
}

if [[ "${FORCE:-0}" != 1 && -f "$BUILD_STAMP" && "$(cat "$BUILD_STAMP")" == "$stamp_text" ]] && all_present; then
  log "binaries up to date in $BIN_DIR ($stamp_text)"
  exit 0
fi

started=$SECONDS
work="$PLATFORM_CACHE/build"
mkdir -p "$work" "$BIN_DIR"

# Keep the Go toolchain from switching itself, and keep the build cache with
# the platform so that removing the cache directory gives a true cold build.
export GOTOOLCHAIN=local
export GOCACHE="$PLATFORM_CACHE/gocache"
export CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"
jobs="${BUILD_JOBS:-$(nproc)}"

# Kubernetes ------------------------------------------------------------------
# k8s.io/kubernetes' go.mod points every k8s.io staging module at
# ./staging/src/..., which the module zip does not contain. A wrapper module
# requires k8s.io/kubernetes and replaces each staging module with the
# published v0.<minor>.<patch> release cut from the same tree.
k8s_mod_dir="$work/k8s-$K8S_VERSION"
staging_version="v0.${K8S_VERSION#v1.}"
mkdir -p "$k8s_mod_dir"

log "fetching k8s.io/kubernetes@$K8S_VERSION go.mod"
upstream_gomod="$(cd "$k8s_mod_dir" && "$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
  | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
[[ -n "$upstream_gomod" && -f "$upstream_gomod" ]] \
  || die "could not download k8s.io/kubernetes@$K8S_VERSION from the Go module proxy"

mapfile -t staging_modules < <(sed -n 's/^[[:space:]]*\(k8s\.io\/[A-Za-z0-9._-]*\) => \.\/staging\/.*$/\1/p' "$upstream_gomod")
((${#staging_modules[@]} > 10)) || die "found only ${#staging_modules[@]} staging replace lines in $upstream_gomod"

{
  echo "module streamforge.local/platform/k8s"
  echo
  echo "go 1.24.0"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  for m in "${staging_modules[@]}"; do
    echo "	$m => $m $staging_version"
  done
  echo ")"
} >"$k8s_mod_dir/go.mod.new"
if ! cmp -s "$k8s_mod_dir/go.mod.new" "$k8s_mod_dir/go.mod.base" 2>/dev/null; then
  cp "$k8s_mod_dir/go.mod.new" "$k8s_mod_dir/go.mod"
  cp "$k8s_mod_dir/go.mod.new" "$k8s_mod_dir/go.mod.base"
  rm -f "$k8s_mod_dir/go.sum"
fi
rm -f "$k8s_mod_dir/go.mod.new"

k8s_packages=()
for c in "${K8S_COMMANDS[@]}"; do
  k8s_packages+=("k8s.io/kubernetes/cmd/$c")
done
mkdir -p "$k8s_mod_dir/crisweep"
cp "$PLATFORM_DIR/crisweep/main.go" "$k8s_mod_dir/crisweep/main.go"

log "resolving Kubernetes $K8S_VERSION dependencies (staging modules at $staging_version)"
(cd "$k8s_mod_dir" && "$GO" get "${k8s_packages[@]/%/@$K8S_VERSION}") \
  || die "go get of the Kubernetes commands failed"

k8s_minor="${K8S_VERSION#v1.}"
k8s_minor="${k8s_minor%%.*}"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION"
  k8s_ldflags+=" -X $pkg.gitMajor=1"
  k8s_ldflags+=" -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=archive"
  k8s_ldflags+=" -X $pkg.gitCommit="
  k8s_ldflags+=" -X $pkg.buildDate=$build_date"
done

log "building ${K8S_COMMANDS[*]} crisweep (go build -p $jobs; a cold build takes a long while on 2 cores)"
t0=$SECONDS
(cd "$k8s_mod_dir" && "$GO" build -p "$jobs" -trimpath -ldflags="$k8s_ldflags" -o "$work/out/" "${k8s_packages[@]}" ./crisweep) \
  || die "building Kubernetes $K8S_VERSION failed"
log "Kubernetes binaries built in $((SECONDS - t0)) s"

# etcd --------------------------------------------------------------------------
etcd_mod_dir="$work/etcd-$ETCD_VERSION"
mkdir -p "$etcd_mod_dir"
if [[ ! -f "$etcd_mod_dir/go.mod" ]]; then
  printf 'module streamforge.local/platform/etcd\n\ngo 1.24\n' >"$etcd_mod_dir/go.mod"
fi
log "resolving etcd $ETCD_VERSION"
(cd "$etcd_mod_dir" && "$GO" get "go.etcd.io/etcd/server/v3@$ETCD_VERSION") \
  || die "go get go.etcd.io/etcd/server/v3@$ETCD_VERSION failed"
log "building etcd $ETCD_VERSION"
t0=$SECONDS
(cd "$etcd_mod_dir" && "$GO" build -p "$jobs" -trimpath \
  -ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" \
  -o "$work/out/etcd" go.etcd.io/etcd/server/v3) \
  || die "building etcd $ETCD_VERSION failed"
log "etcd built in $((SECONDS - t0)) s"

# Install -------------------------------------------------------------------------
# Running binaries are replaced by rename, never overwritten in place.
for b in "${ALL_BINARIES[@]}"; do
  [[ -x "$work/out/$b" ]] || die "expected $work/out/$b after the build"
  chmod 0755 "$work/out/$b"
  mv -f "$work/out/$b" "$BIN_DIR/$b"
done
echo "$stamp_text" >"$BUILD_STAMP"

"$BIN_DIR/kubectl" version --client >&2 || die "built kubectl does not run"
"$BIN_DIR/etcd" --version >&2 || die "built etcd does not run"
log "built ${ALL_BINARIES[*]} into $BIN_DIR in $((SECONDS - started)) s"
