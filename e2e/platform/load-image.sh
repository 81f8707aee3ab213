#!/usr/bin/env bash
# Imports image archives (docker-archive or OCI archive tarballs, e.g. from
# `skopeo copy ... docker-archive:FILE:NAME:TAG`) into the platform's
# containerd, where the kubelet finds them. Pods should use
# imagePullPolicy: Never or IfNotPresent (no registry is reachable).
#   load-image.sh ARCHIVE...
set -euo pipefail

# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
require_root

(($#)) || die "usage: load-image.sh ARCHIVE..."
component_pid containerd >/dev/null || die "the platform's containerd is not running; run e2e/platform/up.sh"
for a in "$@"; do
  [[ -f "$a" ]] || die "no such file: $a"
  ctr_k8s images import "$a" || die "ctr images import $a failed"
done
ctr_k8s images ls -q | grep -v '^sha256:' >&2
