#!/usr/bin/env bash
# Builds the platform's local container images without any registry:
#   pause    a static C sandbox process   -> $PAUSE_TAG (containerd's sandbox_image)
#   busybox  Debian's busybox-static      -> $BUSYBOX_TAG (smoke tests, debugging)
# Each is made into an OCI layout with umoci and written as a docker-archive
# tarball (skopeo) under ${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}/platform/images.
# A stamp per image skips the work when its inputs have not changed.
#
# With --import, also imports both into the platform's running containerd
# (namespace k8s.io) when they are not there yet.
set -euo pipefail

# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

import=0
case "${1:-}" in
  --import) import=1 ;;
  "") ;;
  *) die "usage: images.sh [--import]" ;;
esac

for b in umoci skopeo gcc; do
  command -v "$b" >/dev/null 2>&1 || die "$b not found; run e2e/platform/install-host.sh"
done
mkdir -p "$IMAGES_DIR"

# pack NAME TAG ROOTFS_DIR -- umoci-config-args...
# Packs ROOTFS_DIR as a single-layer image and writes $IMAGES_DIR/NAME.tar.
pack() {
  local name="$1" tag="$2" rootfs="$3"
  shift 4
  local tmp
  tmp="$(mktemp -d "$IMAGES_DIR/.$name.XXXXXX")"
  umoci init --layout "$tmp/oci"
  umoci new --image "$tmp/oci:img"
  umoci unpack --image "$tmp/oci:img" "$tmp/bundle" >/dev/null
  cp -a "$rootfs/." "$tmp/bundle/rootfs/"
  umoci repack --image "$tmp/oci:img" "$tmp/bundle"
  umoci config --image "$tmp/oci:img" --os linux --architecture amd64 "$@"
  umoci gc --layout "$tmp/oci"
  rm -f "$tmp/out.tar"
  skopeo --insecure-policy copy --quiet "oci:$tmp/oci:img" "docker-archive:$tmp/out.tar:$tag" \
    || die "skopeo could not write the $name image archive"
  mv -f "$tmp/out.tar" "$IMAGES_DIR/$name.tar"
  rm -rf "$tmp"
}

build_pause() {
  local src="$PLATFORM_DIR/images/pause.c" stamp="$IMAGES_DIR/pause.stamp" want
  want="$(sha256sum "$src" | cut -c1-16) $PAUSE_TAG"
  if [[ -f "$IMAGES_DIR/pause.tar" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    return 0
  fi
  log "building pause image $PAUSE_TAG"
  local root
  root="$(mktemp -d)"
  gcc -static -Os -s -Wall -Wextra -o "$root/pause" "$src" || die "compiling $src failed (gcc, libc6-dev needed)"
  pack pause "$PAUSE_TAG" "$root" -- \
    --config.entrypoint /pause --config.user 65535:65535 --config.workingdir /
  rm -rf "$root"
  echo "$want" >"$stamp"
}

build_busybox() {
  local bb stamp="$IMAGES_DIR/busybox.stamp" want
  bb="$(command -v busybox)" || die "busybox not found; run e2e/platform/install-host.sh"
  file_is_static "$bb" || die "$bb is not statically linked; install the busybox-static package"
  want="$(sha256sum "$bb" | cut -c1-16) $BUSYBOX_TAG"
  if [[ -f "$IMAGES_DIR/busybox.tar" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    return 0
  fi
  log "building busybox image $BUSYBOX_TAG"
  local root applet
  root="$(mktemp -d)"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
  chmod 1777 "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  for applet in $("$bb" --list); do
    [[ "$applet" == busybox || -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
  pack busybox "$BUSYBOX_TAG" "$root" -- \
    --config.cmd sh --config.env PATH=/bin --config.workingdir /
  rm -rf "$root"
  echo "$want" >"$stamp"
}

# A static ELF has no program interpreter.
file_is_static() {
  ! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'program interpreter'
}

build_pause
build_busybox

if ((import)); then
  [[ -S "$CONTAINERD_SOCK" ]] || die "containerd socket $CONTAINERD_SOCK missing; is the platform up?"
  for pair in "pause:$PAUSE_TAG" "busybox:$BUSYBOX_TAG"; do
    name="${pair%%:*}"
    tag="${pair#*:}"
    ref="$tag"
    [[ "$ref" == */* ]] || ref="docker.io/library/$ref"
    # Re-import when the archive is newer than the last import into this containerd.
    marker="$STATE/containerd/imported-$name"
    if ctr_k8s images ls -q "name==$ref" 2>/dev/null | grep -qx "$ref" \
      && [[ -f "$marker" && "$marker" -nt "$IMAGES_DIR/$name.tar" ]]; then
      continue
    fi
    log "importing $ref into containerd"
    ctr_k8s images import "$IMAGES_DIR/$name.tar" >/dev/null || die "ctr images import $IMAGES_DIR/$name.tar failed"
    ctr_k8s images ls -q "name==$ref" | grep -qx "$ref" || die "$ref not listed after import"
    touch "$marker"
  done
fi
log "images ready in $IMAGES_DIR"
