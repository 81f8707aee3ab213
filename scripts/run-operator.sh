#!/usr/bin/env bash
# The main job: installs the Queue CRD into the cluster of the current kubeconfig and runs the
# operator against it. KAFKA_BOOTSTRAP_SERVERS must point at a Kafka broker (default
# 127.0.0.1:9092); every other setting has a default (see docs/configuration.md).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streamforge/target}"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}"

bash scripts/setup.sh
cargo build --release --locked -p streamforge-operator
kubectl apply --server-side -f crds/queue.yaml
kubectl wait --for=condition=Established crd/queues.streamforge.io --timeout=60s
exec "$CARGO_TARGET_DIR/release/streamforge-operator" "$@"
