#!/usr/bin/env bash
# Builds Prometheus from its Go module into ~/.cache/streamforge/bin/prometheus, once, and prints
# its path. Debian's package leaves out Kubernetes service discovery, which the dashboard check
# needs to find worker pods as the chart's PodMonitor does; this build has Kubernetes discovery
# and no other cloud's (build tags remove_all_sd,enable_kubernetes_sd; file and static targets
# stay). PROMETHEUS_MODULE_VERSION picks another release (the module's v0.3xx.y is Prometheus 3.xx.y).
set -euo pipefail
version="${PROMETHEUS_MODULE_VERSION:-v0.316.0}"
cache="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"
bin="$cache/bin"
prom="$bin/prometheus"
stamp="$bin/prometheus.version"
if [[ -x "$prom" && "$(cat "$stamp" 2>/dev/null)" == "$version" ]]; then
  echo "$prom"
  exit 0
fi
command -v go >/dev/null || { echo "install-prometheus.sh: go is not installed" >&2; exit 1; }
mkdir -p "$bin"
started=$SECONDS
echo "install-prometheus.sh: go install github.com/prometheus/prometheus/cmd/prometheus@$version ..." >&2
# The version it prints comes from ldflags: module v0.316.0 is release 3.16.0.
minor_patch="${version#v0.3}"
release="3.$((10#${minor_patch%%.*})).${minor_patch#*.}"
GOBIN="$bin" CGO_ENABLED=0 go install -tags remove_all_sd,enable_kubernetes_sd \
  -ldflags "-X github.com/prometheus/common/version.Version=$release" \
  "github.com/prometheus/prometheus/cmd/prometheus@$version" >&2
echo "$version" >"$stamp"
echo "install-prometheus.sh: prometheus $version built in $((SECONDS - started)) s" >&2
echo "$prom"
