#!/usr/bin/env bash
# Builds the real helm (v3) from its Go module into ~/.cache/streamforge/bin/helm, once, and
# prints its path. HELM_VERSION picks another release.
set -euo pipefail
version="${HELM_VERSION:-v3.22.0}"
cache="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"
bin="$cache/bin"
helm="$bin/helm"
if [[ -x "$helm" ]] && "$helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$version"; then
  echo "$helm"
  exit 0
fi
command -v go >/dev/null || { echo "install-helm.sh: go is not installed" >&2; exit 1; }
mkdir -p "$bin"
started=$SECONDS
echo "install-helm.sh: go install helm.sh/helm/v3/cmd/helm@$version ..." >&2
# The version helm prints comes from its ldflags; `go install` alone would print v3.x-dev.
GOBIN="$bin" CGO_ENABLED=0 go install \
  -ldflags "-X helm.sh/helm/v3/internal/version.version=$version" \
  "helm.sh/helm/v3/cmd/helm@$version" >&2
echo "install-helm.sh: helm $version built in $((SECONDS - started)) s" >&2
echo "$helm"
