#!/usr/bin/env bash
# Loader figures on a real Kafka broker, in one run:
#   1. Kafka's own producer performance tool (acks=all, idempotent) on the broker;
#   2. loader → Kafka throughput with the weight budget lifted (365 days of 1m candles), and a
#      producer baseline with the loader's producer, keys, record size and topic settings;
#   3. loader peak RSS for a 30-day and a 365-day range (it must not grow with the range).
# Starts the broker (e2e/kafka/start.sh) unless one answers, and the exchange simulator; stops
# what it started at the end (bench-common.sh).
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"

bench_build
cargo bench --locked -p streamforge-loader --bench kafka_throughput --no-run

bench_start_broker
trap bench_cleanup EXIT

echo "== 1. Kafka ProducerPerformance: 1,000,000 records of 300 bytes (a candle record is ~300)"
# The topic settings of the loader's bench topic (3 partitions, as kafka_throughput.rs creates
# it); the tool sends its records without keys, which it has no option for.
bash e2e/kafka/tool.sh org.apache.kafka.tools.TopicCommand --bootstrap-server "$broker" \
  --create --topic "perf-$$" --partitions 3 --replication-factor 1
bash e2e/kafka/perf.sh "perf-$$" 1000000 300

echo "== 2. loader -> Kafka, budget lifted, and the keyed producer baseline"
KAFKA_BOOTSTRAP_SERVERS="$broker" BENCH_DAYS=365 cargo bench --locked -p streamforge-loader --bench kafka_throughput

echo "== 3. loader peak RSS by range length"
bench_start_sim 127.0.0.1:9400 --weight-limit 4000000000
for range in 2023-01-01:2023-01-31 2023-01-01:2024-01-01; do
  id="bench-rss-${range//[:-]/}-$$"
  out=$(bench_loader "$id" BTCUSDT api_candles_1m "$range" 127.0.0.1:9400 2000000000 /usr/bin/time -v 2>&1)
  rss=$(echo "$out" | awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}')
  wall=$(echo "$out" | awk -F': ' '/Elapsed \(wall clock\)/ {print $2}')
  echo "range $range: peak RSS ${rss} KiB, wall $wall"
done
