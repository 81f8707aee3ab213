#!/usr/bin/env bash
# Kafka → lake figures on a real broker and a real S3 server, in one run: the raw consumer rate
# of a topic of candle records, and the lake connector's rate into MinIO on the same topic, with
# its S3 requests per million candles and bytes per candle; then DuckDB's scan of a year of 1m
# candles of 10 symbols written by the lake sink (benches/lake_scan.rs).
# Starts Kafka and MinIO on an empty state directory apart from the tests', stops both and
# removes that state at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streamforge/target}"
export STREAMFORGE_STATE="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}/bench-state"
# Below the kernel's ephemeral range (32768 on): a port there can be held by any client connection.
export KAFKA_PORT="${BENCH_KAFKA_PORT:-17092}" KAFKA_CONTROLLER_PORT="${BENCH_KAFKA_CONTROLLER_PORT:-17093}"
export MINIO_PORT="${BENCH_MINIO_PORT:-17000}" MINIO_CONSOLE_PORT="${BENCH_MINIO_CONSOLE_PORT:-17001}"

bash scripts/setup.sh
cargo bench --locked -p streamforge-sinks --bench lake_throughput --bench lake_scan --no-run
# A fresh broker and bucket every run: each run writes a few hundred MB of topic and Parquet
# that nothing reads again, and a full disk slows both servers down.
bash e2e/kafka/stop.sh >/dev/null 2>&1 || true
bash e2e/minio/stop.sh >/dev/null 2>&1 || true
rm -rf "$STREAMFORGE_STATE"
trap 'bash e2e/kafka/stop.sh || true; bash e2e/minio/stop.sh || true; rm -rf "$STREAMFORGE_STATE"' EXIT
bash e2e/kafka/start.sh
bash e2e/minio/start.sh
# 10 symbols interleaved in one topic, then one symbol's topic (one Queue): the same million
# candles, the S3 requests per million differ with the directories a batch touches.
KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT" S3_ENDPOINT="http://127.0.0.1:$MINIO_PORT" \
  cargo bench --locked -p streamforge-sinks --bench lake_throughput
BENCH_SYMBOLS=1 KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT" S3_ENDPOINT="http://127.0.0.1:$MINIO_PORT" \
  cargo bench --locked -p streamforge-sinks --bench lake_throughput
# A year of 1m candles of 10 symbols in a local lake, scanned by DuckDB (the test venv's).
BENCH_PYTHON="$(bash e2e/lake/setup.sh | tail -n 1)" \
  cargo bench --locked -p streamforge-sinks --bench lake_scan
