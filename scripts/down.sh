#!/usr/bin/env bash
# Stops what scripts/up.sh started: the Helm release, the exchange simulator, the Kafka broker
# and MinIO on this host, and the local Kubernetes platform. Data stays in
# ~/.cache/streamforge/demo-state until that folder is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"
state="$cache/demo-state"
source e2e/platform/common.sh
helm="$cache/bin/helm"
if [[ -x "$helm" && -f "$KUBECONFIG_ADMIN" ]]; then
  # The Queues first, while the operator still runs to release their finalizers (docs/runbook.md).
  timeout 120 "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" -n "${DEMO_NAMESPACE:-streamforge-demo}" \
    delete queues --all --wait=true >/dev/null 2>&1 || true
  timeout 120 "$helm" --kubeconfig "$KUBECONFIG_ADMIN" uninstall streamforge --namespace streamforge --wait 2>/dev/null || true
fi
if [[ -f "$state/binance-sim.pid" ]]; then
  kill "$(cat "$state/binance-sim.pid")" 2>/dev/null || true
  rm -f "$state/binance-sim.pid"
fi
STREAMFORGE_STATE="$state" KAFKA_PORT=39092 KAFKA_CONTROLLER_PORT=39093 bash e2e/kafka/stop.sh || true
STREAMFORGE_STATE="$state" MINIO_PORT=39000 bash e2e/minio/stop.sh || true
bash e2e/platform/down.sh || true
echo "down: stopped"
