#!/usr/bin/env bash
# Makes the runtime base image from Debian's packages, with nothing pulled from a registry:
# debootstrap (minbase) of Debian 12 with the libraries the binaries link (OpenSSL, zlib,
# libstdc++, libgomp) and the CA bundle, documentation and package lists removed, committed
# with buildah as localhost/streamforge/base:bookworm. The Dockerfile's RUNTIME_IMAGE names it
# where no debian:bookworm-slim can be pulled.
#
#   images/base.sh            build unless an image made from the same inputs exists
#   IMAGE_FORCE=1 images/base.sh   build again
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), BASE_IMAGE (the name),
# STREAMFORGE_CACHE (default ~/.cache/streamforge; the root filesystem is made there).
set -euo pipefail
cd "$(dirname "$0")"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite=bookworm
image="${BASE_IMAGE:-localhost/streamforge/base:$suite}"
packages="ca-certificates,libssl3,zlib1g,libstdc++6,libgomp1,passwd"
cache="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}/images/base"
stamp="$(printf '%s\n' "$suite" "$mirror" "$packages" "$(sha256sum base.sh)" | sha256sum | cut -c1-16)"

for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || { echo "images/base.sh: $tool is not installed (bash images/install-tools.sh)" >&2; exit 1; }
done
if [[ "${IMAGE_FORCE:-0}" != 1 ]] \
  && [[ "$(buildah inspect --type image --format '{{index .ImageAnnotations "io.streamforge.base.inputs"}}' "$image" 2>/dev/null)" == "$stamp" ]]; then
  echo "images/base.sh: $image is up to date"
  exit 0
fi

started=$SECONDS
mkdir -p "$cache"
rootfs="$cache/rootfs"
rm -rf "$rootfs"
echo "images/base.sh: debootstrap $suite (minbase + $packages) from $mirror ..."
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1; then
  tail -20 "$cache/debootstrap.log" >&2
  echo "images/base.sh: debootstrap failed (log: $cache/debootstrap.log)" >&2
  exit 1
fi
# What a runtime image never reads: package caches and lists, documentation, manuals, locales.
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/tmp/*
# The mirror a later `apt-get install` in a build stage uses (debootstrap wrote only the suite).
printf 'deb %s %s main\n' "$mirror" "$suite" >"$rootfs/etc/apt/sources.list"
tar -C "$rootfs" --numeric-owner -cf "$cache/rootfs.tar" .
rm -rf "$rootfs"

ctr="$(buildah from scratch)"
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add --quiet "$ctr" "$cache/rootfs.tar" / >/dev/null
buildah config --os linux --arch amd64 --cmd /bin/bash \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --annotation "io.streamforge.base.inputs=$stamp" \
  --label "org.opencontainers.image.title=streamforge-base" \
  --label "org.opencontainers.image.description=Debian $suite minbase with the StreamForge binaries' libraries" \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$image" >/dev/null
trap - EXIT
rm -f "$cache/rootfs.tar"
echo "images/base.sh: $image built in $((SECONDS - started)) s ($(buildah images --format '{{.Size}}' "$image"))"
