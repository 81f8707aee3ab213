#!/usr/bin/env bash
# `helm uninstall` with a live Queue on the e2e platform: the chart's post-delete hook must take
# the operator's finalizer off the Queue, so that its namespace can be deleted without an
# operator. Run by e2e/run.sh after the scenarios (it leaves the operator uninstalled; the next
# e2e/run.sh installs it again). Exits non-zero when the finalizer stays or the namespace does
# not go.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/platform/common.sh
kubectl="$BIN_DIR/kubectl"
k() { "$kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
helm="$(bash scripts/install-helm.sh)"
h() { "$helm" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
ns=e2e-uninstall

k create namespace "$ns" --dry-run=client -o yaml | k apply -f - >/dev/null
printf '%s\n' 'apiVersion: streamforge.io/v1alpha1' 'kind: Queue' "metadata: {name: live, namespace: $ns}" \
  'spec: {target: dummy-service, type: dummy_slow_ignorestop, symbol: BTCUSDT, timeRange: "2024-08-01:2024-08-02"}' |
  k apply -f - >/dev/null
k -n "$ns" wait queue/live --for=jsonpath='{.status.phase}'=Running --timeout=120s >/dev/null
echo "uninstall-check: Queue $ns/live is Running with finalizers $(k -n "$ns" get queue live -o jsonpath='{.metadata.finalizers}')"
h uninstall streamforge -n streamforge --wait --timeout 5m
left="$(k -n "$ns" get queue live -o jsonpath='{.metadata.finalizers}')"
if [[ -n "$left" ]]; then
  echo "uninstall-check: the Queue still has finalizers after helm uninstall: $left" >&2
  exit 1
fi
if ! k delete namespace "$ns" --timeout=120s >/dev/null; then
  echo "uninstall-check: the namespace of a live Queue was not deleted after helm uninstall" >&2
  exit 1
fi
echo "uninstall-check: uninstalled; the live Queue's finalizer was released and its namespace deleted"
