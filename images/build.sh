#!/usr/bin/env bash
# Builds the StreamForge images from images/Dockerfile with buildah, from binaries compiled on
# this host (the Dockerfile's BINARIES=prebuilt), on the local Debian base (images/base.sh).
#
#   images/build.sh [options] [target...]        default: every target
#     --import          import each image into containerd (CONTAINERD_ADDRESS, namespace k8s.io)
#     --save DIR        write each image as DIR/<target>.tar (docker-archive), for
#                       `kind load image-archive` or `minikube image load`
#     --push            push each image to its registry (buildah push; log in first)
#     --no-compile      use the release binaries already in CARGO_TARGET_DIR
#
# The one place the names are set:
#   IMAGE_REGISTRY   registry and path of every image  (default streamforge)
#   IMAGE_TAG        tag of every image                (default the workspace version)
# An image is <IMAGE_REGISTRY>/<target>:<IMAGE_TAG>; the operator's IMAGE_REGISTRY/IMAGE_TAG
# settings (Helm: image.registry/image.tag) must name the same.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
prog=images/build.sh
die() { echo "$prog: $*" >&2; exit 1; }

all_targets=(operator facade loader-api-candles loader-api-trades loader-api-orderbook
  loader-ws-candles loader-ws-trades loader-ws-orderbook loader-generic lake-connector arango-connector arango-candles
  arango-trades arango-orderbook graph-builder arango-graph-prep gnn-trainer visualizer dummy-service binance-sim)
import=0 push=0 compile=1 save=""
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --import) import=1; shift ;;
    --push) push=1; shift ;;
    --save) save="${2:?--save needs a directory}"; shift 2 ;;
    --no-compile) compile=0; shift ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || die "unknown target '$t' (targets: ${all_targets[*]})"
done

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
registry="${IMAGE_REGISTRY:-streamforge}"
registry="${registry%/}"
tag="${IMAGE_TAG:-$version}"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
cache="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
base="${BASE_IMAGE:-localhost/streamforge/base:bookworm}"

# ---- tools ----------------------------------------------------------------------------------------
missing=()
for tool in buildah debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ "$(id -u)" -eq 0 ]] || die "${missing[*]} not installed (Debian: apt-get install ${missing[*]})"
  echo "$prog: installing ${missing[*]} ..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } \
    || die "apt-get could not install ${missing[*]}"
fi
bash images/base.sh

# ---- binaries -------------------------------------------------------------------------------------
if [[ "$compile" == 1 ]]; then
  # shellcheck source=../scripts/torch-env.sh
  source scripts/torch-env.sh
  cargo build --release --locked -p streamforge-operator -p streamforge-facade -p streamforge-loader \
    -p streamforge-loader-generic -p streamforge-sinks -p streamforge-graph-builder -p streamforge-gnn-trainer -p streamforge-visualizer \
    -p streamforge-dummy -p binance-sim
fi
rel="$CARGO_TARGET_DIR/release"

# ---- build context: out/ as the compile stage lays it out ----------------------------------------------
ctx="$cache/images/context"
out="$ctx/out"
mkdir -p "$out/bin" "$out/libtorch" "$out/frontend" "$out/swagger-ui"
place() { # place SRC DEST: copy when the content differs (keeps the layer cache warm)
  cmp -s "$1" "$2" 2>/dev/null || cp -L --preserve=mode "$1" "$2"
}
for bin in streamforge-operator streamforge-facade loader loader-generic lake-connector arango-connector \
  graph-builder gnn-trainer visualizer dummy-service binance-sim; do
  [[ -x "$rel/$bin" ]] || die "$rel/$bin not built (run without --no-compile)"
  place "$rel/$bin" "$out/bin/$bin"
