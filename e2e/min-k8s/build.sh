#!/usr/bin/env bash
# Builds kube-apiserver and kubectl of one Kubernetes release (default: the oldest the Queue
# CRD supports, e2e/min-k8s/README.md) from their Go modules, the way e2e/platform/build.sh
# builds the platform's release, into
# ${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}/min-k8s/<version>/.
#
# A warm run (stamp matches, binaries present) exits at once; FORCE=1 rebuilds. Prints the
# binary directory on its last line of stdout.
# Environment:
#   MIN_K8S_VERSION  release to build (default below)
#   GO               go command to use (default: go on PATH, else /usr/local/go/bin/go)
#   BUILD_JOBS       go build -p value (default: number of cores)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
source "$HERE/versions.sh"

log() { printf '[min-k8s] %s\n' "$*" >&2; }
die() { printf '[min-k8s] ERROR: %s\n' "$*" >&2; exit 1; }

VERSION="${MIN_K8S_VERSION:-$MIN_K8S_DEFAULT}"
[[ "$VERSION" =~ ^v1\.[0-9]+\.[0-9]+$ ]] || die "MIN_K8S_VERSION must look like v1.31.14, not '$VERSION'"
CACHE="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}/min-k8s"
OUT="$CACHE/$VERSION"
STAMP="$OUT/.stamp"
COMMANDS=(kube-apiserver kubectl)

if [[ -n "${GO:-}" ]]; then
  :
elif command -v go >/dev/null 2>&1; then
  GO="$(command -v go)"
elif [[ -x /usr/local/go/bin/go ]]; then
  GO=/usr/local/go/bin/go
else
  die "no Go toolchain found (set GO=/path/to/go)"
fi
go_version="$("$GO" env GOVERSION)" || die "cannot run $GO"

recipe="$(sha256sum <"${BASH_SOURCE[0]}" | cut -c1-16)"
stamp_text="k8s=$VERSION go=$go_version recipe=$recipe"

all_present() {
  local b
  for b in "${COMMANDS[@]}"; do [[ -x "$OUT/$b" ]] || return 1; done
}
if [[ "${FORCE:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$stamp_text" ]] && all_present; then
  log "kube-apiserver and kubectl $VERSION up to date in $OUT"
  echo "$OUT"
  exit 0
fi

started=$SECONDS
work="$CACHE/build/k8s-$VERSION"
mkdir -p "$work" "$OUT"
# Same settings as e2e/platform/build.sh; the build cache stays with this cache directory so
# that removing it gives a true cold build.
export GOTOOLCHAIN=local
export GOCACHE="$CACHE/gocache"
export CGO_ENABLED=0
# providerless: upstream's build tag that leaves out the legacy in-tree cloud providers, which
# the apiserver here does not need (and whose k8s.io/legacy-cloud-providers v0.29.x the proxy
# does not serve).
export GOFLAGS="-mod=mod -buildvcs=false -tags=providerless"
jobs="${BUILD_JOBS:-$(nproc)}"

# k8s.io/kubernetes' go.mod points the k8s.io staging modules at ./staging/src/..., which the
# module zip lacks: a wrapper module requires k8s.io/kubernetes and replaces each staging
# module with the v0.<minor>.<patch> release cut from the same tree.
staging_version="v0.${VERSION#v1.}"
log "fetching k8s.io/kubernetes@$VERSION go.mod"
upstream_gomod="$(cd "$work" && "$GO" mod download -json "k8s.io/kubernetes@$VERSION" \
  | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
[[ -n "$upstream_gomod" && -f "$upstream_gomod" ]] \
  || die "could not download k8s.io/kubernetes@$VERSION from the Go module proxy"
mapfile -t staging_modules < <(sed -n 's/^[[:space:]]*\(k8s\.io\/[A-Za-z0-9._-]*\) => \.\/staging\/.*$/\1/p' "$upstream_gomod")
((${#staging_modules[@]} > 10)) || die "found only ${#staging_modules[@]} staging replace lines in $upstream_gomod"
upstream_go="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$upstream_gomod" | head -n1)"

{
  echo "module streamforge.local/min-k8s"
  echo
  echo "go ${upstream_go:-1.21}"
  echo
  echo "require k8s.io/kubernetes $VERSION"
  echo
  echo "replace ("
  for m in "${staging_modules[@]}"; do
    echo "	$m => $m $staging_version"
  done
  echo ")"
} >"$work/go.mod.new"
if ! cmp -s "$work/go.mod.new" "$work/go.mod.base" 2>/dev/null; then
  cp "$work/go.mod.new" "$work/go.mod"
  cp "$work/go.mod.new" "$work/go.mod.base"
  rm -f "$work/go.sum"
fi
rm -f "$work/go.mod.new"

packages=()
for c in "${COMMANDS[@]}"; do packages+=("k8s.io/kubernetes/cmd/$c"); done
log "resolving Kubernetes $VERSION dependencies (staging modules at $staging_version)"
(cd "$work" && "$GO" get "${packages[@]/%/@$VERSION}") || die "go get of ${COMMANDS[*]} $VERSION failed"

minor="${VERSION#v1.}"
minor="${minor%%.*}"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=archive -X $pkg.gitCommit= -X $pkg.buildDate=$build_date"
done

log "building ${COMMANDS[*]} $VERSION with $go_version (go build -p $jobs; cold, this takes a while on 2 cores)"
t0=$SECONDS
(cd "$work" && "$GO" build -p "$jobs" -trimpath -ldflags="$ldflags" -o "$work/out/" "${packages[@]}") \
  || die "building Kubernetes $VERSION failed"
log "built in $((SECONDS - t0)) s"

for b in "${COMMANDS[@]}"; do
  [[ -x "$work/out/$b" ]] || die "expected $work/out/$b after the build"
  chmod 0755 "$work/out/$b"
  mv -f "$work/out/$b" "$OUT/$b"
done
echo "$stamp_text" >"$STAMP"
# The build cache (2 GB or more) only serves a rebuild, which comes with a new version or recipe
# and finds little in it: drop it rather than fill the disk the e2e platform needs.
rm -rf "$GOCACHE"
"$OUT/kubectl" version --client >&2 || die "built kubectl does not run"
"$OUT/kube-apiserver" --version >&2 || die "built kube-apiserver does not run"
log "kube-apiserver and kubectl $VERSION in $OUT ($((SECONDS - started)) s)"
echo "$OUT"
