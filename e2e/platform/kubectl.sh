#!/usr/bin/env bash
# kubectl of the pinned release against the local platform, as cluster admin.
set -euo pipefail

# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

[[ -x "$BIN_DIR/kubectl" ]] || die "$BIN_DIR/kubectl missing; run e2e/platform/build.sh"
[[ -f "$KUBECONFIG_ADMIN" ]] || die "$KUBECONFIG_ADMIN missing; run e2e/platform/up.sh"
exec "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"
