#!/usr/bin/env bash
# The end-to-end suite, from nothing: brings up the local platform (e2e/platform), a Kafka
# broker reachable from pods, builds the operator and worker images and imports them, deploys
# the operator from manifests/ (through e2e/overlay, which changes only images and endpoints),
# then runs the scenarios in e2e/suite one at a time. Leaves the platform running for a look
# afterwards unless E2E_DOWN=1; e2e/down.sh stops it all.
#
# Figures of the 100-Queue scenario go to $STREAMFORGE_CACHE/e2e-figures.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streamforge/target}"
cache="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"

echo "== e2e: platform"
bash e2e/platform/up.sh
source e2e/platform/common.sh
host_ip="$(cat "$HOST_IP_FILE")"
kubectl="$BIN_DIR/kubectl"
k() { "$kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

echo "== e2e: Kafka broker for pods ($host_ip:29092)"
# Their state apart from the platform's and from the unit tests' broker.
services="KAFKA_PORT=29092 KAFKA_CONTROLLER_PORT=29093 KAFKA_ADVERTISED_HOST=$host_ip STREAMFORGE_STATE=$cache/e2e-state"
env $services bash e2e/kafka/start.sh
echo "== e2e: MinIO for pods ($host_ip:29000)"
env STREAMFORGE_STATE="$cache/e2e-state" MINIO_PORT=29000 MINIO_CONSOLE_PORT=29001 bash e2e/minio/start.sh

echo "== e2e: release binaries and images"
# shellcheck source=../scripts/torch-env.sh
source scripts/torch-env.sh
cargo build --release --locked -p streamforge-operator -p streamforge-dummy -p streamforge-loader -p streamforge-sinks \
  -p streamforge-graph-builder -p streamforge-gnn-trainer -p streamforge-visualizer
rel="$CARGO_TARGET_DIR/release"
export CONTAINERD_ADDRESS="$CONTAINERD_SOCK"
bash e2e/images/build-image.sh --import streamforge/operator:e2e "$rel/streamforge-operator"
bash e2e/images/build-image.sh --import streamforge/dummy-service:e2e "$rel/dummy-service"
for family in loader-api-candles loader-api-trades loader-ws-candles loader-ws-trades loader-ws-orderbook; do
  bash e2e/images/build-image.sh --import "streamforge/$family:e2e" "$rel/loader"
done
bash e2e/images/build-image.sh --import streamforge/lake-connector:e2e "$rel/lake-connector"
bash e2e/images/build-image.sh --import streamforge/graph-builder:e2e "$rel/graph-builder"
# The trainer's image carries the libtorch libraries ldd finds through its rpath (CPU only).
bash e2e/images/build-image.sh --import streamforge/gnn-trainer:e2e "$rel/gnn-trainer"
bash e2e/images/build-image.sh --import streamforge/visualizer:e2e "$rel/visualizer"
for family in arango-candles arango-trades arango-orderbook arango-connector; do
  bash e2e/images/build-image.sh --import "streamforge/$family:e2e" "$rel/arango-connector"
done

echo "== e2e: operator from manifests/ (overlay e2e/overlay)"
k apply -k e2e/overlay
# A changed image under the same tag needs a new pod.
k -n streamforge rollout restart deployment/streamforge-operator
k -n streamforge rollout status deployment/streamforge-operator --timeout=180s

echo "== e2e: scenarios"
export STREAMFORGE_E2E_KUBECONFIG="$KUBECONFIG_ADMIN" STREAMFORGE_E2E_KUBECTL="$kubectl"
export STREAMFORGE_E2E_KAFKA="$host_ip:29092"
export STREAMFORGE_E2E_KAFKA_STOP="env $services bash e2e/kafka/stop.sh"
export STREAMFORGE_E2E_KAFKA_START="env $services bash e2e/kafka/start.sh"
export STREAMFORGE_E2E_KAFKA_RESTART="$STREAMFORGE_E2E_KAFKA_STOP && sleep 5 && $STREAMFORGE_E2E_KAFKA_START"
# The run-protocol scenarios read the lake back with pyarrow, from MinIO on this host.
STREAMFORGE_E2E_PYTHON="$(bash e2e/lake/setup.sh | tail -n1)"
export STREAMFORGE_E2E_PYTHON STREAMFORGE_E2E_S3="http://127.0.0.1:29000"
log="$(mktemp)"
status=0
# scenarios.rs (the dummy worker) then run_protocol.rs (the real workers); E2E_FILTER picks some.
cargo test --locked -p streamforge-e2e --tests -- --test-threads=1 --nocapture ${E2E_FILTER:-} 2>&1 | tee "$log" || status=$?
grep '^FIGURES' "$log" | tee "$cache/e2e-figures.txt" || true
rm -f "$log"
if [[ $status -ne 0 ]]; then
  echo "e2e: FAILED; operator log: $kubectl --kubeconfig $KUBECONFIG_ADMIN -n streamforge logs deploy/streamforge-operator" >&2
  k -n streamforge logs deploy/streamforge-operator --tail=40 >&2 || true
fi
if [[ "${E2E_DOWN:-0}" == 1 ]]; then bash e2e/down.sh; fi
echo "e2e: done in $((SECONDS - started)) s"
exit "$status"
