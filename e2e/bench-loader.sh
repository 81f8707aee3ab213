#!/usr/bin/env bash
# Loader figures on a real Kafka broker, in one run:
#   1. Kafka's own producer performance tool (acks=all, idempotent) on the broker;
#   2. loader → Kafka throughput with the weight budget lifted (365 days of 1m candles), and a
#      producer baseline with the loader's producer, keys, record size and topic settings;
#   3. loader peak RSS for a 30-day and a 365-day range (it must not grow with the range).
# Starts the broker (e2e/kafka/start.sh) and the exchange simulator, stops both at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streamforge/target}"
bin="$CARGO_TARGET_DIR/release"

bash scripts/setup.sh
cargo build --release --locked -p streamforge-loader -p binance-sim
cargo bench --locked -p streamforge-loader --bench kafka_throughput --no-run

bash e2e/kafka/start.sh
sim_pid=""
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  bash e2e/kafka/stop.sh || true
}
trap cleanup EXIT
broker="127.0.0.1:${KAFKA_PORT:-9092}"

echo "== 1. Kafka ProducerPerformance: 1,000,000 records of 300 bytes (a candle record is ~300)"
# The topic settings of the loader's bench topic (3 partitions, as kafka_throughput.rs creates
# it); the tool sends its records without keys, which it has no option for.
bash e2e/kafka/tool.sh org.apache.kafka.tools.TopicCommand --bootstrap-server "$broker" \
  --create --topic "perf-$$" --partitions 3 --replication-factor 1
bash e2e/kafka/perf.sh "perf-$$" 1000000 300

echo "== 2. loader -> Kafka, budget lifted, and the keyed producer baseline"
KAFKA_BOOTSTRAP_SERVERS="$broker" BENCH_DAYS=365 cargo bench --locked -p streamforge-loader --bench kafka_throughput

echo "== 3. loader peak RSS by range length"
"$bin/binance-sim" --addr 127.0.0.1:9400 --weight-limit 4000000000 >/dev/null 2>&1 &
sim_pid=$!
sleep 1
for range in 2023-01-01:2023-01-31 2023-01-01:2024-01-01; do
  id="bench-rss-${range//[:-]/}-$$"
  out=$(env QUEUE_ID="$id" TELEMETRY_PRODUCER_ID="loader-producer__bench" SYMBOL=BTCUSDT TYPE=api_candles_1m \
    TIME_RANGE="$range" KAFKA_TOPIC="$id-data" KAFKA_BOOTSTRAP_SERVERS="$broker" \
    BINANCE_BASE_URL=http://127.0.0.1:9400 WAIT_FOR_START=false WEIGHT_BUDGET=2000000000 RUST_LOG=warn \
    /usr/bin/time -v "$bin/loader" 2>&1)
  rss=$(echo "$out" | awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}')
  wall=$(echo "$out" | awk -F': ' '/Elapsed \(wall clock\)/ {print $2}')
  echo "range $range: peak RSS ${rss} KiB, wall $wall"
done