done
# libtorch: what the trainer links (ldd follows its rpath into PyTorch's wheel), CPU and CUDA runtime.
want_torch=()
while read -r lib; do
  case "$lib" in */torch/lib/* | */nvidia/*) want_torch+=("$lib") ;; esac
done < <(ldd "$rel/gnn-trainer" | sed -n 's/^.* => \(\/[^ ]*\) (0x.*$/\1/p')
[[ ${#want_torch[@]} -gt 0 ]] || die "ldd finds no libtorch for $rel/gnn-trainer"
for lib in "${want_torch[@]}"; do place "$lib" "$out/libtorch/$(basename "$lib")"; done
for f in index.html app.js app.css; do place "workers/visualizer/frontend/$f" "$out/frontend/$f"; done
[[ -d workers/visualizer/frontend/node_modules && -d operator/facade/ui/node_modules/swagger-ui-dist ]] \
  || die "the browser packages are missing: bash scripts/setup.sh (npm ci)"
rsync_dir() { # mirror SRC/ into DEST/ (cp -a of a fresh copy; small trees)
  rm -rf "$2.new" && cp -a "$1" "$2.new" && rm -rf "$2" && mv "$2.new" "$2"
}
if ! diff -rq workers/visualizer/frontend/node_modules "$out/frontend/node_modules" >/dev/null 2>&1; then
  rsync_dir workers/visualizer/frontend/node_modules "$out/frontend/node_modules"
fi
if ! diff -rq operator/facade/ui/node_modules/swagger-ui-dist "$out/swagger-ui" >/dev/null 2>&1; then
  rsync_dir operator/facade/ui/node_modules/swagger-ui-dist "$out/swagger-ui"
fi

# ---- images ----------------------------------------------------------------------------------------
ctr_cmd=(ctr -a "${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}" -n "${CONTAINERD_NAMESPACE:-k8s.io}")
stamps="$cache/images/imported"
mkdir -p "$stamps"
[[ -z "$save" ]] || mkdir -p "$save"
started=$SECONDS
for target in "${targets[@]}"; do
  name="$registry/$target:$tag"
  t0=$SECONDS
  buildah bud --quiet --layers --isolation chroot -f "$repo/images/Dockerfile" --target "$target" \
    --build-arg BINARIES=prebuilt --build-arg RUNTIME_IMAGE="$base" \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    -t "$name" "$ctx" >/dev/null || die "buildah bud --target $target failed"
  id="$(buildah inspect --type image --format '{{.FromImageID}}' "$name")"
  echo "$prog: $name ${id:0:12} ($(buildah images --format '{{.Size}}' "$name" | head -n1), $((SECONDS - t0)) s)"
  if [[ -n "$save" || "$import" == 1 ]]; then
    archive="${save:-$cache/images/archives}/$target.tar"
    mkdir -p "$(dirname "$archive")"
    stamp="$stamps/$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_')"
    if [[ "$import" == 1 && -z "$save" && -f "$stamp" && "$(cat "$stamp")" == "$id" ]] \
      && "${ctr_cmd[@]}" images ls -q | grep -qE "(^|/)${name}\$"; then
      continue
    fi
    rm -f "$archive"
    buildah push --quiet "$name" "docker-archive:$archive:$name" >/dev/null || die "buildah push of $name to $archive failed"
    if [[ "$import" == 1 ]]; then
      timeout 300 "${ctr_cmd[@]}" images import "$archive" >/dev/null || die "ctr images import of $archive failed"
      printf '%s\n' "$id" >"$stamp"
      [[ -n "$save" ]] || rm -f "$archive"
    fi
  fi
  if [[ "$push" == 1 ]]; then
    buildah push --quiet "$name" "docker://$name" || die "buildah push of $name failed"
  fi
done
# Layers of earlier builds (an image rebuilt under the same tag leaves the old one untagged):
# each build lays ~600 MB of binaries in its context layer, and they add up fast.
buildah rm --all >/dev/null 2>&1 || true
buildah rmi --prune >/dev/null 2>&1 || true
echo "$prog: ${#targets[@]} images ($registry/*:$tag) in $((SECONDS - started)) s"
