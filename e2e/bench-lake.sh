#!/usr/bin/env bash
# Kafka → lake figures on a real broker and a real S3 server, in one run: the raw consumer rate
# of a topic of candle records, and the lake connector's rate into MinIO on the same topic.
# Starts Kafka and MinIO (state apart from the tests'), stops both at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streamforge/target}"
export STREAMFORGE_STATE="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}/bench-state"
export KAFKA_PORT="${BENCH_KAFKA_PORT:-39092}" KAFKA_CONTROLLER_PORT="${BENCH_KAFKA_CONTROLLER_PORT:-39093}"
export MINIO_PORT="${BENCH_MINIO_PORT:-39000}" MINIO_CONSOLE_PORT="${BENCH_MINIO_CONSOLE_PORT:-39001}"

bash scripts/setup.sh
cargo bench --locked -p streamforge-sinks --bench lake_throughput --no-run
trap 'bash e2e/kafka/stop.sh || true; bash e2e/minio/stop.sh || true' EXIT
bash e2e/kafka/start.sh
bash e2e/minio/start.sh
KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT" S3_ENDPOINT="http://127.0.0.1:$MINIO_PORT" \
  cargo bench --locked -p streamforge-sinks --bench lake_throughput
